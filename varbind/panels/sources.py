"""Model panels: the shipped panels, imported panels, and ``--models SOURCE`` resolution.

A ``SOURCE`` is one of

* a shipped panel: ``default`` (the 683 DeepBind TF models plus every varbind-trained CNN),
  ``rbp`` (the 244 DeepBind RNAcompete models on each strand), ``jaspar`` (the JASPAR 2024 CORE
  vertebrate PWMs plus the varbind CNNs), ``all``, or one shipped bundle (``deepbind``: the 927
  published DeepBind models; ``trained``) -- see :mod:`varbind.panels.sets`;
* a comma-separated union of those (``default,rbp``);
* the name of a panel imported into the user's data folder (``varbind models import-deepbind``);
* a varbind bundle folder (see :mod:`varbind.panels.bundle`);
* a DeepBind db folder (``params/`` + ``db.tsv``, the layout of the DeepBind v0.1 release).

The user's data folder is ``$VARBIND_DATA_DIR`` when set, else the platform's user data folder
(``~/.local/share/varbind`` on Linux); imported panels live in its ``panels/<name>/``.

Examples
--------
>>> panel = load_panel("default", tf=["GABPA"])
>>> panel.bank.ids[:3], panel.catalogue.at["D00409.004", "data_type"]
(['D00409.003', 'D00409.004', 'vbt_chip_GABPA'], 'ChIP-seq')
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..errors import ModelNotFoundError, ModelSourceError
from .locations import (DEFAULT, INSTALLABLE, data_dir, panels,  # noqa: F401  (public names)
                        resolve, shipped_dir)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..bank import ModelBank
    from .nulls import NullTable

class Panel(NamedTuple):
    """A loaded panel: the bank, its catalogue (rows in bank order, indexed by ID), null table, manifest."""

    name: str
    bank: ModelBank
    catalogue: pd.DataFrame
    null: NullTable | None
    info: dict


def tf_names(tf: str) -> list[str]:
    """Upper-case gene symbols of a TF name; dimers ``A::B`` give both parts.

    Examples
    --------
    >>> tf_names("Pou5f1::Sox2")
    ['POU5F1', 'SOX2']
    """
    return [t.strip().upper() for t in str(tf).split("::") if t.strip()]


def count_tfs(catalogue: pd.DataFrame) -> int:
    """Distinct TFs of a catalogue: distinct upper-case gene symbols, dimers counted by their parts."""
    return len({t for tf in catalogue["tf"] for t in tf_names(tf)})


def select(catalogue: pd.DataFrame, ids: Sequence[str] | None = None, tf: Sequence[str] | None = None,
           family: Sequence[str] | None = None, min_quality: float | None = None) -> list[str]:
    """IDs of the catalogue rows that pass every given filter (in ``ids`` order, else catalogue order).

    ``tf``: a model matches when one of its TF symbols (dimers split on ``::``) equals one given,
    case-insensitively. ``family``: a case-insensitive substring of its ``family`` or ``tf_class``.
    ``min_quality``: drop the models whose known held-out quality (catalogue ``quality``, else
    ``test_value``) is below it; models of unknown quality are kept.

    Raises
    ------
    ModelNotFoundError
        For an unknown ID, a TF or family that matches nothing, or an empty selection.

    Examples
    --------
    >>> import pandas as pd
    >>> cat = pd.DataFrame({"tf": ["FOS::JUN", "SOX2"], "family": ["bZIP", "HMG"], "tf_class": ["", ""]},
    ...                    index=["m1", "m2"])
    >>> select(cat, tf=["jun"]), select(cat, family=["hmg"])
    (['m1'], ['m2'])
    """
    chosen = list(catalogue.index)
    if ids is not None:
        known = set(chosen)
        missing = [i for i in ids if i not in known]
        if missing:
            raise ModelNotFoundError(f"model {missing[0]!r} is not in this panel ({len(missing)} unknown ids)")
        chosen = list(dict.fromkeys(ids))
    if tf:
        want = {t.upper() for name in tf for t in tf_names(name)}
        symbols = {i: set(tf_names(catalogue.at[i, "tf"])) for i in chosen}
        unmatched = sorted(want - set().union(*symbols.values())) if symbols else sorted(want)
        if unmatched:
            raise ModelNotFoundError(f"no model for TF {unmatched[0]!r} in this selection")
        chosen = [i for i in chosen if symbols[i] & want]
    if family:
        text = {i: f"{catalogue.at[i, 'family']}\t{catalogue.at[i, 'tf_class']}".lower() for i in chosen}
        for f in family:
            if not any(f.lower() in t for t in text.values()):
                raise ModelNotFoundError(f"no model of family or class {f!r} in this selection")
        chosen = [i for i in chosen if any(f.lower() in text[i] for f in family)]
    if min_quality is not None:
        import pandas as pd

        from .bundle import with_quality

        q = pd.to_numeric(with_quality(catalogue.loc[chosen])["quality"], errors="coerce").to_numpy(np.float64)
        chosen = [i for i, v in zip(chosen, q) if not v < min_quality]  # NaN (unknown) is kept
    if not chosen:
        raise ModelNotFoundError("the selection holds no model")
    return chosen


def load_catalogue(source: str | os.PathLike = DEFAULT) -> tuple[str, pd.DataFrame, dict]:
    """Name, catalogue and manifest of a source without building its bank (fast; for listing)."""
    import io

    import pandas as pd

    from .bundle import catalogue_frame
    from .sets import is_set

    if is_set(source):
        from . import sets as panel_sets

        return panel_sets.load_catalogue(str(source))
    kind, path = resolve(source)
    if kind == "deepbind_db":
        from . import deepbind_db
        cat = deepbind_db.catalogue_from_db(deepbind_db.read_catalogue(path))
        return path.name, cat.set_index("id", drop=False).rename_axis(None), {"name": path.name}
    return catalogue_frame(path)


def load_panel(source: str | os.PathLike = DEFAULT, *, ids: Sequence[str] | None = None,
               tf: Sequence[str] | None = None, family: Sequence[str] | None = None,
               min_quality: float | None = None, verify: bool = True) -> Panel:
    """Load a panel (or a selection of it) as a :class:`Panel` ready for :func:`varbind.predict.score`.

    Parameters
    ----------
    source : str or path
        A panel name (default ``"default"``), a union ``"a,b"``, a bundle folder or a DeepBind db folder.
    ids, tf, family, min_quality : optional
        Selection (see :func:`select`); the bank holds only the selected models, in order.
    verify : bool
        Check the bundle files' sha256 against ``bundle.json`` (default).

    Raises
    ------
    ModelSourceError, PanelNotInstalledError, ChecksumError, BundleFormatError, ModelNotFoundError
    """
    from ..bank import ModelBank
    from .sets import is_set

    if is_set(source):
        from .sets import load_bundles

        name, cat, info = load_catalogue(source)
        chosen = select(cat, ids, tf, family, min_quality)
        chosen, params, null = load_bundles(cat, chosen, verify=verify)
        return Panel(name, ModelBank.from_params(params, chosen), cat.loc[chosen], null, info)
    kind, path = resolve(source)
    if kind == "deepbind_db":
        from . import deepbind_db

        name, cat, info = load_catalogue(path)
        if ids is not None:  # a params file without a db.tsv row is still a model of the folder
            deepbind_db.load_params(path, [i for i in ids if i not in cat.index])  # names a missing file
            cat = cat.reindex(list(dict.fromkeys(ids))).fillna("")
            cat["id"] = cat.index
        chosen = select(cat, ids, tf, family, min_quality)
        chosen, params = deepbind_db.load_params(path, chosen)
        return Panel(name, ModelBank.from_params(params, chosen), cat.loc[chosen], None, info)
    from .bundle import read_bundle

    name, cat, _ = load_catalogue(path)
    chosen = select(cat, ids, tf, family, min_quality)
    whole = len(chosen) == len(cat) and chosen == list(cat.index)
    b = read_bundle(path, None if whole else chosen, verify=verify)
    return Panel(b.info.get("name", path.name), ModelBank.from_params(b.params, b.ids), cat.loc[b.ids], b.null, b.info)


def panel_from_bank(bank: ModelBank, name: str = "custom") -> Panel:
    """A :class:`Panel` around a bank built in memory: TF names are the model IDs, no null table."""
    import pandas as pd

    cat = pd.DataFrame({"id": bank.ids, "tf": bank.ids}, index=pd.Index(bank.ids, name=None))
    return Panel(name, bank, cat, None, {})


def panel_tfs(panel: Panel) -> list[str]:
    """The TF name of each model, in bank order (the ID where the catalogue has none)."""
    if "tf" not in panel.catalogue.columns:
        return list(panel.bank.ids)
    tf = panel.catalogue["tf"].reindex(panel.bank.ids)
    return [str(t) if isinstance(t, str) and t else i for i, t in zip(panel.bank.ids, tf)]


def panel_sha256(panel: Panel) -> str:
    """sha256 of the panel as scored (:func:`varbind.panels.bundle.panel_weights_sha256`): computed from
    the weights in the bank, in bank order, never read from a catalogue."""
    from .bundle import panel_weights_sha256

    return panel_weights_sha256(panel.bank.ids, panel.bank.params)


def percentile(panel: Panel, scores: np.ndarray) -> np.ndarray:
    """Percentiles (0-100) of ``scores`` ``(N, len(panel.bank))`` in each model's null distribution.

    NaN for models without one (e.g. a DeepBind db folder read directly). See
    :func:`varbind.panels.nulls.percentile`.
    """
    from .nulls import percentile as _percentile

    if panel.null is None:
        return np.full(np.shape(scores), np.nan)
    return _percentile(panel.null, scores, panel.bank.ids)


def calibrated_effect(panel: Panel, ref: np.ndarray, alt: np.ndarray) -> np.ndarray:
    """Calibrated effects ``(alt - ref) / null spread`` of score pairs ``(N, len(panel.bank))``: the
    one scale on which varbind ranks models against each other (see
    :func:`varbind.panels.nulls.calibrated_effect`). NaN for models without a null table."""
    from .nulls import calibrated_effect as _effect

    if panel.null is None:
        return np.full(np.shape(ref), np.nan)
    return _effect(panel.null, ref, alt, panel.bank.ids)
