"""Rendering of evidence reports (:mod:`varbind.report.api`) as one self-contained HTML document.

Everything the page needs is inside it: figures as ``data:image/png;base64`` URIs, the style sheet,
a small script (sortable, filterable score table; a self-check that records script errors and
undecoded images in ``#vb-status``), and each variant's full score table as a TSV ``data:`` link.
Nothing is fetched from the network, so the page opens from a file or an e-mail attachment.

The words the summary uses for sizes of effects are varbind's convention, stated on the page:
:data:`EFFECT_WORDS` for calibrated effects, :data:`PCT_WORDS` for percentiles.
"""
from __future__ import annotations

import base64
import math

import numpy as np
import pandas as pd

#: (lower bound of |calibrated effect|, word), first match wins
EFFECT_WORDS = ((5.0, "very strong"), (3.0, "strong"), (1.5, "moderate"), (0.0, "weak"))
#: (lower bound of the percentile, what a score there suggests), first match wins
PCT_WORDS = ((99.0, "likely binding site"), (95.0, "possible site"), (0.0, "weak or no site"))
#: the strongest changes whose TF families the summary counts
N_FAMILY = 10
#: table columns: (column, header, kind)
COLUMNS = (("model", "Model", "text"), ("tf", "TF", "text"), ("family", "Family", "text"),
           ("effect", "Calibrated effect", "num"), ("ref_score", "Ref score", "num"),
           ("alt_score", "Alt score", "num"), ("delta", "Δ raw", "num"), ("ref_pct", "Ref pct", "num"),
           ("alt_pct", "Alt pct", "num"))

CAVEATS = [
    "A binding score is a model's prediction of how strongly a transcription factor (TF) binds this DNA "
    "sequence, learned from one kind of experiment (protein-binding microarrays, HT-SELEX or ChIP-seq, "
    "usually in one cell type). It is not a measurement made in the patient's cells.",
    "A change in predicted binding is not a change in gene expression. Whether it matters depends on "
    "whether the TF is present in the tissue, whether the DNA there is accessible, and on the other "
    "sites that control the gene; none of that is modelled here.",
    "The calibrated effect is the change of a model's score in units of that model's spread on random "
    "DNA (the robust standard deviation of its scores on 10,000 background sequences). It makes models "
    "with different raw scales comparable. It is not a probability or a p-value, and the words used for "
    "its size (weak, moderate, strong) are a convention of this report, not a statistical test.",
    "A percentile says where a score falls among the model's scores on random DNA: at 99 or above the "
    "sequence looks like a binding site to that model; far below it, it does not.",
    "TFs of one family often bind nearly the same DNA word, so several models of one family changing "
    "together are one piece of evidence, not several independent ones; the TF actually acting there may "
    "be any member of the family.",
    "The DeepFind probability comes from a classifier trained to separate simulated promoter variants "
    "(a stand-in for deleterious ones) from common derived alleles. It is a weak predictor (see its "
    "held-out AUC) and was never validated on clinical variants: it does not estimate pathogenicity.",
    "All of this is computational prediction for research. It can support, never replace, experimental "
    "evidence; in ACMG/AMP terms it is at most supporting computational evidence.",
]


def effect_word(effect: float) -> str:
    """The word for the size of a calibrated effect.

    Examples
    --------
    >>> effect_word(-3.2), effect_word(0.4), effect_word(float("nan"))
    ('strong', 'weak', 'unknown')
    """
    if not math.isfinite(effect):
        return "unknown"
    return next(w for lo, w in EFFECT_WORDS if abs(effect) >= lo)


def pct_word(pct: float) -> str:
    """What a score at this percentile of the null distribution suggests.

    Examples
    --------
    >>> pct_word(99.6), pct_word(50.0)
    ('likely binding site', 'weak or no site')
    """
    if not math.isfinite(pct):
        return "no null distribution"
    return next(w for lo, w in PCT_WORDS if pct >= lo)


def num(x: float, digits: int = 2, signed: bool = False) -> str:
    """A number for the page (``—`` for NaN).

    Examples
    --------
    >>> num(1.23456), num(2.0, 1, signed=True), num(float("nan"))
    ('1.23', '+2.0', '—')
    """
    if x is None or not math.isfinite(float(x)):
        return "—"
    return f"{float(x):+.{digits}f}" if signed else f"{float(x):.{digits}f}"


