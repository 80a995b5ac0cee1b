"""Checks of a training run a user should not have to think of: a model ID that is not already taken,
and a held-out or validation figure that says the model is worse than chance.
"""
from __future__ import annotations

import logging

log = logging.getLogger("varbind")

#: prefix of the default ID of a model trained with ``varbind train`` (``vbt_`` is the shipped models')
USER_PREFIX = "my"


def installed_ids() -> set[str]:
    """Model IDs of every installed panel (shipped ones and those in the user's data folder)."""
    from ..panels import sources as pretrained

    taken: set[str] = set()
    for name in pretrained.panels():
        try:
            taken.update(pretrained.load_catalogue(name)[1]["id"].astype(str))
        except Exception as e:  # noqa: BLE001 - a broken panel must not stop a training run
            log.debug("cannot read panel %s: %s", name, e)
    return taken


def default_model_id(kind: str, tf: str, taken: set[str] | None = None) -> str:
    """``my_<kind>_<TF>``, with ``_2``, ``_3`` ... appended while it is the ID of an installed model.

    Examples
    --------
    >>> default_model_id("chip", "MYC", set()), default_model_id("chip", "MYC", {"my_chip_MYC"})
    ('my_chip_MYC', 'my_chip_MYC_2')
    """
    taken = installed_ids() if taken is None else taken
    base = f"{USER_PREFIX}_{kind}_{tf}"
    mid, k = base, 1
    while mid in taken:
        k += 1
        mid = f"{base}_{k}"
    return mid


def warn_if_taken(mid: str, taken: set[str] | None = None) -> bool:
    """Warn when an ``--id`` given by the user is also an installed model's ID; True when it is."""
    taken = installed_ids() if taken is None else taken
    if mid in taken:
        log.warning("model ID %s is also the ID of an installed model: results and figures that name the "
                    "model by ID will not tell them apart (choose another --id)", mid)
        return True
    return False


def chance_warnings(metric: str, value: float, where: str) -> list[str]:
    """Warnings for an AUC below 0.5 (worse than chance) or a Pearson r <= 0 (``where``: what was scored).

    Examples
    --------
    >>> chance_warnings("auc", 0.31, "held-out")[0][:45]
    'held-out AUC 0.3100 is below 0.5 (worse than '
    >>> chance_warnings("auc", 0.8, "held-out")
    []
    """
    if metric == "auc" and value < 0.5:
        return [f"{where} AUC {value:.4f} is below 0.5 (worse than chance): are positives and negatives "
                "swapped (labels, or the early/late SELEX files), or did the model not learn (more --max-steps)?"]
    if metric in ("pearson", "spearman") and value <= 0:
        return [f"{where} {metric} {value:.4f} is not positive: the model does not rank the targets"]
    return []
