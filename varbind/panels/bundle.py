"""The varbind model bundle: a folder of models in safetensors, a TSV catalogue and a manifest.

A bundle folder holds

``models.safetensors``
    For model ID ``X``: tensors ``X/detectors`` (d, 4, m), ``X/thresholds`` (d,), ``X/weights1``
    (n_in, H or 1), ``X/biases1``, ``X/weights2`` (H,), ``X/biases2``, all float32; the header
    metadata holds ``X/reverse_complement`` and ``X/has_avg_pooling`` as ``"0"``/``"1"``.
``catalogue.tsv``
    One row per model, in bundle order, columns :data:`CATALOGUE_COLUMNS` (more are kept).
``null.npz`` (optional)
    Null-distribution quantiles of every model's score (see :mod:`varbind.panels.nulls`).
``bundle.json``
    ``name``, ``version``, ``provenance`` (free-form dict), and the sha256 of each of the files
    above (``files``), checked on every load.

The sha256 of one model (catalogue column ``sha256``) is the sha256 of the ASCII text of its
DeepBind v0.1 parameter file as :func:`varbind.params.format_params` writes it from the float32
weights stored in the bundle (every number as ``%.9e``). It identifies a model's weights whatever
the container; :func:`verify_models` recomputes it. Column ``weights_sha256`` is the sha256 of
the model's float32 buffers as stored (:func:`weights_sha256`: fast), checked for every model
loaded; the hash of a panel as scored (:func:`panel_weights_sha256`, recorded as
``##varbind_panel_sha256``) is computed from the weights in memory, never read from a file.
Nothing here uses pickle.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import BundleFormatError, ChecksumError
from ..params import DeepBindParams, format_params

MODELS, CATALOGUE, NULL, MANIFEST = "models.safetensors", "catalogue.tsv", "null.npz", "bundle.json"
_ARRAYS = ("detectors", "thresholds", "weights1", "biases1", "weights2", "biases2")
_FLAGS = ("reverse_complement", "has_avg_pooling")
#: catalogue columns every bundle has (in this order; missing ones are written empty)
CATALOGUE_COLUMNS = [
    "id", "tf", "family", "tf_class", "species", "source", "experiment", "data_type",
    "model_type", "detector_len", "sha256", "test_metric", "test_value", "weights_sha256",
]


class Bundle(NamedTuple):
    """A bundle read into memory: parallel ``ids``/``params``, the catalogue, null table, manifest."""

    ids: list[str]
    params: list[DeepBindParams]
    catalogue: "pd.DataFrame"  # noqa: F821 (pandas imported lazily)
    null: "NullTable | None"  # noqa: F821
    info: dict


def model_sha256(p: DeepBindParams) -> str:
    """sha256 of the canonical DeepBind v0.1 text of ``p``'s weights as float32 (hex).

    Examples
    --------
    >>> from varbind.params import random_params
    >>> p = random_params(num_detectors=2, detector_len=3, seed=0)
    >>> model_sha256(p) == model_sha256(as_float32(p))
    True
    """
    return hashlib.sha256(format_params(as_float32(p)).encode("ascii")).hexdigest()


def weights_sha256(p: DeepBindParams) -> str:
    """sha256 (hex) of a model's weights as scored: the two flags, then each array's shape and
    float32 little-endian bytes, in the bundle's order. Fast (no text formatting).

    Examples
    --------
    >>> from varbind.params import random_params
    >>> p = random_params(num_detectors=2, detector_len=3, seed=0)
    >>> weights_sha256(p) == weights_sha256(as_float32(p))
    True
    """
    h = hashlib.sha256(b"varbind-weights-1\0" + bytes([int(bool(p.reverse_complement)), int(bool(p.has_avg_pooling))]))
    for k in _ARRAYS:
        arr = np.ascontiguousarray(getattr(p, k), dtype="<f4")
        h.update(np.asarray(arr.shape, "<i8").tobytes())
        h.update(arr.tobytes())
    return h.hexdigest()


def panel_weights_sha256(ids: Sequence[str], params: Sequence[DeepBindParams]) -> str:
    """sha256 of a set of models as scored: over ``ID<TAB>weights sha256`` lines in the given order.

    Computed from the weights themselves, so edited weights always change it.

    Examples
    --------
    >>> from varbind.params import random_params
    >>> a, b = random_params(detector_len=3, seed=0), random_params(detector_len=3, seed=1)
    >>> panel_weights_sha256(["x", "y"], [a, b]) == panel_weights_sha256(["y", "x"], [b, a])
    False
    """
    h = hashlib.sha256()
    for model_id, p in zip(ids, params):
        h.update(f"{model_id}\t{weights_sha256(p)}\n".encode())
    return h.hexdigest()


def models_sha256(ids: Sequence[str], params: Sequence[DeepBindParams], known: Mapping[str, str] | None = None) -> str:
    """sha256 of a set of models as used: over ``ID<TAB>model sha256`` lines in the given order.

    Any change of a model's weights, of the selection or of its order changes it. ``known`` maps IDs
    to model sha256s already at hand (a catalogue's ``sha256`` column), computed otherwise.

    Examples
    --------
    >>> from varbind.params import random_params
    >>> a, b = random_params(detector_len=3, seed=0), random_params(detector_len=3, seed=1)
    >>> models_sha256(["x", "y"], [a, b]) == models_sha256(["x", "y"], [a, b], {"x": model_sha256(a)})
    True
    >>> models_sha256(["x", "y"], [a, b]) == models_sha256(["y", "x"], [b, a])
    False
    """
    known = known or {}
    h = hashlib.sha256()
    for model_id, p in zip(ids, params):
        h.update(f"{model_id}\t{known.get(model_id) or model_sha256(p)}\n".encode())
    return h.hexdigest()


def as_float32(p: DeepBindParams) -> DeepBindParams:
    """``p`` with every array rounded to float32 (what a bundle stores)."""
    return DeepBindParams(
        reverse_complement=bool(p.reverse_complement),
        has_avg_pooling=bool(p.has_avg_pooling),
        **{k: np.ascontiguousarray(getattr(p, k), dtype=np.float32) for k in _ARRAYS},
    )


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_bundle(
    path: str | os.PathLike,
    ids: list[str],
    params: list[DeepBindParams],
    catalogue: "pd.DataFrame",  # noqa: F821
    *,
    name: str,
    version: str,
    provenance: dict,
    null: "NullTable | None" = None,  # noqa: F821
) -> Path:
    """Write a bundle folder atomically (built in a temporary sibling, then renamed into place).

    ``catalogue`` has one row per model in ``ids`` order (column ``id`` must equal ``ids``);
    ``sha256`` and ``detector_len`` are (re)computed from the weights. An existing bundle at
    ``path`` is replaced only once the new one is complete.
    """
    from .nulls import save_null

    path = Path(path)
    if len(set(ids)) != len(ids):
        raise BundleFormatError(f"{path}: duplicate model ids")
    if list(catalogue["id"].astype(str)) != list(ids):
        raise BundleFormatError(f"{path}: catalogue rows are not in model order")
    tensors: dict[str, np.ndarray] = {}
    meta: dict[str, str] = {}
    cat = catalogue.copy()
    shas, wshas = [], []
    for model_id, p in zip(ids, params):
        if "/" in model_id or not model_id.strip():
            raise BundleFormatError(f"{path}: model id {model_id!r} must be non-empty and hold no '/'")
        p32 = as_float32(p.validate(model_id))
        for k in _ARRAYS:
            tensors[f"{model_id}/{k}"] = getattr(p32, k)
        for k in _FLAGS:
            meta[f"{model_id}/{k}"] = "1" if getattr(p32, k) else "0"
        shas.append(model_sha256(p32))
        wshas.append(weights_sha256(p32))
    cat["sha256"] = shas
    cat["weights_sha256"] = wshas
    cat["detector_len"] = [p.detector_len for p in params]
    for col in CATALOGUE_COLUMNS:
        if col not in cat.columns:
            cat[col] = ""
    cat = cat[CATALOGUE_COLUMNS + [c for c in cat.columns if c not in CATALOGUE_COLUMNS]]
    from .._fs import atomic_dir

    with atomic_dir(path) as tmp:
        (tmp / MODELS).write_bytes(_safetensors_bytes(tensors, meta))
        cat.to_csv(tmp / CATALOGUE, sep="\t", index=False)
        files = [MODELS, CATALOGUE]
        if null is not None:
            if list(null.ids) != list(ids):
                raise BundleFormatError(f"{path}: null table ids differ from the model ids")
            save_null(null, tmp / NULL)
            files.append(NULL)
        manifest = {
            "name": name,
            "version": version,
            "format": "varbind-bundle-1",
            "n_models": len(ids),
            "provenance": provenance,
            "null": null.provenance if null is not None else None,
            "files": {f: file_sha256(tmp / f) for f in files},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=False) + "\n")
        for f in [*files, MANIFEST]:
            os.chmod(tmp / f, 0o644)
    return path


def _safetensors_bytes(tensors: dict[str, np.ndarray], meta: dict[str, str]) -> bytes:
    """A safetensors file whose header JSON has sorted keys (so a rebuild is byte-identical)."""
    from safetensors.numpy import save

    data = save(tensors, metadata=meta)
    (n,) = struct.unpack("<Q", data[:8])
    header = json.dumps(json.loads(data[8 : 8 + n]), separators=(",", ":"), sort_keys=True).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data[8 + n :]


def is_bundle(path: str | os.PathLike) -> bool:
    """True when ``path`` is a folder with ``bundle.json``."""
    return (Path(path) / MANIFEST).is_file()


def read_manifest(path: str | os.PathLike) -> dict:
    """The parsed ``bundle.json`` of a bundle folder."""
    file = Path(path) / MANIFEST
    try:
        info = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleFormatError(f"{file}: unreadable bundle manifest: {e}") from None
    if not isinstance(info, dict) or not isinstance(info.get("files"), dict) or MODELS not in info["files"]:
        raise BundleFormatError(f"{file}: not a varbind bundle manifest (no 'files' with {MODELS})")
    return info


def _checked_bytes(path: Path, info: dict, name: str, verify: bool) -> bytes:
    file = path / name
    try:
        data = file.read_bytes()
    except OSError as e:
        raise BundleFormatError(f"{file}: cannot read: {e.strerror or e}") from None
    if verify:
        got = hashlib.sha256(data).hexdigest()
        want = info["files"].get(name)
        if got != want:
            raise ChecksumError(f"{file}: sha256 {got[:16]}... differs from {want and want[:16]}... in {MANIFEST}; "
                                "the file is corrupt or was changed")
    return data


def _parse_safetensors(data: bytes, file: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + n])
        tensors = load(data)
    except (struct.error, ValueError, UnicodeDecodeError, SafetensorError) as e:
        raise BundleFormatError(f"{file}: not a valid safetensors file ({e})") from None
    return tensors, header.get("__metadata__") or {}


def read_bundle(path: str | os.PathLike, ids: list[str] | None = None, *, verify: bool = True,
                allow_bare: bool = False) -> Bundle:
    """Read a bundle folder (one read of each file; sha256s checked against ``bundle.json``).

    Parameters
    ----------
    path : path
    ids : list of str, optional
        Only these models, in this order (default: all, in bundle order).
    verify : bool
        Check each file's sha256 against the manifest (default).
    allow_bare : bool
        Accept a folder without ``bundle.json`` (only ``models.safetensors`` + ``catalogue.tsv``, as
        the trainer writes it); nothing is checked then but the per-model sha256 (:func:`verify_models`).

    Raises
    ------
    ChecksumError, BundleFormatError, ModelNotFoundError
    """
    import io

    import pandas as pd

    from ..errors import ModelNotFoundError
    from .nulls import load_null

    path = Path(path)
    if allow_bare and not (path / MANIFEST).exists():
        info, verify = {"name": path.name, "files": {}}, False
    else:
        info = read_manifest(path)
    tensors, meta = _parse_safetensors(_checked_bytes(path, info, MODELS, verify), path / MODELS)
    cat_bytes = _checked_bytes(path, info, CATALOGUE, verify and CATALOGUE in info["files"])
    try:
        catalogue = pd.read_csv(io.BytesIO(cat_bytes), sep="\t", dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise BundleFormatError(f"{path / CATALOGUE}: unreadable catalogue: {e}") from None
    if "id" not in catalogue.columns:
        raise BundleFormatError(f"{path / CATALOGUE}: no 'id' column")
    catalogue = catalogue.set_index("id", drop=False)
    catalogue.index.name = None
    if ids is not None:
        missing = [i for i in ids if i not in catalogue.index]
        if missing:
            raise ModelNotFoundError(f"model {missing[0]!r} is not in {path} ({len(missing)} unknown ids)")
        catalogue = catalogue.loc[list(ids)]
    ids = list(catalogue.index)
    params = []
    for model_id in ids:
        try:
            arrays = {k: tensors[f"{model_id}/{k}"] for k in _ARRAYS}
            flags = {k: meta[f"{model_id}/{k}"] == "1" for k in _FLAGS}
        except KeyError as e:
            raise BundleFormatError(f"{path / MODELS}: model {model_id!r} lacks {e.args[0]!r}") from None
        params.append(DeepBindParams(**flags, **arrays).validate(f"{path / MODELS}:{model_id}"))
    if verify or allow_bare:
        _verify_weights(path, ids, params, catalogue)
    null = None
    if NULL in info["files"]:
        null = load_null(_checked_bytes(path, info, NULL, verify), path / NULL, ids)
        null = null._replace(provenance=info.get("null") or {})
    return Bundle(ids, params, catalogue, null, info)


def _verify_weights(path: Path, ids: Sequence[str], params: Sequence[DeepBindParams], catalogue) -> None:
    """Each model's weights against its catalogue hash: ``weights_sha256`` (fast) where the
    catalogue has it, else the DeepBind-text ``sha256`` (bundles built before the column existed).

    Raises
    ------
    ChecksumError
        Naming the first model whose weights differ (edited after the bundle was built).
    """
    for col, fn in (("weights_sha256", weights_sha256), ("sha256", model_sha256)):
        if col in catalogue.columns and all(catalogue[col].astype(str).str.len() == 64):
            want = catalogue[col].astype(str).tolist()
            for model_id, p, w in zip(ids, params, want):
                got = fn(p)
                if got != w:
                    raise ChecksumError(f"{path / MODELS}: model {model_id!r}: weights sha256 {got[:16]}... differ "
                                        f"from {w[:16]}... in {CATALOGUE} ({col}); the weights were changed after "
                                        "the bundle was built")
            return
    raise ChecksumError(f"{path / CATALOGUE}: no per-model sha256 to check the weights against")


def verify_models(bundle: Bundle) -> list[str]:
    """IDs whose weights differ from the catalogue's ``sha256`` (or ``weights_sha256``, where the
    catalogue has it); empty when all match. Slow (the DeepBind text of every model)."""
    cat = bundle.catalogue
    fast = "weights_sha256" in cat.columns
    return [i for i, p in zip(bundle.ids, bundle.params)
            if model_sha256(p) != cat.at[i, "sha256"] or (fast and weights_sha256(p) != cat.at[i, "weights_sha256"])]


def with_quality(cat: pd.DataFrame) -> pd.DataFrame:
    """``cat`` with the columns ``quality`` (the model's held-out metric, ``test_value``; empty where
    unknown) and ``quality_metric`` (``auc``, ``pearson``, ...) when it lacks them."""
    if "quality" not in cat.columns:
        cat = cat.assign(quality=cat["test_value"] if "test_value" in cat.columns else "")
    if "quality_metric" not in cat.columns:
        cat = cat.assign(quality_metric=cat["test_metric"] if "test_metric" in cat.columns else "")
    return cat


def catalogue_frame(path: str | os.PathLike) -> tuple[str, pd.DataFrame, dict]:
    """Name, catalogue (indexed by ID, with :func:`with_quality`'s columns) and manifest of one bundle."""
    import io as _io

    import pandas as pd

    path = Path(path)
    info = read_manifest(path)
    cat = pd.read_csv(_io.StringIO((path / CATALOGUE).read_text()), sep="\t", dtype=str, keep_default_na=False)
    return info.get("name", path.name), with_quality(cat.set_index("id", drop=False).rename_axis(None)), info
