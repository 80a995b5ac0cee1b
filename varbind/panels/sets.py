"""Named panels made of the shipped bundles, and unions of panels (``--models default,rbp``).

The shipped bundles (``pretrained/<name>/``) are ``deepbind`` (the 927 published DeepBind models),
``deepbind-minus`` (its 244 RNA-binding-protein models read on the genome's minus strand),
``trained`` (varbind's own CNNs) and ``jaspar`` (the JASPAR 2024 CORE vertebrate PWMs plus the same
trained CNNs: the panel that was ``default`` before the DeepBind models shipped). The named sets:

``default``
    The 683 DeepBind TF models (ChIP-seq, HT-SELEX, PBM; DNA, both strands) plus varbind's CNNs.
``rbp``
    The 244 DeepBind RNAcompete models, each twice: ``<ID>`` reads the genome's plus strand (the
    VCF's REF/ALT as written, i.e. RNA of a plus-strand gene) and ``<ID>_minus`` the minus strand
    (RNA of a minus-strand gene). An RBP binds one strand of RNA, so both are reported and the
    user keeps the one of the gene's strand.
``jaspar``
    The JASPAR 2024 PWMs and varbind's CNNs (910 models).
``all``
    Every shipped model once (2,081 models).

A source with commas (``default,rbp``) is the union of its parts, in order, each model once.

Examples
--------
>>> parts("default")[0]
('deepbind', 'type', 'TF')
>>> is_set("default,rbp"), is_set("deepbind"), is_set("/some/folder")
(True, False, False)
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import BundleFormatError
from .locations import SETS, is_set, parts  # noqa: F401  (public names)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

def bundle_path(name: str):
    """The folder of a part: a shipped bundle (never a user's panel of the same name, so an import
    cannot change what ``default`` means), else a panel of the user's data folder."""
    from .locations import resolve, shipped_dir

    shipped = shipped_dir() / name
    return shipped if shipped.is_dir() else resolve(name)[1]


def load_catalogue(source: str) -> tuple[str, pd.DataFrame, dict]:
    """Name, catalogue (rows of every part, column ``bundle`` naming where each comes from) and info."""
    import pandas as pd

    from .bundle import catalogue_frame as _one

    cats, info = [], {"name": str(source), "parts": []}
    for bundle, column, value in parts(source):
        _, cat, manifest = _one(bundle_path(bundle))
        if column is not None:
            cat = cat[cat[column] == value] if column in cat.columns else cat.iloc[:0]
        cats.append(cat.assign(bundle=bundle))
        info["parts"].append({"bundle": bundle, "where": f"{column} == {value}" if column else "all",
                              "n_models": len(cat), "version": manifest.get("version"),
                              "provenance": manifest.get("provenance")})
    cat = pd.concat(cats).fillna("")
    cat = cat[~cat.index.duplicated(keep="first")]
    return str(source), cat, info


def load_bundles(cat: pd.DataFrame, chosen: Sequence[str], verify: bool = True):
    """IDs, params and merged null table of the ``chosen`` rows of a set's catalogue (bank order)."""
    from .bundle import read_bundle
    from .nulls import NullTable

    by_bundle: dict[str, list[str]] = {}
    for i in chosen:
        by_bundle.setdefault(cat.at[i, "bundle"], []).append(i)
    params, nulls = {}, []
    for name, ids in by_bundle.items():
        b = read_bundle(bundle_path(name), ids, verify=verify)
        params.update(zip(b.ids, b.params))
        nulls.append(b.null)
    null = None
    if all(n is not None for n in nulls):
        probs = nulls[0].probs
        if any(not np.array_equal(n.probs, probs) for n in nulls):
            raise BundleFormatError(f"null tables of {', '.join(by_bundle)} use different quantile probabilities")
        row = {m: (n, k) for n in nulls for k, m in enumerate(n.ids)}
        quantiles = np.stack([row[i][0].quantiles[row[i][1]] for i in chosen]) if chosen else np.zeros((0, len(probs)))
        null = NullTable(list(chosen), probs, quantiles.astype(np.float32), nulls[0].provenance)
    return list(chosen), [params[i] for i in chosen], null
