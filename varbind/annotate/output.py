"""What ``varbind annotate`` writes: the INFO definitions and values, and the long score table
(one row per variant allele and model). The files they go to: :mod:`varbind.annotate.sinks`.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from .windows import SKIP_REASONS
from .topk import Top, panel_effect, select

#: INFO fields added to the VCF; VARBIND's Description carries the split-vep ``Format:``
VARBIND_FIELDS = ("Allele", "Model", "TF", "Ref", "Alt", "Delta", "Effect", "RefPct", "AltPct", "Consequence")
#: the Sequence Ontology term in every VARBIND entry (bcftools +split-vep <= 1.17 requires the field)
CONSEQUENCE = "TF_binding_site_variant"
#: what the ranking scale is, for the header Descriptions: calibrated (null tables) or raw
_SCALE = {
    True: "calibrated effect (Alt - Ref in units of the model's null spread, see docs/reading-scores.md)",
    False: "raw Alt - Ref score (this panel has no null tables, so no calibrated effect: raw deltas of "
           "different models are not comparable)",
}


def info_defs(calibrated: bool = True) -> tuple[tuple[str, str, str, str], ...]:
    """The INFO header definitions; ``calibrated``: the panel has null tables (models ranked by
    calibrated effect), else raw deltas."""
    scale = _SCALE[calibrated]
    return (
        ("VARBIND", ".", "String", f"varbind: the top-k models for each ALT by |{scale}|; Ref/Alt/Delta are raw "
         "scores, Effect the calibrated effect (. without null tables), RefPct/AltPct the scores' percentiles in "
         "the model's null distribution (. when the panel has none). Format: " + "|".join(VARBIND_FIELDS)),
        ("VB_MAXGAIN", "A", "Float", f"varbind: largest {scale} over all models, per ALT"),
        ("VB_MAXLOSS", "A", "Float", f"varbind: smallest (most negative) {scale} over all models, per ALT"),
        ("VB_PANEL", "A", "Float", "varbind: panel-level effect per ALT: the mean calibrated effect over all models "
         "of the panel (> 0: binding gained on balance, < 0: lost; . without null tables; see docs/reading-scores.md)"),
    )


INFO_DEFS = info_defs(True)
#: added when the panel has a DeepFind model (see :mod:`varbind.deepfind.model`)
#: why an ALT was not scored (a key of :data:`varbind.annotate.windows.SKIP_REASONS`; . when it was)
SKIP_DEF = ("VB_SKIP", "A", "String",
            "varbind: why the ALT was not scored (" + ", ".join(SKIP_REASONS) + "); . for scored ALTs")
DEEPFIND_DEF = ("VB_DEEPFIND", "A", "Float",
                "varbind DeepFind: probability that the ALT is a deleterious promoter SNV ({features}; "
                "51-bp window; . for alleles that are not SNVs)")
TABLE_SCHEMA = pa.schema([
    ("chrom", pa.dictionary(pa.int32(), pa.string())),
    ("pos", pa.int64()),
    ("id", pa.string()),
    ("ref", pa.string()),
    ("alt", pa.string()),
    ("model", pa.dictionary(pa.int32(), pa.string())),
    ("tf", pa.dictionary(pa.int32(), pa.string())),
    ("ref_score", pa.float32()),
    ("alt_score", pa.float32()),
    ("delta", pa.float32()),
    ("effect", pa.float32()),
    ("ref_pct", pa.float32()),
    ("alt_pct", pa.float32()),
    ("panel_effect", pa.float32()),
    ("masked_by", pa.string()),  # varbind.annotate.masking: "site created but masked by a stronger site at ..."
    ("skip", pa.string()),
])
_UNSAFE = re.compile(r"[|,;=\s]")


def clean_field(text: str) -> str:
    """A value safe inside a CSQ-style INFO entry (no ``| , ; =`` or white space).

    Examples
    --------
    >>> clean_field("NKX2-5; isoform|2")
    'NKX2-5__isoform_2'
    """
    return _UNSAFE.sub("_", text) or "."


@functools.lru_cache(maxsize=8)
def _cleaned(names: tuple[str, ...]) -> list[str]:
    return [clean_field(n) for n in names]


def _f(x: float) -> str:
    return f"{x:.4f}"


class AlleleScores(NamedTuple):
    """Scores of the scored alleles of a chunk of sites.

    ``site`` and ``allele`` are ``(E,)``: the site (index into the chunk) and ALT (0-based) of each
    row of ``ref`` and ``alt``, both ``(E, M)`` float32. When only INFO fields are written the
    scoring stage reduces them to ``top`` (:class:`varbind.annotate.topk.Top`) and ``ref``/``alt``
    are ``(E, 0)``.
    """

    site: np.ndarray
    allele: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    deepfind: np.ndarray | None = None  # (E,) DeepFind probability, NaN where not an SNV
    top: Top | None = None


def _nan(x: float) -> str:
    return "." if np.isnan(x) else _f(x)


def info_values(scores: AlleleScores, sites: Sequence, ids: Sequence[str], tfs: Sequence[str],
                top_k: int, pct: tuple[np.ndarray, np.ndarray] | Callable | None = None,
                effect: np.ndarray | None = None,
                skips: dict[tuple[int, int], str] | None = None) -> list[tuple[str | None, ...] | None]:
    """``(VARBIND, VB_MAXGAIN, VB_MAXLOSS, VB_PANEL[, VB_DEEPFIND][, VB_SKIP])`` INFO values per site
    (``None``: nothing scored).

    Top-k models by ``|effect|`` (the calibrated effect ``(E, M)``; ties: panel order), or by raw
    ``|delta|`` when the panel has no null tables (``effect`` None or all NaN); VB_MAXGAIN/VB_MAXLOSS
    are the largest/smallest value on the same scale (:func:`varbind.annotate.topk.select`, or
    ``scores.top`` when the scoring stage selected them). Missing ALTs are ``.`` in the Number=A fields.
    ``pct``: reference and alternate percentiles ``(E, M)`` each; or a function of the top models'
    reference scores, alternate scores and model columns (flat) returning their two percentiles (see
    :func:`varbind.annotate.topk.pair_percentiles`); or ``None``. With ``skips``
    (``{(site, allele): reason}``) every tuple ends with the ``VB_SKIP`` value: the reason per ALT,
    ``.`` for scored ones, ``None`` when no ALT of the site was skipped; a site with skipped ALTs
    only gets ``None`` for the other fields.
    """
    out: list[tuple[str, ...] | None] = [None] * len(sites)
    top = scores.top if scores.top is not None else select(scores.ref, scores.alt, top_k, effect=effect)
    if pct is None:
        ref_top = alt_top = np.full(top.index.shape, np.nan)
    elif callable(pct):  # percentiles of the listed models only
        ref_top, alt_top = (x.reshape(top.index.shape) for x in pct(top.ref.ravel(), top.alt.ravel(),
                                                                       top.index.ravel()))
    else:
        ref_top, alt_top = (np.take_along_axis(x, top.index, 1) for x in pct)
    whole, gains, losses = top.panel.tolist(), top.gain.tolist(), top.loss.tolist()
    top_l, ref_l, alt_l = top.index.tolist(), ref_top.tolist(), alt_top.tolist()
    ref_v, alt_v, delta_v, eff_v = (x.tolist() for x in (top.ref, top.alt, top.delta, top.effect))
    by_site: dict[int, list[int]] = {}
    for e, s in enumerate(scores.site.tolist()):
        by_site.setdefault(s, []).append(e)
    ids_c, tfs_c = _cleaned(tuple(ids)), _cleaned(tuple(tfs))
    alleles = scores.allele.tolist()
    dfind_v = scores.deepfind.tolist() if scores.deepfind is not None else None
    for s, e_rows in by_site.items():
        n_alt = len(sites[s].alts)
        gain, loss, dfind, agg, entries = ["."] * n_alt, ["."] * n_alt, ["."] * n_alt, ["."] * n_alt, []
        for e in e_rows:
            a = alleles[e]
            gain[a], loss[a], agg[a] = _f(gains[e]), _f(losses[e]), _nan(whole[e])
            if dfind_v is not None and dfind_v[e] == dfind_v[e]:  # not NaN
                dfind[a] = _f(dfind_v[e])
            allele = sites[s].alts[a]
            for j, r, a_, d, ef, rp, ap in zip(top_l[e], ref_v[e], alt_v[e], delta_v[e], eff_v[e], ref_l[e],
                                                alt_l[e]):
                # one f-string an entry (the formats of _f, _nan and _pct; measured 3x faster than joining calls)
                entries.append(f"{allele}|{ids_c[j]}|{tfs_c[j]}|{r:.4f}|{a_:.4f}|{d:.4f}|"
                               f"{'.' if ef != ef else f'{ef:.4f}'}|"
                               f"{'.' if rp != rp else f'{rp:.2f}'}|{'.' if ap != ap else f'{ap:.2f}'}|{CONSEQUENCE}")
        out[s] = (",".join(entries) or ".", ",".join(gain), ",".join(loss), ",".join(agg))
        if scores.deepfind is not None:
            out[s] += (",".join(dfind),)
    if skips is None:
        return out
    reasons: dict[int, list[str]] = {}
    for (s, a), reason in skips.items():
        if a >= 0:  # ALT '.': no allele to carry the reason
            reasons.setdefault(s, ["."] * len(sites[s].alts))[a] = reason
    width = 5 if scores.deepfind is not None else 4
    for s in range(len(sites)):
        value = ",".join(reasons[s]) if s in reasons else None
        if out[s] is not None:
            out[s] = (*out[s], value)
        elif value is not None:
            out[s] = (None,) * width + (value,)
    return out


def long_table(scores: AlleleScores, sites: Sequence, ids: Sequence[str], tfs: Sequence[str],
               pct: tuple[np.ndarray, np.ndarray] | None = None, effect: np.ndarray | None = None,
               masked: np.ndarray | None = None, skips: dict[tuple[int, int], str] | None = None) -> pa.Table:
    """One row per scored allele and model (see :data:`TABLE_SCHEMA`); ``pos`` is 1-based;
    ``ref_pct``/``alt_pct`` are NaN without ``pct``, ``effect`` (calibrated, ``(E, M)``) and
    ``panel_effect`` (the allele's mean effect, the same on each of its rows) NaN without ``effect``;
    ``masked_by`` holds ``masked`` (``(E, M)`` text, :func:`varbind.annotate.masking.masked_column`),
    empty without it. With ``skips`` (``{(site, allele): reason}``) each skipped ALT adds one row with
    its reason in ``skip`` (null model, NaN scores); ``skip`` is null on scored rows."""
    e, m = scores.ref.shape
    eff = effect if effect is not None else np.full(scores.ref.shape, np.nan)
    tf_names = list(dict.fromkeys(tfs))  # a dictionary holds each TF once (several models may share one)
    tf_index = np.array([tf_names.index(t) for t in tfs] or [0], np.int32)
    rows = np.repeat(np.arange(e), m)
    model = np.tile(np.arange(m, dtype=np.int32), e)
    chroms = sorted({sites[s].chrom for s in scores.site.tolist()})
    chrom_idx = {c: i for i, c in enumerate(chroms)}
    site_l = scores.site.tolist()
    per_e = lambda f: np.array([f(sites[s], int(a)) for s, a in zip(site_l, scores.allele.tolist())], dtype=object)  # noqa: E731
    cols = {
        "chrom": pa.DictionaryArray.from_arrays(
            np.array([chrom_idx[sites[s].chrom] for s in site_l], np.int32)[rows] if e else np.zeros(0, np.int32),
            pa.array(chroms, pa.string())),
        "pos": pa.array(np.array([sites[s].start + 1 for s in site_l], np.int64)[rows] if e else np.zeros(0, np.int64)),
        "id": pa.array(per_e(lambda st, a: st.id)[rows] if e else [], pa.string()),
        "ref": pa.array(per_e(lambda st, a: st.ref)[rows] if e else [], pa.string()),
        "alt": pa.array(per_e(lambda st, a: st.alts[a])[rows] if e else [], pa.string()),
        "model": pa.DictionaryArray.from_arrays(model, pa.array(list(ids), pa.string())),
        "tf": pa.DictionaryArray.from_arrays(tf_index[model], pa.array(tf_names, pa.string())),
        "ref_score": pa.array(scores.ref.reshape(-1), pa.float32()),
        "alt_score": pa.array(scores.alt.reshape(-1), pa.float32()),
        "delta": pa.array((scores.alt - scores.ref).reshape(-1), pa.float32()),
        "effect": pa.array(np.asarray(eff).reshape(-1), pa.float32()),
        "ref_pct": pa.array((pct[0] if pct is not None else np.full(scores.ref.shape, np.nan)).reshape(-1), pa.float32()),
        "alt_pct": pa.array((pct[1] if pct is not None else np.full(scores.ref.shape, np.nan)).reshape(-1), pa.float32()),
        "panel_effect": pa.array(np.repeat(panel_effect(effect, e), m), pa.float32()),
        "masked_by": pa.array(masked.reshape(-1) if masked is not None else np.full(e * m, "", object), pa.string()),
        "skip": pa.nulls(e * m, pa.string()),
    }
    table = pa.table(cols, schema=TABLE_SCHEMA)
    rows_skipped = sorted((s, a, r) for (s, a), r in (skips or {}).items() if a >= 0)
    if not rows_skipped:
        return table
    n = len(rows_skipped)
    nan = pa.array(np.full(n, np.nan, np.float32))
    extra = pa.table({
        "chrom": pa.array([sites[s].chrom for s, _, _ in rows_skipped]).dictionary_encode(),
        "pos": pa.array([sites[s].start + 1 for s, _, _ in rows_skipped], pa.int64()),
        "id": pa.array([sites[s].id for s, _, _ in rows_skipped], pa.string()),
        "ref": pa.array([sites[s].ref for s, _, _ in rows_skipped], pa.string()),
        "alt": pa.array([sites[s].alts[a] for s, a, _ in rows_skipped], pa.string()),
        "model": pa.nulls(n, pa.dictionary(pa.int32(), pa.string())),
        "tf": pa.nulls(n, pa.dictionary(pa.int32(), pa.string())),
        "ref_score": nan, "alt_score": nan, "delta": nan, "effect": nan, "ref_pct": nan, "alt_pct": nan,
        "panel_effect": nan, "masked_by": pa.array([""] * n, pa.string()),
        "skip": pa.array([r for _, _, r in rows_skipped], pa.string()),
    }, schema=TABLE_SCHEMA)
    key = np.concatenate([np.repeat(scores.site.astype(np.int64) * 1_000_000 + scores.allele, m),
                          np.array([s * 1_000_000 + a for s, a, _ in rows_skipped], np.int64)])
    return _concat(table, extra).take(pa.array(np.argsort(key, kind="stable")))


def _concat(a: pa.Table, b: pa.Table) -> pa.Table:
    """Two tables of :data:`TABLE_SCHEMA` as one, dictionaries unified (writers need one per batch)."""
    return pa.concat_tables([a, b]).unify_dictionaries().combine_chunks()
