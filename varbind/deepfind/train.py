"""Training and evaluation of DeepFind classifiers (see :mod:`varbind.deepfind.model`).

The split is by chromosome, never by row (:func:`varbind.deepfind.data.split_by_chromosome`):
chr8, chr9, chr10 are held out for the test, chr7 is the validation set (early stopping), the rest
trains. Class imbalance (about 6.5 derived per usable simulated SNV) is handled by weighting the
positives by ``n_neg / n_pos`` of the training set (MLP: ``pos_weight`` of the loss; LightGBM:
``scale_pos_weight``). Everything is seeded: the same inputs and seed give the same model.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(400, 6)).astype(np.float32); y = (X[:, 0] + rng.normal(size=400) > 1).astype(int)
>>> cfg = DeepFindConfig("mlp", "scores", [], "", n_features=6, hidden=[8])
>>> model, info = train_mlp(X[:300], y[:300], X[300:], y[300:], cfg, max_epochs=5, batch_size=32)
>>> auc(y[300:], model.predict_proba(X[300:])) > 0.8
True
"""
from __future__ import annotations

import copy
import time

import numpy as np
import torch

from .model import MLP, DeepFindConfig, DeepFindModel
from ..train.metrics import auc


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    y = np.asarray(y)
    return float(average_precision_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


def positive_weight(y: np.ndarray) -> float:
    """``n_neg / n_pos``: the weight that balances the two classes."""
    y = np.asarray(y)
    return float((y == 0).sum() / max((y == 1).sum(), 1))


def train_mlp(X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, config: DeepFindConfig, *,
              lr: float = 1e-3, weight_decay: float = 1e-4, batch_size: int = 256, max_epochs: int = 40,
              patience: int = 6, device: str | torch.device | None = None) -> tuple[DeepFindModel, dict]:
    """Train the MLP with early stopping on validation AUC; returns the best epoch's model and a record.

    Inputs are standardised with the training set's mean and standard deviation (stored in the
    model). Deterministic for a given ``config.seed`` on a given device.
    """
    from ..device import resolve

    device = resolve(device)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    mlp = MLP(X.shape[1], tuple(config.hidden), config.dropout)
    mean, std = X.mean(0, dtype=np.float64), X.std(0, dtype=np.float64)
    mlp.mean.copy_(torch.from_numpy(mean.astype(np.float32)))
    mlp.std.copy_(torch.from_numpy(np.where(std > 1e-6, std, 1.0).astype(np.float32)))
    mlp.to(device)
    Xt, yt = torch.from_numpy(np.asarray(X, np.float32)).to(device), torch.from_numpy(np.asarray(y, np.float32)).to(device)
    w = positive_weight(y)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w, device=device))
    opt = torch.optim.Adam(mlp.parameters(), lr=lr, weight_decay=weight_decay)
    model = DeepFindModel(config, mlp=mlp)
    best, best_state, best_epoch, history, t0 = -1.0, None, 0, [], time.time()
    for epoch in range(1, max_epochs + 1):
        mlp.train()
        order = torch.randperm(len(Xt), generator=gen).to(device)
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(mlp(Xt[idx]), yt[idx]).backward()
            opt.step()
        val = auc(y_val, model.predict_proba(X_val))
        history.append(round(val, 5))
        if val > best:
            best, best_state, best_epoch = val, copy.deepcopy(mlp.state_dict()), epoch
        elif epoch - best_epoch >= patience:
            break
    mlp.load_state_dict(best_state)
    mlp.eval()
    return model, {"pos_weight": w, "best_epoch": best_epoch, "val_auc_history": history,
                   "seconds": round(time.time() - t0, 1)}


