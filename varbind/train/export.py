"""Export trained models: a varbind bundle (:mod:`varbind.panels.bundle`) and DeepBind v0.1 param files.

A bundle is a folder with ``models.safetensors`` (for model ``X``: float32 ``X/detectors`` (d, 4, m),
``X/thresholds``, ``X/weights1``, ``X/biases1``, ``X/weights2``, ``X/biases2``; header metadata
``X/reverse_complement`` and ``X/has_avg_pooling`` as ``"0"``/``"1"``), ``catalogue.tsv`` and
``bundle.json``; see :mod:`varbind.panels.bundle`, which does the writing. The training catalogue has the
columns ``id, tf, family, species, source, experiment, detector_len, test_metric, test_value, sha256``
plus extras (calibration, timings, the published model's figure). No pickle anywhere.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from .. import __version__
from ..panels import bundle as _bundle
from ..params import DeepBindParams
from ..params import write as write_params

as_float32 = _bundle.as_float32
model_sha256 = _bundle.model_sha256

#: data_type column of the catalogue per training source
DATA_TYPES = {"ENCODE ChIP-seq": "ChIP-seq", "DREAM5 PBM": "PBM", "HT-SELEX": "HT-SELEX"}


def write_bundle(folder: str | os.PathLike, models: Mapping[str, DeepBindParams],
                 rows: Sequence[Mapping[str, object]], name: str = "trained",
                 provenance: dict | None = None) -> Path:
    """Write trained models as a bundle folder; ``rows`` are catalogue rows (dicts with ``id``).

    ``sha256`` and ``detector_len`` are computed from the weights as stored (float32);
    ``model_type`` is ``cnn`` and ``data_type`` follows ``source`` where not given.

    Examples
    --------
    >>> import tempfile
    >>> from varbind.params import random_params
    >>> d = tempfile.mkdtemp()
    >>> _ = write_bundle(d + "/b", {"m1": random_params(detector_len=5, seed=0)}, [{"id": "m1", "tf": "X"}])
    >>> models, rows = read_bundle(d + "/b")
    >>> models["m1"].detector_len, rows[0]["tf"], rows[0]["model_type"]
    (5, 'X', 'cnn')
    """
    import pandas as pd

    by_id = {str(r["id"]): dict(r) for r in rows}
    table = []
    for mid in models:
        row = {"model_type": "cnn", **by_id.get(mid, {"id": mid})}
        row.setdefault("data_type", DATA_TYPES.get(str(row.get("source", "")), ""))
        table.append({k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()})
    catalogue = pd.DataFrame(table)
    return _bundle.write_bundle(folder, list(models), list(models.values()), catalogue, name=name,
                                version=__version__, provenance=provenance or {"trained_by": "varbind.train"})


def read_bundle(folder: str | os.PathLike) -> tuple[dict[str, DeepBindParams], list[dict[str, str]]]:
    """Read a bundle folder: ``{id: params}`` (float32 weights) and the catalogue rows (strings)."""
    b = _bundle.read_bundle(folder, allow_bare=True)
    rows = b.catalogue.to_dict(orient="records")
    return dict(zip(b.ids, b.params)), rows


def export_params(folder: str | os.PathLike, models: Mapping[str, DeepBindParams]) -> list[Path]:
    """Write each model as ``<folder>/<id>.txt`` in DeepBind v0.1 format (readable by ``deepbind``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for mid, p in models.items():
        path = folder / f"{mid}.txt"
        write_params(p, path)
        paths.append(path)
    return paths
