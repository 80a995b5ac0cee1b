"""Telling a mutation map's effects from float rounding.

Scores are float32 and a map's deltas come from a reference pass plus per-mutation updates
(:func:`varbind.predict.score_edits`), so a model that no substitution moves still shows deltas of
about ``1e-6`` of its score. Drawn on their own colour scale they look like effects. A model has
*no effect* in a map when every ``|delta|`` is at most :func:`noise_floor`: ``NOISE_REL`` of its
reference score's magnitude (at least ``NOISE_REL`` in absolute terms); figures draw such a model with
no letters, an empty (zero) heatmap and a "no effect" note, and never scale an axis to its deltas.
"""
from __future__ import annotations

import numpy as np

from .mutmap import MutationMap, importance, max_abs_delta

#: relative size of rounding noise in a map's deltas (fast path vs full passes agree within 1e-5)
NOISE_REL = 1e-4


def noise_floor(mm: MutationMap) -> np.ndarray:
    """Per model ``(M,)``: ``NOISE_REL * max(1, |ref|)``, the largest |delta| taken for rounding.

    Examples
    --------
    >>> d = np.zeros((2, 4, 1), np.float32); d[0, 1, 0] = 3e-6; d[1, 1, 0] = 0.2
    >>> mm = MutationMap("A", ["a", "b"], np.array([12.0, 0.5], np.float32), d, importance(d))
    >>> noise_floor(mm).round(6).tolist(), has_effect(mm).tolist()
    ([0.0012, 0.0001], [False, True])
    """
    return floor_of(mm.ref)


def floor_of(ref: np.ndarray) -> np.ndarray:
    """:func:`noise_floor` from reference scores ``(M,)``."""
    return NOISE_REL * np.maximum(1.0, np.abs(np.asarray(ref).astype(np.float64)))


def has_effect(mm: MutationMap) -> np.ndarray:
    """Per model ``(M,)`` bool: some substitution moves the score by more than :func:`noise_floor`."""
    return beyond_noise(max_abs_delta(mm), mm.ref)


def beyond_noise(max_abs: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """:func:`has_effect` from each model's largest |delta| and reference score (both ``(M,)``; see
    :func:`varbind.mutmap.map_sizes`, which gives them for a long region tile by tile)."""
    return np.asarray(max_abs, np.float64) > floor_of(ref)


def denoised(mm: MutationMap) -> MutationMap:
    """The map with deltas at or under the noise floor set to 0 (NaN kept) and importance recomputed."""
    floor = noise_floor(mm)[:, None, None]
    with np.errstate(invalid="ignore"):
        d = np.where(np.abs(mm.deltas) <= floor, np.float32(0), mm.deltas).astype(np.float32)
    return mm._replace(deltas=d, importance=importance(d))


def has_sequence(seq: str) -> bool:
    """Whether ``seq`` has any A, C, G or T (an all-N region has nothing to mutate)."""
    return any(c in "ACGT" for c in seq.upper())