def data_uri(payload: bytes, mime: str) -> str:
    """A ``data:`` URI holding ``payload`` (base64)."""
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def tsv_bytes(ev) -> bytes:
    """The variant's full score table as TSV (one row per model, ranked by |calibrated effect|)."""
    v = ev.variant
    t = ev.table.copy()
    t.insert(0, "alt", v.alt)
    t.insert(0, "ref", v.ref)
    t.insert(0, "pos", v.pos)
    t.insert(0, "chrom", v.chrom)
    t = t.rename(columns={"effect": "calibrated_effect"})
    order = np.argsort(-np.nan_to_num(np.abs(t["calibrated_effect"].to_numpy()), nan=-1.0), kind="stable")
    return t.iloc[order].to_csv(sep="\t", index=False, float_format="%.6g", na_rep="NA").encode("utf-8")


def _row(r: pd.Series) -> dict:
    return {"model": r["model"], "tf": r["tf"], "family": r["family"], "effect": float(r["effect"]),
            "effect_s": num(r["effect"], 2, signed=True), "word": effect_word(float(r["effect"])),
            "ref": num(r["ref_score"], 3), "alt": num(r["alt_score"], 3), "ref_pct": num(r["ref_pct"], 1),
            "alt_pct": num(r["alt_pct"], 1), "ref_pct_word": pct_word(float(r["ref_pct"])),
            "alt_pct_word": pct_word(float(r["alt_pct"]))}


def family_counts(top: pd.DataFrame, n: int = 3) -> list[tuple[str, int, int]]:
    """``(family, gains, losses)`` of the ``n`` families with most rows in ``top`` (rows without a
    family are left out), most rows first, ties in order of first appearance.

    Examples
    --------
    >>> t = pd.DataFrame({"family": ["Ets", "AP-2", "Ets", ""], "effect": [3.0, -2.0, 1.0, 5.0]})
    >>> family_counts(t)
    [('Ets', 2, 0), ('AP-2', 0, 1)]
    """
    counts: dict[str, list[int]] = {}
    for fam, e in zip(top["family"], top["effect"]):
        if fam:
            c = counts.setdefault(fam, [0, 0])
            c[0 if e > 0 else 1] += 1
    ranked = sorted(counts.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))  # stable: first appearance
    return [(f, g, lo) for f, (g, lo) in ranked[:n]]


def _cell(x: float, column: str) -> tuple[float, str]:
    """(value to sort on, text shown) of a numeric table cell."""
    digits = 3 if column in ("ref_score", "alt_score", "delta") else 2 if column == "effect" else 1
    return float(x), num(x, digits, signed=column in ("effect", "delta"))


def _variant_context(ev, index: int) -> dict:
    from .ranking import gains_losses, ranked

    v = ev.variant
    gains, losses = gains_losses(ev.table)
    order = ranked(ev.table)
    rest = ev.table[~np.isfinite(ev.table["effect"])]
    rows = [{c: _cell(r[c], c) if kind == "num" else r[c] for c, _, kind in COLUMNS}
            for _, r in pd.concat([order, rest]).iterrows()]
    n_big = int((np.abs(order["effect"]) >= 3).sum())
    families = family_counts(order.head(N_FAMILY))
    top = order.iloc[0] if len(order) else None
    slug = f"{v.chrom}_{v.pos}_{v.ref}_{v.alt}"
    return {
        "index": index, "v": v, "name": f"{v.chrom}:{v.pos:,} {v.ref}>{v.alt}", "slug": slug,
        "window": f"{ev.window.chrom}:{ev.window.start + 1:,}-{ev.window.end:,} ({len(ev.window)} bp, centred on the variant)",
        "gains": [_row(r) for _, r in gains.iterrows()], "losses": [_row(r) for _, r in losses.iterrows()],
        "top": None if top is None else _row(top), "n_big": n_big, "n_ranked": len(order),
        "n_big_gain": int((order["effect"] >= 3).sum()), "n_big_loss": int((order["effect"] <= -3).sum()),
        "deepfind": ev.deepfind, "tss": ev.tss, "rows": rows, "families": families,
        "n_family": min(N_FAMILY, len(order)),
        "models": [{"id": m.model, "row": _row(ev.table.set_index("model", drop=False).loc[m.model]),
                    "maps": data_uri(m.mutation_maps, "image/png") if m.mutation_maps else None,
                    "logo": data_uri(m.logo, "image/png") if m.logo else None, "provenance": m.provenance}
                   for m in ev.top],
        "tsv": data_uri(tsv_bytes(ev), "text/tab-separated-values"), "tsv_name": f"{slug}.varbind.tsv",
    }


def render(evidence: list, meta: dict) -> str:
    """The HTML document of a report: one section per variant (see :mod:`varbind.report.api`)."""
    import jinja2

    from .template import TEMPLATE

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["num"] = num
    ctx = {"meta": meta, "variants": [_variant_context(ev, i + 1) for i, ev in enumerate(evidence)],
           "columns": COLUMNS, "caveats": CAVEATS, "effect_words": EFFECT_WORDS, "pct_words": PCT_WORDS}
    return env.from_string(TEMPLATE).render(**ctx)
