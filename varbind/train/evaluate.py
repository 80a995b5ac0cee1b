"""Held-out metrics of trained (or published) models, scored through :func:`varbind.predict.score`.

ChIP-seq and SELEX: AUC. PBM: Pearson on the raw intensities (the primary figure, DREAM5's), Pearson on
``log`` intensities, Spearman, and AUC with DREAM5's positives.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..bank import ModelBank
from ..params import DeepBindParams
from ..predict import score
from ..sequence import CodeBatch
from .datasets import Task
from .metrics import auc, pbm_metrics, pearson, spearman

#: the primary test metric of each task source
PRIMARY = {"DREAM5 PBM": "pearson"}


def primary_metric(task: Task) -> str:
    """Name of the figure the catalogue reports for ``task`` (``auc`` or ``pearson``)."""
    return PRIMARY.get(task.source, "auc" if task.kind == "binary" else "pearson")


def heldout_scores(task: Task, params: Sequence[DeepBindParams], mode: str = "global",
                device: str | None = None) -> np.ndarray:
    """Scores ``(N_test, len(params))`` of the held-out set (``mode``: see :mod:`varbind.predict`)."""
    if task.test is None:
        raise ValueError(f"{task.experiment}: no held-out set")
    bank = ModelBank.from_params(list(params))
    return score(bank, CodeBatch(task.test.codes, task.test.lengths), mode=mode, device=device)


def heldout_metrics(task: Task, scores: np.ndarray) -> dict[str, float]:
    """Held-out metrics of one model's scores ``(N_test,)``."""
    if task.source == "DREAM5 PBM" and task.test_raw is not None:
        return pbm_metrics(task.test_raw, scores)
    if task.kind == "binary":
        return {"auc": auc(task.test.targets, scores)}
    return {"pearson": pearson(task.test.targets, scores), "spearman": spearman(task.test.targets, scores)}
