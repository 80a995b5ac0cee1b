"""Figures of an evidence report as PNG bytes: wild-type vs mutant mutation maps and detector logos.

The drawing itself is :mod:`varbind.plot`'s (the figures ``varbind mutmap --variant`` and
``varbind logo`` write); this module only computes what they draw for a report's top models and
returns the PNG bytes that :mod:`varbind.report.html` embeds.
"""
from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence

import numpy as np

from .. import mutmap, regions
from ..params import DeepBindParams
from ..panels.sources import Panel, panel_tfs

#: resolution of the embedded figures
DPI = 90
#: detector-logo PNGs kept per process
LOGO_CACHE = 64
_LOGOS: dict[tuple, bytes] = {}


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=DPI)
    finally:
        plt.close(fig)
    return buf.getvalue()


def mutation_maps_png(panel: Panel, v: regions.Variant, fasta: str | os.PathLike, models: Sequence[str],
                      window: regions.Region, flank: int) -> dict[str, bytes]:
    """``{model: PNG}``: wild-type and mutant mutation maps of ``window`` side by side, ``flank`` bases
    each side of the substitution ``v`` (nothing for indels: a mutant map needs equal-length alleles).

    The maps are scored on ``window`` (the variant's scoring window), so each panel's reference score
    is the model's ref (wild type) or alt (mutant) score in the report's table.
    """
    if len(v.ref) != len(v.alt) or not models:
        return {}
    from .. import io as vio
    from .. import plot

    length = vio.Fasta(fasta).lengths[window.chrom]
    region = regions.Region(window.chrom, max(0, window.start), min(length, window.end))
    seq = regions.fetch_region(fasta, region)
    bank = panel.bank.select(list(models))
    wt = mutmap.mutation_map(seq, bank)._replace(chrom=region.chrom, start=region.start)
    off = v.start - region.start
    mut = mutmap.mutation_map(mutmap.substitute(seq, off, v.ref, v.alt), bank)._replace(
        chrom=region.chrom, start=region.start)
    names = dict(zip(panel.bank.ids, panel_tfs(panel)))
    return {m: png_bytes(plot.variant_figure(wt, mut, v, [r], tf=names, flank=flank)) for r, m in enumerate(bank.ids)}


def detector_logo_png(params: DeepBindParams, model: str, tf: str = "") -> bytes:
    """PNG of the model's detector logos (:func:`varbind.logos.detector_logos` on 5,000 seeded
    random 100-mers, as ``varbind logo`` draws them).

    Logos depend only on the detectors and thresholds, so the PNG is kept for the process
    (:data:`_LOGOS`, at most :data:`LOGO_CACHE` of them): a report of many variants shows the same
    models again, and drawing logos is the slow part of a report.
    """
    from .. import logos, plot

    digest = hashlib.sha256(np.ascontiguousarray(params.detectors, np.float32).tobytes()
                            + np.ascontiguousarray(params.thresholds, np.float32).tobytes()).hexdigest()
    key = (digest, params.detectors.shape, model, tf)
    if key not in _LOGOS:
        found = logos.detector_logos(params)
        head = f"{tf} · {model}" if tf and tf != model else model
        title = f"{head} · detectors (top activating windows of random DNA)" if len(found) > 1 else head
        if len(_LOGOS) >= LOGO_CACHE:
            _LOGOS.pop(next(iter(_LOGOS)))
        _LOGOS[key] = png_bytes(plot.detector_logos_figure(found, title=title, ncols=min(4, len(found))))
    return _LOGOS[key]