def train_mlp_ensemble(X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
                       config: DeepFindConfig, *, members: int = 5, device: str | torch.device | None = None,
                       first: tuple[DeepFindModel, dict] | None = None, **options) -> tuple[DeepFindModel, dict]:
    """``members`` MLPs (seeds ``config.seed``, ``+1``, ...) merged into one MLP that averages their logits.

    Each member is trained and early-stopped as :func:`train_mlp` does (``first``: the seed
    ``config.seed`` member and its record, when the caller has already trained it); the merged model
    (:meth:`MLP.merge`) is an ordinary MLP of ``members`` times the width, saved and loaded as one.
    Seed ensembles of the same setting lower the variance of a single training run (about +0.005
    validation AUC on the DeepFind data).
    """
    if members <= 1:
        return first or train_mlp(X, y, X_val, y_val, config, device=device, **options)
    trained = [first] if first else []
    for i in range(len(trained), members):
        c = copy.deepcopy(config)
        c.seed = config.seed + i
        trained.append(train_mlp(X, y, X_val, y_val, c, device=device, **options))
    seeds = [config.seed + i for i in range(members)]
    cfg = copy.deepcopy(config)
    cfg.hidden = [h * members for h in config.hidden]
    cfg.ensemble = {"members": members, "member_hidden": list(config.hidden), "seeds": seeds}
    model = DeepFindModel(cfg, mlp=MLP.merge([m.mlp.cpu() for m, _ in trained]))
    return model, {"pos_weight": trained[0][1]["pos_weight"], "members": [
        {"seed": seed, "best_epoch": info["best_epoch"], "val_auc": max(info["val_auc_history"]),
         "seconds": info["seconds"]} for seed, (_, info) in zip(seeds, trained)],
        "ensemble_val_auc": round(auc(y_val, model.predict_proba(X_val)), 5),
        "seconds": round(sum(info["seconds"] for _, info in trained), 1)}


def train_lightgbm(X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, config: DeepFindConfig, *,
                   num_boost_round: int = 400, learning_rate: float = 0.05, num_leaves: int = 31,
                   early_stopping: int = 40, num_threads: int = 0) -> tuple[DeepFindModel, dict]:
    """Train the LightGBM baseline with early stopping on validation AUC (deterministic for a seed)."""
    import lightgbm as lgb

    w = positive_weight(y)
    params = {
        "objective": "binary", "metric": "auc", "learning_rate": learning_rate, "num_leaves": num_leaves,
        "min_data_in_leaf": 40, "feature_fraction": 0.3, "bagging_fraction": 0.8, "bagging_freq": 1,
        "lambda_l2": 1.0, "scale_pos_weight": w, "seed": config.seed, "deterministic": True,
        "force_col_wise": True, "num_threads": num_threads, "verbosity": -1,
    }
    t0 = time.time()
    train = lgb.Dataset(np.asarray(X, np.float32), label=np.asarray(y), free_raw_data=True)
    val = lgb.Dataset(np.asarray(X_val, np.float32), label=np.asarray(y_val), reference=train)
    booster = lgb.train(params, train, num_boost_round=num_boost_round, valid_sets=[val],
                        callbacks=[lgb.early_stopping(early_stopping, verbose=False)])
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))
    return DeepFindModel(config, booster=booster), {
        "scale_pos_weight": w, "best_iteration": int(booster.current_iteration()),
        "params": {k: v for k, v in params.items() if k not in ("num_threads", "verbosity")},
        "seconds": round(time.time() - t0, 1)}


def evaluate(model: DeepFindModel, X: np.ndarray, y: np.ndarray, chrom: np.ndarray | None = None) -> dict:
    """AUC and average precision of ``model`` on ``(X, y)``; per chromosome too when ``chrom`` is given."""
    p = model.predict_proba(X)
    out = {"auc": round(auc(y, p), 4), "average_precision": round(average_precision(y, p), 4),
           "n_pos": int((y == 1).sum()), "n_neg": int((y == 0).sum())}
    if chrom is not None:
        out["auc_by_chrom"] = {str(c): round(auc(y[chrom == c], p[chrom == c]), 4) for c in np.unique(chrom)}
    return out


