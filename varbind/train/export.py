"""Export trained models: a varbind bundle (safetensors + catalogue TSV) and DeepBind v0.1 param files.

Bundle format (a folder)
------------------------
``models.safetensors``
    For model ID ``X``: float32 tensors ``X/detectors`` (d, 4, m), ``X/thresholds`` (d,),
    ``X/weights1`` (n_in, h or 1), ``X/biases1``, ``X/weights2`` (h,), ``X/biases2`` ((1,) or (0,));
    header metadata ``X/reverse_complement`` and ``X/has_avg_pooling`` as ``"0"``/``"1"``.
``catalogue.tsv``
    One row per model, tab-separated, first column ``id``; the training catalogue has ``id, tf,
    family, species, source, experiment, detector_len, test_metric, test_value, sha256`` and extras.
    ``sha256`` is the digest of the model's DeepBind v0.1 text (:func:`model_sha256`).

No pickle anywhere. The lead's general reader/writer lives in ``varbind.pretrained``; this one is the
minimal writer the training pipeline needs, and a reader for round trips.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import InputFormatError
from ..params import DeepBindParams, format_params
from ..params import write as write_params

_ARRAYS = ("detectors", "thresholds", "weights1", "biases1", "weights2", "biases2")
CATALOGUE_COLUMNS = ("id", "tf", "family", "species", "source", "experiment", "detector_len",
                     "test_metric", "test_value", "sha256")


def model_sha256(p: DeepBindParams) -> str:
    """sha256 of the model's DeepBind v0.1 parameter text (what ``export_params`` writes).

    Examples
    --------
    >>> from varbind.params import random_params
    >>> len(model_sha256(random_params(seed=0)))
    64
    """
    return hashlib.sha256(format_params(p).encode("ascii")).hexdigest()


def as_float32(p: DeepBindParams) -> DeepBindParams:
    """``p`` with every weight rounded to float32 (what the bundle stores), as float64 arrays."""
    f = {k: np.asarray(getattr(p, k), dtype=np.float32).astype(np.float64) for k in _ARRAYS}
    return DeepBindParams(p.reverse_complement, p.has_avg_pooling, **f)


def write_bundle(folder: str | os.PathLike, models: Mapping[str, DeepBindParams],
                 rows: Sequence[Mapping[str, object]]) -> Path:
    """Write a bundle folder: ``models.safetensors`` and ``catalogue.tsv`` (temp files, then renames).

    ``rows`` are catalogue rows (dicts with at least ``id``); ``sha256`` and ``detector_len`` are
    filled in from the weights (as stored, float32).

    Examples
    --------
    >>> import tempfile
    >>> from varbind.params import random_params
    >>> d = tempfile.mkdtemp()
    >>> _ = write_bundle(d, {"m1": random_params(detector_len=5, seed=0)}, [{"id": "m1", "tf": "X"}])
    >>> read_bundle(d)[0]["m1"].detector_len, read_bundle(d)[1][0]["tf"]
    (5, 'X')
    """
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, np.ndarray] = {}
    meta: dict[str, str] = {}
    for mid, p in models.items():
        if "/" in mid or "\t" in mid:
            raise ValueError(f"model id {mid!r} may not hold '/' or a tab")
        for key in _ARRAYS:
            tensors[f"{mid}/{key}"] = np.ascontiguousarray(getattr(p, key), dtype=np.float32)
        meta[f"{mid}/reverse_complement"] = str(int(p.reverse_complement))
        meta[f"{mid}/has_avg_pooling"] = str(int(p.has_avg_pooling))
    tmp = folder / "models.safetensors.tmp"
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, folder / "models.safetensors")
    by_id = {str(r["id"]): dict(r) for r in rows}
    columns = list(CATALOGUE_COLUMNS) + sorted({k for r in rows for k in r} - set(CATALOGUE_COLUMNS))
    lines = ["\t".join(columns)]
    for mid, p in models.items():
        row = by_id.get(mid, {"id": mid})
        row["sha256"] = model_sha256(as_float32(p))
        row["detector_len"] = p.detector_len
        lines.append("\t".join(_cell(row.get(c, "")) for c in columns))
    tmp = folder / "catalogue.tsv.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, folder / "catalogue.tsv")
    return folder


def _cell(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if np.isfinite(v) else ""
    return str(v).replace("\t", " ").replace("\n", " ")


def read_bundle(folder: str | os.PathLike) -> tuple[dict[str, DeepBindParams], list[dict[str, str]]]:
    """Read a bundle folder: models (float64 copies of the stored float32) and catalogue rows."""
    from safetensors import safe_open

    folder = Path(folder)
    path = folder / "models.safetensors"
    rows = []
    lines = (folder / "catalogue.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    for line in lines[1:]:
        rows.append(dict(zip(header, line.split("\t"))))
    models: dict[str, DeepBindParams] = {}
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata() or {}
        stored = {k.rsplit("/", 1)[0] for k in f.keys()}
        listed = [r["id"] for r in rows if r.get("id") in stored]
        ids = listed + sorted(stored - set(listed))
        for mid in ids:
            try:
                arrays = {k: f.get_tensor(f"{mid}/{k}").astype(np.float64) for k in _ARRAYS}
                rc, avg = meta[f"{mid}/reverse_complement"], meta[f"{mid}/has_avg_pooling"]
            except KeyError as e:
                raise InputFormatError(f"{path}: model {mid!r} lacks {e}") from None
            models[mid] = DeepBindParams(rc == "1", avg == "1", **arrays).validate(f"{path}:{mid}")
    return models, rows


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
