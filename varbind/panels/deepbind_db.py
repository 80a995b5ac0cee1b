"""A published DeepBind database folder: ``db.tsv`` (catalogue) and ``params/<ID>.txt``.

This is the layout of the DeepBind v0.1 release. Rows without a params file (the deprecated ones)
are skipped.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .. import params as _params
from ..errors import ModelNotFoundError, ModelSourceError
from ..params import DeepBindParams

if TYPE_CHECKING:  # imported where a table is read: `varbind annotate` loads this module, pandas would add
    import pandas as pd  # ~0.25-0.5 s to its start


def is_deepbind_db(path: str | os.PathLike) -> bool:
    """True when ``path`` is a folder with ``db.tsv`` and ``params/``."""
    path = Path(path)
    return path.is_dir() and (path / "db.tsv").is_file() and (path / "params").is_dir()


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Every row of a DeepBind db folder's ``db.tsv``, as strings (deprecated rows included).

    Raises
    ------
    ModelSourceError
        When ``db.tsv`` cannot be read or has no ``ID`` column.
    """
    import pandas as pd

    db = Path(path) / "db.tsv"
    try:
        table = pd.read_csv(db, sep="\t", comment="#", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise ModelSourceError(f"{db}: cannot read the DeepBind catalogue: {e}") from None
    if "ID" not in table.columns:
        raise ModelSourceError(f"{db}: no 'ID' column; is this a DeepBind db.tsv?")
    return table


def read_catalogue(path: str | os.PathLike) -> pd.DataFrame:
    """The catalogue of a DeepBind db folder: one row per model that has a params file.

    Columns are those of ``db.tsv`` (``ID, Protein, Type, Species, Family, Class, Experiment,
    Experiment Details, Model, Cite, Labels, Path, Comment``), indexed by ``ID``.
    """
    path = Path(path)
    table = read_table(path)
    have = {p.stem for p in (path / "params").glob("*.txt")}
    table = table[table["ID"].isin(have)]
    return table.set_index("ID", drop=False)


def load_params(path: str | os.PathLike, ids: list[str] | None = None) -> tuple[list[str], list[DeepBindParams]]:
    """Read the params of the given model IDs (default: every model in the catalogue).

    Raises
    ------
    ModelNotFoundError
        For an ID with no params file.
    """
    path = Path(path)
    if ids is None:
        ids = list(read_catalogue(path).index)
    out = []
    for model_id in ids:
        file = path / "params" / f"{model_id}.txt"
        if not file.is_file():
            raise ModelNotFoundError(f"model {model_id!r} has no params file in {path / 'params'}")
        out.append(_params.read(file))
    return list(ids), out


SOURCE = "DeepBind v0.1 (Alipanahi et al. 2015)"


def catalogue_from_db(table):
    """Bundle catalogue rows (DataFrame) from a DeepBind ``db.tsv`` table (``deepbind_db.read_catalogue``)."""
    import pandas as pd

    def col(name):
        return table[name].astype(str).tolist() if name in table.columns else [""] * len(table)

    return pd.DataFrame({
        "id": col("ID"),
        "tf": col("Protein"),
        "family": col("Family"),
        "tf_class": col("Class"),
        "species": col("Species"),
        "source": SOURCE,
        "experiment": col("Experiment Details"),
        "data_type": col("Experiment"),
        "model_type": "cnn",
        "detector_len": "",
        "type": col("Type"),
        "molecule": ["RNA" if t == "RBP" else "DNA" for t in col("Type")],
        "citation": col("Cite"),
    })