def run_training(data, ref: np.ndarray, alt: np.ndarray, *, model_ids: list[str], panel_sha256: str, panel: str,
                 weights_sha256: str = "",
                 classifiers: tuple[str, ...] = ("mlp", "lightgbm"),
                 feature_sets: tuple[str, ...] = ("scores", "scores+tss+tv"), seed: int = 0,
                 device: str | None = None, mlp_options: dict | None = None,
                 lightgbm_options: dict | None = None, log=None) -> tuple[dict, dict]:
    """Train every classifier on every feature set; returns (metrics, models by ``(kind, feature_set)``).

    Parameters
    ----------
    data : DeepFindData
        The labelled variants (``variants.split`` says train / val / test).
    ref, alt : ndarray (N, M)
        The panel's scores of the reference and alternative windows.
    """
    from .model import feature_matrix

    v = data.variants
    y, split, chrom = v["label"].to_numpy(), v["split"].to_numpy(), v["chrom"].to_numpy()
    parts = {s: split == s for s in ("train", "val", "test")}
    metrics: dict = {
        "panel": panel, "n_models": len(model_ids), "panel_sha256": panel_sha256, "seed": seed,
        "counts": data.counts,
        "splits": {s: {"chromosomes": sorted(set(chrom[m]), key=_chrom_key), "pos": int(y[m].sum()),
                       "neg": int((y[m] == 0).sum())} for s, m in parts.items()},
        "class_weight": {"positive_weight": positive_weight(y[parts["train"]]),
                         "note": "positives weighted by n_neg/n_pos of the training set"},
        "single_feature_test_auc": {
            "tss_distance (closer = deleterious)": round(auc(y[parts["test"]], -data.tss_distance[parts["test"]]), 4),
            "transversion": round(auc(y[parts["test"]], data.transversion[parts["test"]].astype(float)), 4)},
        "results": [],
    }
    models = {}
    for feature_set in feature_sets:
        X = feature_matrix(ref, alt, data.tss_distance, data.transversion, feature_set)
        for kind in classifiers:
            cfg = DeepFindConfig(kind, feature_set, list(model_ids), panel_sha256, panel=panel,
                                 n_features=X.shape[1], seed=seed, weights_sha256=weights_sha256)
            tr, va, te = parts["train"], parts["val"], parts["test"]
            if kind == "mlp":
                model, info = _train_mlp_grid(X, y, parts, cfg, device, dict(mlp_options or {}))
            else:
                model, info = train_lightgbm(X[tr], y[tr], X[va], y[va], cfg, **(lightgbm_options or {}))
            result = {"classifier": kind, "feature_set": feature_set, "val": evaluate(model, X[va], y[va]),
                      "test": evaluate(model, X[te], y[te], chrom[te]), "training": info}
            model.config.training = {k: result[k] for k in ("val", "test", "training")}
            if log:
                log(f"{kind:9s} {feature_set:14s} val AUC {result['val']['auc']:.4f}  test AUC {result['test']['auc']:.4f}")
            metrics["results"].append(result)
            models[(kind, feature_set)] = model
    return metrics, models


def _train_mlp_grid(X, y, parts, cfg: DeepFindConfig, device, options: dict):
    """Train one MLP per ``options["grid"]`` entry (hidden, dropout, weight_decay); keep the best on validation.

    With ``options["ensemble"] = k > 1`` the chosen entry is then trained ``k`` times (seeds ``seed`` ..
    ``seed + k - 1``) and the members merged into one MLP (:func:`train_mlp_ensemble`).
    """
    grid = options.pop("grid", None) or [{}]
    ensemble = int(options.pop("ensemble", 1) or 1)
    tr, va = parts["train"], parts["val"]
    best = None
    tried = []
    for entry in grid:
        c = copy.deepcopy(cfg)
        c.hidden = list(entry.get("hidden", c.hidden))
        c.dropout = float(entry.get("dropout", c.dropout))
        extra = {k: v for k, v in entry.items() if k not in ("hidden", "dropout")}
        model, info = train_mlp(X[tr], y[tr], X[va], y[va], c, device=device, **{**options, **extra})
        val = max(info["val_auc_history"])
        tried.append({**entry, "val_auc": val, "best_epoch": info["best_epoch"], "seconds": info["seconds"]})
        if best is None or val > best[2]:
            best = (model, info, val, extra)
    model, info, _, extra = best
    # the grid's model is the ensemble's first member (seed ``cfg.seed``): trained once
    model, info = train_mlp_ensemble(X[tr], y[tr], X[va], y[va], model.config, members=ensemble, device=device,
                                     first=(model, info), **{**options, **extra})
    if len(grid) > 1:
        info["grid"] = tried
    return model, info


def _chrom_key(c: str):
    return (0, int(c)) if str(c).isdigit() else (1, str(c))


def results_table(metrics: dict) -> str:
    """The held-out results as a markdown table."""
    rows = ["| panel | classifier | features | val AUC (chr7) | test AUC (chr8-10) | test AP |", "|---|---|---|---|---|---|"]
    for r in metrics["results"]:
        rows.append(f"| {metrics['panel']} ({metrics['n_models']} models) | {r['classifier']} | {r['feature_set']} | "
                    f"{r['val']['auc']:.4f} | {r['test']['auc']:.4f} | {r['test']['average_precision']:.4f} |")
    return "\n".join(rows)
