"""The ``masked_by`` column of ``varbind annotate``'s score tables (TSV, Parquet, ``--scores``).

For every scored substitution allele (REF and ALT of equal length) and model, the allele's window is
checked with :func:`varbind.masking.masked_edits`: when the allele creates a site the model's score
does not see because a stronger site elsewhere in the window already sets its maximum, the column
says ``site created but masked by a stronger site at chr:a-b``; it is empty otherwise (and for
insertions and deletions, which move the window's bases).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from ..masking import describe, masked_edits


def masked_column(bank, levels, sites: Sequence, scores, genome: Callable[[int, int], np.ndarray] | None,
                  window: int, ref_policy: str = "skip", contig_length: int | None = None, *,
                  strand_merge: str = "max", device=None) -> np.ndarray:
    """``masked_by`` text ``(E, M)`` (object array, ``""`` where nothing is masked) for the scored
    alleles ``scores`` (:class:`~varbind.annotate.output.AlleleScores`) of ``sites`` (one contig).

    ``genome``, ``window``, ``ref_policy`` and ``contig_length`` are those the alleles were scored
    with: the windows are rebuilt by :func:`varbind.annotate.windows.build_windows`.
    """
    from ..predict import Edits
    from .windows import build_windows

    e, nm = scores.ref.shape
    out = np.full((e, nm), "", dtype=object)
    if e == 0 or genome is None:
        return out
    win = build_windows(sites, genome, window, ref_policy, contig_length, Counter())
    row = {(int(s), int(a)): i for i, (s, a) in enumerate(zip(scores.site, scores.allele))}
    keep = [k for k, (s, a) in enumerate(zip(win.site.tolist(), win.allele.tolist()))
            if (s, a) in row and len(sites[s].ref) == len(sites[s].alts[a])]
    if not keep:
        return out
    keep = np.array(keep)
    rows = np.array([row[(int(win.site[k]), int(win.allele[k]))] for k in keep])
    edits = Edits(*(np.asarray(a)[keep] for a in win.edits))
    found = masked_edits(bank, win.refs, edits, (scores.alt - scores.ref)[rows], levels,
                         strand_merge=strand_merge, device=device)
    for r, c in zip(*np.nonzero(found.flagged)):
        site = sites[int(win.site[keep[r]])]
        ref_start = site.start - (window - len(site.ref)) // 2  # the window's first base (variants.allele_window)
        out[rows[r], c] = describe(site.chrom, ref_start, int(found.site_start[r, c]), int(found.site_end[r, c]))
    return out
