"""DeepFind: a deleterious-variant classifier on a panel's scores (Alipanahi et al. 2015).

Features of an SNV (see :mod:`varbind.deepfind.data` for the data):

* the panel's scores of the 51-bp reference window centred on it and of the same window with the
  centre base replaced (global mode, through :func:`varbind.predict.score_edits`, the one scoring
  path); the classifier sees them as ``ref`` and ``alt - ref`` (the same information, easier for
  trees);
* with ``feature_set="scores+tss+tv"``: ``log10(1 + distance to the nearest TSS)`` and the
  transversion flag.

Two classifiers: ``"mlp"`` (a torch MLP, the paper's DeepFind) and ``"lightgbm"`` (a gradient
boosting baseline). Training lives in :mod:`varbind.deepfind.train`. A trained model is a folder:
``config.json`` (kind, feature set, the panel's model IDs and sha256, training record) plus
``mlp.safetensors`` or ``lightgbm.txt`` (LightGBM's own text format); never a pickle.

Examples
--------
>>> from varbind.bank import ModelBank
>>> from varbind.params import random_params
>>> bank = ModelBank.from_params([random_params(detector_len=6, seed=s) for s in range(3)], ["a", "b", "c"])
>>> windows = np.random.default_rng(0).integers(0, 4, size=(5, 51)).astype(np.uint8)
>>> f = panel_features(bank, windows, alt_codes=(windows[:, 25] + 1) % 4)
>>> f.ref.shape, f.alt.shape
((5, 3), (5, 3))
>>> feature_matrix(f.ref, f.alt, np.array([0, 9, 99, 999, 9999]), np.zeros(5, bool), "scores+tss+tv").shape
(5, 8)
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import predict
from ..bank import ModelBank
from ..panels.bundle import models_sha256, panel_weights_sha256
from .data import CENTER, WINDOW
from ..errors import ModelSourceError
from ..sequence import CodeBatch

FEATURE_SETS = ("scores", "scores+tss+tv")
KINDS = ("mlp", "lightgbm")
FORMAT = "varbind-deepfind"
FORMAT_VERSION = 1


def panel_features(bank: ModelBank, windows: np.ndarray | CodeBatch, alt_codes: np.ndarray, *,
                   center: int = CENTER, device: str | torch.device | None = None,
                   batch_size: int | None = None, progress: bool = False) -> predict.EditScores:
    """Panel scores of reference windows and of the same windows with one base replaced.

    Parameters
    ----------
    bank : ModelBank
    windows : ndarray (N, L) uint8 or CodeBatch
        Reference window codes.
    alt_codes : ndarray (N,) uint8
        The new base of each window at ``center``.

    Returns
    -------
    EditScores
        ``ref`` and ``alt``, both ``(N, len(bank))`` float32 (global mode, strand merge max).
    """
    refs = windows if isinstance(windows, CodeBatch) else CodeBatch(
        np.ascontiguousarray(windows, dtype=np.uint8), np.full(len(windows), windows.shape[1], np.int64))
    n = len(refs.lengths)
    edits = predict.Edits(np.arange(n, dtype=np.int64), np.full(n, center, np.int64),
                          np.asarray(alt_codes, np.uint8).reshape(n, 1), np.ones(n, np.int64))
    return predict.score_edits(bank, refs, edits, device=device, batch_size=batch_size, progress=progress)


def feature_matrix(ref: np.ndarray, alt: np.ndarray, tss_distance: np.ndarray, transversion: np.ndarray,
                   feature_set: str) -> np.ndarray:
    """The classifier's input ``(N, 2M)`` or ``(N, 2M + 2)`` float32: ``ref, alt - ref[, tss, tv]``.

    ``tss`` is ``log10(1 + distance)``; a missing distance (-1) becomes the largest seen, 1e6. With
    ``ref``/``alt`` torch tensors (scores left on a GPU) the matrix is a tensor on their device, the
    same numbers.
    """
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"feature_set must be one of {FEATURE_SETS}, not {feature_set!r}")
    on = isinstance(ref, torch.Tensor)
    if not on:
        ref, alt = np.asarray(ref, np.float32), np.asarray(alt, np.float32)
    cols = [ref, alt - ref]
    if feature_set == "scores+tss+tv":
        d = np.asarray(tss_distance, np.float64)
        d = np.where(d < 0, 1e6, d)
        extra = [np.log10(1.0 + d)[:, None].astype(np.float32), np.asarray(transversion, np.float32)[:, None]]
        cols += [torch.from_numpy(x).to(ref.device) for x in extra] if on else extra
    return torch.cat(cols, 1) if on else np.concatenate(cols, axis=1)


class MLP(nn.Module):
    """Standardise -> [Linear -> ReLU -> Dropout] x len(hidden) -> Linear -> logit."""

    def __init__(self, n_in: int, hidden: tuple[int, ...] = (256, 64), dropout: float = 0.3):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_in))
        self.register_buffer("std", torch.ones(n_in))
        layers: list[nn.Module] = []
        for h in hidden:
            layers += [nn.Linear(n_in, h), nn.ReLU(), nn.Dropout(dropout)]
            n_in = h
        layers.append(nn.Linear(n_in, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)[:, 0]

    @classmethod
    def merge(cls, members: list["MLP"]) -> "MLP":
        """One MLP whose logit is the mean of ``members``' logits (same inputs and standardisation).

        The members' layers are stacked side by side (first layer), block-diagonally (hidden layers)
        and averaged (output), so the ensemble is an ordinary :class:`MLP` of ``k`` times the width.
        """
        first = members[0]
        for m in members[1:]:
            if not (torch.equal(m.mean, first.mean) and torch.equal(m.std, first.std)):
                raise ValueError("MLP.merge: members must share their input standardisation")
        layers = [[m for m in member.net if isinstance(m, nn.Linear)] for member in members]
        hidden = tuple(sum(ls[i].out_features for ls in layers) for i in range(len(layers[0]) - 1))
        dropout = next((m.p for m in first.net if isinstance(m, nn.Dropout)), 0.0)
        out = cls(first.mean.numel(), hidden, dropout)
        merged = [m for m in out.net if isinstance(m, nn.Linear)]
        k = len(members)
        with torch.no_grad():
            out.mean.copy_(first.mean)
            out.std.copy_(first.std)
            for i, target in enumerate(merged):
                ws, bs = [ls[i].weight for ls in layers], [ls[i].bias for ls in layers]
                if i == 0:
                    target.weight.copy_(torch.cat(ws, 0))
                    target.bias.copy_(torch.cat(bs))
                elif i < len(merged) - 1:
                    target.weight.copy_(torch.block_diag(*ws))
                    target.bias.copy_(torch.cat(bs))
                else:
                    target.weight.copy_(torch.cat(ws, 1) / k)
                    target.bias.copy_(torch.stack(bs).mean(0))
        return out.eval()


@dataclass
class DeepFindConfig:
    """Everything but the weights; saved as ``config.json``."""

    kind: str
    feature_set: str
    model_ids: list[str]
    panel_sha256: str
    panel: str = ""
    n_features: int = 0
    hidden: list[int] = field(default_factory=lambda: [256, 64])
    dropout: float = 0.3
    window: int = WINDOW
    mode: str = "global"
    strand_merge: str = "max"
    seed: int = 0
    training: dict = field(default_factory=dict)
    ensemble: dict = field(default_factory=dict)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    #: :func:`varbind.panels.bundle.panel_weights_sha256` of the models (fast to check on every load;
    #: configs without it are checked by ``panel_sha256``, the slower text hash)
    weights_sha256: str = ""


class DeepFindModel:
    """A trained DeepFind classifier: ``config`` plus an :class:`MLP` or a LightGBM booster.

    ``bank`` (the panel) is needed only by :meth:`predict_variants`; give it to :func:`load` or
    :meth:`attach`, or let :meth:`predict_variants` load the panel the model names
    (``config.panel``, through :func:`varbind.panels.sources.load_panel`).
    """

    def __init__(self, config: DeepFindConfig, mlp: MLP | None = None, booster=None, bank: ModelBank | None = None):
        self.config, self.mlp, self.booster, self.bank = config, mlp, booster, None
        if bank is not None:
            self.attach(bank)

    def __repr__(self) -> str:
        c = self.config
        return f"DeepFindModel({c.kind}, {c.feature_set}, panel={c.panel or '?'} ({len(c.model_ids)} models))"

    def attach(self, bank: ModelBank) -> DeepFindModel:
        """Use ``bank`` for :meth:`predict_variants`; its models must be those the model was trained on.

        Raises
        ------
        ModelSourceError
            When a model is missing or its weights differ (sha256).
        """
        missing = [i for i in self.config.model_ids if i not in set(bank.ids)]
        if missing:
            raise ModelSourceError(f"the panel lacks {len(missing)} of the DeepFind model's {len(self.config.model_ids)} "
                                   f"models (first: {missing[0]!r})")
        if list(bank.ids) != self.config.model_ids:
            bank = bank.select(self.config.model_ids)
        if self.config.weights_sha256:  # hashing the float32 buffers: milliseconds for 927 models
            same = panel_weights_sha256(bank.ids, bank.params) == self.config.weights_sha256
        else:  # hashing the models' parameter text: seconds
            same = models_sha256(bank.ids, bank.params) == self.config.panel_sha256
        if not same:
            raise ModelSourceError("the panel's model weights differ from those the DeepFind model was trained on "
                                   "(sha256 mismatch)")
        self.bank = bank
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability of being deleterious for feature rows ``(N, n_features)`` -> ``(N,)`` float64
        (``X`` a float32 array, or a tensor, e.g. on the GPU: :func:`feature_matrix` of scores there)."""
        if isinstance(X, torch.Tensor) and self.config.kind == "lightgbm":
            X = X.cpu().numpy()
        if not isinstance(X, torch.Tensor):
            X = np.asarray(X, np.float32)
        if X.ndim != 2 or X.shape[1] != self.config.n_features:
            raise ValueError(f"expected features (N, {self.config.n_features}), got {tuple(X.shape)}")
        if self.config.kind == "lightgbm":
            return np.asarray(self.booster.predict(X), np.float64)
        self.mlp.eval()
        device = next(self.mlp.parameters()).device
        out = []
        with torch.no_grad():
            for i in range(0, len(X), 65536):
                rows = X[i : i + 65536]
                rows = rows if isinstance(rows, torch.Tensor) else torch.from_numpy(rows)
                out.append(torch.sigmoid(self.mlp(rows.to(device))).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def predict_variants(self, ref_windows_51: CodeBatch, alt_windows_51: CodeBatch, tss_distance: np.ndarray,
                         transversion: np.ndarray, *, device: str | torch.device | None = None) -> np.ndarray:
        """Probabilities ``(N,)`` for variants given as 51-bp reference and alternative windows.

        The alternative window must have the reference's length; the bases where they differ
        are scored as one edit of the reference (:func:`varbind.predict.score_edits`).
        ``tss_distance`` in bases (-1: unknown); ``transversion`` bool.
        """
        if self.bank is None:
            self.attach(_load_panel_bank(self.config.panel))
        ref, alt = np.asarray(ref_windows_51.codes, np.uint8), np.asarray(alt_windows_51.codes, np.uint8)
        if ref.shape != alt.shape or ref.shape[1:] != (self.config.window,):
            raise ValueError(f"reference and alternative windows must both be (N, {self.config.window}); "
                             f"got {ref.shape} and {alt.shape}")
        diff = ref != alt
        first = np.where(diff.any(1), diff.argmax(1), CENTER)
        last = np.where(diff.any(1), ref.shape[1] - 1 - diff[:, ::-1].argmax(1), CENTER)
        k = int((last - first + 1).max()) if len(ref) else 1
        cols = np.minimum(first[:, None] + np.arange(k), ref.shape[1] - 1)  # past an edit's end: ignored
        codes = alt[np.arange(len(ref))[:, None], cols]
        edits = predict.Edits(np.arange(len(ref), dtype=np.int64), first.astype(np.int64), codes,
                              (last - first + 1).astype(np.int64))
        s = predict.score_edits(self.bank, CodeBatch(ref, np.full(len(ref), ref.shape[1], np.int64)), edits,
                                strand_merge=self.config.strand_merge, device=device)
        return score(self, s.ref, s.alt, tss_distance, transversion)


def _load_panel_bank(name: str) -> ModelBank:
    from ..panels import sources as pretrained

    if not name:
        raise ModelSourceError("this DeepFind model names no panel: load(path, bank=...) or attach(bank)")
    return pretrained.load_panel(name).bank


def model_folder(kind: str, feature_set: str) -> str:
    """Folder name of a shipped model: ``<kind>`` with every feature, ``<kind>-scores`` with scores only.

    Examples
    --------
    >>> model_folder("mlp", "scores+tss+tv"), model_folder("lightgbm", "scores")
    ('mlp', 'lightgbm-scores')
    """
    return kind if feature_set == FEATURE_SETS[-1] else f"{kind}-{feature_set.replace('+', '-')}"


def find_model(panel: str, kind: str = "mlp", feature_set: str = FEATURE_SETS[-1]) -> Path | None:
    """The shipped DeepFind model folder of a panel (``pretrained/deepfind/<panel>/<folder>``), or None.

    Examples
    --------
    >>> find_model("deepbind").parts[-3:]
    ('deepfind', 'deepbind', 'mlp')
    >>> find_model("no-such-panel") is None
    True
    """
    from ..panels.sources import shipped_dir

    folder = shipped_dir() / "deepfind" / panel / model_folder(kind, feature_set)
    return folder if (folder / "config.json").is_file() else None


def score(model: DeepFindModel, ref: np.ndarray, alt: np.ndarray, tss_distance: np.ndarray,
          transversion: np.ndarray) -> np.ndarray:
    """Probability ``(N,)`` that each variant is deleterious, from its panel scores ``ref``/``alt`` ``(N, M)``."""
    return model.predict_proba(feature_matrix(ref, alt, tss_distance, transversion, model.config.feature_set))


def save(model: DeepFindModel, path: str | os.PathLike) -> Path:
    """Write ``model`` into folder ``path``: ``config.json`` + ``mlp.safetensors`` or ``lightgbm.txt``."""
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    from .. import _fs

    if model.config.kind == "mlp":
        state = {k: v.detach().cpu().contiguous() for k, v in model.mlp.state_dict().items()}
        with _fs.atomic_path(path / "mlp.safetensors") as tmp:
            save_file(state, tmp)
            os.chmod(tmp, 0o644)  # safetensors creates it private
    else:
        _fs.write_text(path / "lightgbm.txt", model.booster.model_to_string())
    _fs.write_text(path / "config.json", json.dumps(asdict(model.config), indent=1) + "\n")
    return path


def load(path: str | os.PathLike, bank: ModelBank | None = None) -> DeepFindModel:
    """Read a model folder written by :func:`save` (optionally attaching its panel ``bank``).

    Raises
    ------
    ModelSourceError
        When the folder is not a DeepFind model or its files disagree.
    """
    path = Path(path)
    try:
        raw = json.loads((path / "config.json").read_text())
        config = DeepFindConfig(**raw)
    except (OSError, ValueError, TypeError) as e:
        raise ModelSourceError(f"{path}: not a DeepFind model folder (config.json): {e}") from None
    if config.format != FORMAT or config.kind not in KINDS or config.feature_set not in FEATURE_SETS:
        raise ModelSourceError(f"{path}: config.json is not a {FORMAT} config of a known kind and feature set")
    mlp = booster = None
    if config.kind == "mlp":
        from safetensors.torch import load_file

        try:
            state = load_file(str(path / "mlp.safetensors"))
            mlp = MLP(config.n_features, tuple(config.hidden), config.dropout)
            mlp.load_state_dict(state)
        except (OSError, RuntimeError) as e:
            raise ModelSourceError(f"{path}: mlp.safetensors does not match config.json: {e}") from None
        mlp.eval()
    else:
        import lightgbm

        try:
            booster = lightgbm.Booster(model_str=(path / "lightgbm.txt").read_text())
        except (OSError, lightgbm.basic.LightGBMError) as e:
            raise ModelSourceError(f"{path}: cannot read lightgbm.txt: {e}") from None
        if booster.num_feature() != config.n_features:
            raise ModelSourceError(f"{path}: lightgbm.txt has {booster.num_feature()} features, config {config.n_features}")
    return DeepFindModel(config, mlp=mlp, booster=booster, bank=bank)
