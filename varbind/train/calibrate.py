"""Calibration as in DeepBind: random search x k-fold cross-validation, then a final fit.

All settings x folds train at once as one :class:`~varbind.train.batched.BatchedDeepBind`; the
validation metric (AUC or Pearson) of every model is measured at ``num_checkpoints`` points. The best
setting maximises the mean-over-folds validation metric at some checkpoint; that checkpoint's step count
is the early-stopped training length of the final fit. Early stopping is real: when the best setting's
metric still peaks at one of the last ``patience`` checkpoints of the budget (a small data set, whose
``max_epochs`` budget ended while it was improving), calibration trains on in rounds of half the budget
until the peak lies behind it or ``max_steps`` is reached. The final fit which trains ``final_restarts`` random
initialisations of the chosen setting on all the training data (again as one batched model) and keeps
the one with the lowest training loss.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from torch.nn import functional as F

from ..params import DeepBindParams
from .batched import BatchedDeepBind, Setting
from .datasets import Examples
from .metrics import batched_auc, batched_pearson


@dataclass(frozen=True)
class SearchSpace:
    """Where the random search draws settings from (the paper's distributions, lightly narrowed).

    Learning rate, weight decay and initial scale are log-uniform in their ranges; momentum is uniform.
    """

    detector_lens: tuple[int, ...] = (16, 20, 24, 28, 32)
    avg_pooling: tuple[bool, ...] = (False, True)
    hidden: tuple[int, ...] = (0, 32)
    dropout_keep: tuple[float, ...] = (0.5, 0.75, 1.0)
    learning_rate: tuple[float, float] = (0.005, 0.25)
    momentum: tuple[float, float] = (0.9, 0.99)
    weight_decay: tuple[float, float] = (1e-10, 1e-3)
    init_scale: tuple[float, float] = (0.01, 0.15)
    log_target: tuple[bool, ...] = (False,)


@dataclass
class TrainOptions:
    """How much to train. Steps are ``max_epochs`` passes of the data, clipped to ``[min_steps, max_steps]``."""

    num_settings: int = 30
    num_folds: int = 3
    num_detectors: int = 16
    batch_size: int = 256
    max_epochs: float = 30.0
    min_steps: int = 1000
    max_steps: int = 4000
    num_checkpoints: int = 20
    patience: int = 2
    eval_examples: int = 12000
    final_restarts: int = 4
    reverse_complement: bool = True
    seed: int = 0
    device: str | None = None
    mixed_precision: bool = True
    progress: bool = False
    space: SearchSpace = field(default_factory=SearchSpace)


class Calibration(NamedTuple):
    """``curves`` (settings, folds, checkpoints): validation metric; ``steps`` (checkpoints,)."""

    settings: list[Setting]
    curves: np.ndarray
    steps: np.ndarray
    best: int
    best_checkpoint: int
    seconds: float


class TrainResult(NamedTuple):
    """The final model, its setting, the calibration behind it and timings (seconds)."""

    params: DeepBindParams
    setting: Setting
    calibration: Calibration
    final_steps: int
    final_losses: np.ndarray
    seconds: dict


def sample_settings(n: int, space: SearchSpace, rng: np.random.Generator) -> list[Setting]:
    """``n`` random settings from ``space``.

    Examples
    --------
    >>> s = sample_settings(3, SearchSpace(detector_lens=(8,)), np.random.default_rng(0))
    >>> [x.detector_len for x in s]
    [8, 8, 8]
    """
    logu = lambda lo, hi: float(math.exp(rng.uniform(math.log(lo), math.log(hi))))  # noqa: E731
    return [
        Setting(
            detector_len=int(rng.choice(space.detector_lens)),
            has_avg_pooling=bool(rng.choice(space.avg_pooling)),
            num_hidden=int(rng.choice(space.hidden)),
            dropout_keep=float(rng.choice(space.dropout_keep)),
            learning_rate=logu(*space.learning_rate),
            momentum=float(rng.uniform(*space.momentum)),
            weight_decay=logu(*space.weight_decay),
            init_scale=logu(*space.init_scale),
            log_target=bool(rng.choice(space.log_target)),
        )
        for _ in range(n)
    ]


def _device(name: str | None) -> torch.device:
    from ..device import resolve

    return resolve(name)


def _to_device(ex: Examples, kind: str, dev: torch.device) -> dict[str, torch.Tensor]:
    y = ex.targets.astype(np.float64)
    if kind == "regression":
        std = lambda v: (v - v.mean()) / (v.std() or 1.0)  # noqa: E731
        y = std(y)
        y = np.stack([y, std(np.log1p(y - y.min()))], axis=1)  # column 1: the log_target transform
    else:
        y = np.stack([y, y], axis=1)
    return {
        "codes": torch.from_numpy(ex.codes).to(dev),
        "rev": torch.from_numpy(ex.rev_codes).to(dev),
        "lengths": torch.from_numpy(ex.lengths).to(dev),
        "y": torch.from_numpy(y.astype(np.float32)).to(dev),
    }


def _losses(kind: str, scores: torch.Tensor, y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-example, per-model losses ``(B, K)``; ``y`` is ``(B, 2)``, ``target`` the column of each model."""
    yk = y[:, target]
    if kind == "binary":
        return F.binary_cross_entropy_with_logits(scores, yk, reduction="none")
    return (scores - yk) ** 2


def _autocast(dev: torch.device, opts: TrainOptions):
    """bfloat16 autocast on CUDA (halves the memory traffic of the big convolution output)."""
    return torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda" and opts.mixed_precision)


@torch.no_grad()
def _score_all(net: BatchedDeepBind, data: dict, idx: torch.Tensor, opts: TrainOptions,
               chunk: int = 2048) -> torch.Tensor:
    net.eval()
    with _autocast(idx.device, opts):
        out = torch.cat([net(data["codes"][i], data["rev"][i], data["lengths"][i]).float()
                         for i in idx.split(chunk)])
    net.train()
    return out


def _fit(net: BatchedDeepBind, data: dict, kind: str, model_fold: torch.Tensor, fold: torch.Tensor,
         steps: int, opts: TrainOptions, gen: torch.Generator, on_checkpoint=None, label: str = "",
         every: int = 0, start: int = 0) -> None:
    """Train ``net`` for steps ``start+1 .. steps``; model k ignores examples whose fold is ``model_fold[k]``.

    ``on_checkpoint(step)`` runs every ``every`` steps (default: ``num_checkpoints`` times over ``steps``).
    """
    n = len(data["y"])
    every = every or max(1, steps // max(1, opts.num_checkpoints))
    perm, pos = torch.randperm(n, generator=gen, device=gen.device), 0
    bar = _bar(steps - start, opts.progress, label)
    net.train()
    for step in range(start + 1, steps + 1):
        if pos + opts.batch_size > n:
            perm, pos = torch.randperm(n, generator=gen, device=gen.device), 0
        idx = perm[pos : pos + opts.batch_size]
        pos += opts.batch_size
        with _autocast(idx.device, opts):
            scores = net(data["codes"][idx], data["rev"][idx], data["lengths"][idx]).float()
        w = (fold[idx][:, None] != model_fold[None, :]).float()
        loss = (_losses(kind, scores, data["y"][idx], net.target) * w).sum(0) / w.sum(0).clamp(min=1)
        loss.sum().backward()
        net.sgd_step()
        if bar is not None:
            bar.update(1)
        if on_checkpoint is not None and step % every == 0:
            on_checkpoint(step)
    if bar is not None:
        bar.close()


def _bar(total: int, enabled: bool, label: str):
    """Steps done: a bar on a terminal, a log line every 30 s otherwise (see :mod:`varbind.progress`)."""
    if not enabled:
        return None
    from ..progress import Progress

    return Progress(label or "train", total, "step")


@contextlib.contextmanager
def _seeded(seed: int, dev: torch.device):
    """Seed torch's global generators (dropout draws from them) without disturbing the caller's."""
    with torch.random.fork_rng(devices=[dev.index or 0] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


def _num_steps(n: int, opts: TrainOptions) -> int:
    return int(min(opts.max_steps, max(opts.min_steps, round(opts.max_epochs * n / opts.batch_size))))


def best_checkpoint(curves: np.ndarray, steps: np.ndarray, min_steps: int) -> tuple[int, int]:
    """The best (setting, checkpoint) of ``curves`` (settings, folds, checkpoints) by mean-over-folds
    metric, among checkpoints of at least ``min_steps`` steps (all of them when none is that long), so
    that early stopping never trains the final model for fewer than ``--min-steps`` steps.

    Examples
    --------
    >>> c = np.array([[[0.9, 0.8, 0.7]]])          # one setting, one fold, peak at the first checkpoint
    >>> best_checkpoint(c, np.array([5, 10, 15]), 1), best_checkpoint(c, np.array([5, 10, 15]), 10)
    ((0, 0), (0, 1))
    """
    mean = np.nan_to_num(curves.mean(1), nan=-np.inf)
    eligible = steps >= min(min_steps, int(steps.max()))
    mean[:, ~eligible] = -np.inf
    best, best_c = np.unravel_index(int(np.argmax(mean)), mean.shape)
    return int(best), int(best_c)


def calibrate(train: Examples, kind: str, opts: TrainOptions) -> Calibration:
    """Random search x ``num_folds``-fold cross-validation, all in one batched model."""
    t0 = time.perf_counter()
    dev = _device(opts.device)
    rng = np.random.default_rng(opts.seed)
    settings = sample_settings(opts.num_settings, opts.space, rng)
    nf, n = opts.num_folds, len(train.targets)
    data = _to_device(train, kind, dev)
    fold = torch.from_numpy(rng.permutation(n) % nf).to(dev)
    pool = torch.from_numpy(np.sort(rng.permutation(n)[: opts.eval_examples])).to(dev)
    net = BatchedDeepBind([s for s in settings for _ in range(nf)], opts.num_detectors,
                          opts.reverse_complement, seed=opts.seed).to(dev)
    model_fold = torch.arange(nf, device=dev).repeat(len(settings))
    gen = torch.Generator(device=dev).manual_seed(opts.seed)
    metric = batched_auc if kind == "binary" else batched_pearson
    curves: list[torch.Tensor] = []
    steps_at: list[int] = []

    def checkpoint(step: int) -> None:
        scores = _score_all(net, data, pool, opts)
        vals = torch.empty(len(net), device=dev)
        pool_fold = fold[pool]
        for f in range(nf):
            sel, models = pool_fold == f, model_fold == f
            vals[models] = metric(data["y"][pool][sel][:, 0], scores[sel][:, models])
        curves.append(vals)
        steps_at.append(step)

    budget = _num_steps(n, opts)
    every = max(1, budget // max(1, opts.num_checkpoints))
    grow = every * max(1, opts.num_checkpoints // 2)
    done, target = 0, min(every * opts.num_checkpoints, max(budget, every))  # never past the budget
    with _seeded(opts.seed, dev):
        while True:
            _fit(net, data, kind, model_fold, fold, target, opts, gen, checkpoint, "calibration", every, done)
            done = target
            curve = torch.stack(curves, 1).reshape(len(settings), nf, -1).cpu().numpy()
            best, best_c = best_checkpoint(curve, np.array(steps_at), opts.min_steps)
            if best_c < len(steps_at) - opts.patience or done + grow > opts.max_steps:
                break
            target = done + grow  # still improving at the end of the budget: train on
    return Calibration(settings, curve, np.array(steps_at), int(best), int(best_c), time.perf_counter() - t0)


def final_fit(train: Examples, kind: str, setting: Setting, steps: int, opts: TrainOptions
              ) -> tuple[DeepBindParams, np.ndarray]:
    """Train ``final_restarts`` initialisations of ``setting`` on all of ``train``; keep the lowest loss."""
    dev = _device(opts.device)
    data = _to_device(train, kind, dev)
    r = max(1, opts.final_restarts)
    net = BatchedDeepBind([setting] * r, opts.num_detectors, opts.reverse_complement, seed=opts.seed + 1).to(dev)
    n = len(train.targets)
    no_fold = torch.full((r,), -1, device=dev)
    fold = torch.zeros(n, dtype=torch.long, device=dev)
    gen = torch.Generator(device=dev).manual_seed(opts.seed + 1)
    with _seeded(opts.seed + 1, dev):
        _fit(net, data, kind, no_fold, fold, steps, opts, gen, label="final fit")
    rng = np.random.default_rng(opts.seed + 1)
    pool = torch.from_numpy(np.sort(rng.permutation(n)[: opts.eval_examples])).to(dev)
    scores = _score_all(net, data, pool, opts)
    losses = torch.nan_to_num(_losses(kind, scores, data["y"][pool], net.target).mean(0), nan=math.inf).cpu().numpy()
    return net.to_params(int(np.argmin(losses))), losses


def train(train_set: Examples, kind: str, opts: TrainOptions | None = None) -> TrainResult:
    """Calibrate, then fit the chosen setting on all the training data.

    Parameters
    ----------
    train_set : Examples
    kind : {"binary", "regression"}
    opts : TrainOptions, optional

    Returns
    -------
    TrainResult
    """
    opts = opts or TrainOptions()
    if kind not in ("binary", "regression"):
        raise ValueError(f"kind must be 'binary' or 'regression', not {kind!r}")
    cal = calibrate(train_set, kind, opts)
    setting = cal.settings[cal.best]
    steps = int(cal.steps[cal.best_checkpoint])
    t0 = time.perf_counter()
    params, losses = final_fit(train_set, kind, setting, steps, opts)
    if _device(opts.device).type == "cuda":
        torch.cuda.synchronize()
    seconds = {"calibration": cal.seconds, "final_fit": time.perf_counter() - t0}
    return TrainResult(params, setting, cal, steps, losses, seconds)


#: search spaces and step budgets per kind of data (``varbind train chip|pbm|selex``)
KIND_SPACES = {
    "chip": SearchSpace(detector_lens=(10, 12, 14, 16, 20, 24, 28, 32)),
    "pbm": SearchSpace(detector_lens=(8, 12, 16, 20, 24), log_target=(False, True)),
    "selex": SearchSpace(detector_lens=(8, 10, 12, 16, 20)),
    "user": SearchSpace(),
}


def options_for(kind: str, **overrides) -> TrainOptions:
    """Default :class:`TrainOptions` for ``chip``, ``pbm``, ``selex`` or ``user`` data, with overrides.

    Examples
    --------
    >>> options_for("pbm", num_settings=4).space.detector_lens
    (8, 12, 16, 20, 24)
    """
    return TrainOptions(**{"space": KIND_SPACES[kind], **overrides})
