"""Read and write DeepBind v0.1 parameter files exactly.

A file is ``# deepbind 0.1`` then ``key = value`` lines: ``reverse_complement``, ``num_detectors``,
``detector_len`` (m), ``has_avg_pooling``, ``num_hidden``, then comma-separated ``detectors``
(index ``k + d*(base + 4*pos)``), ``thresholds``, ``weights1`` (index ``i*num_hidden2 + j``),
``biases1``, ``weights2``, ``biases2``. Numbers are kept as float64 so that ``read`` then ``write``
reproduces a file written with ``%.9e`` byte for byte.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ParamsFormatError

HEADER = "# deepbind 0.1"
_INT_KEYS = ("reverse_complement", "num_detectors", "detector_len", "has_avg_pooling", "num_hidden")
_ARRAY_KEYS = ("detectors", "thresholds", "weights1", "biases1", "weights2", "biases2")
#: largest architecture accepted (the published DeepBind models have <= 16 detectors of <= 24 bp
#: and <= 32 hidden units); bounds what a file may make varbind allocate
MAX_DIMS = {"num_detectors": 4096, "detector_len": 1024, "num_hidden": 4096}
#: largest params file read (a file within MAX_DIMS written as %.9e is far smaller)
MAX_FILE_BYTES = 64 << 20


@dataclass(eq=False)
class DeepBindParams:
    """Weights of one DeepBind model in natural shapes.

    Attributes
    ----------
    reverse_complement : bool
        Score both strands and take the max.
    has_avg_pooling : bool
        Pool the mean as well as the max of every detector.
    detectors : ndarray, shape (num_detectors, 4, detector_len)
        Motif detectors, ACGT rows.
    thresholds : ndarray, shape (num_detectors,)
        Added to each detector's convolution before the ReLU.
    weights1 : ndarray, shape (num_inputs, num_hidden or 1)
        ``num_inputs`` is ``num_detectors * (2 if has_avg_pooling else 1)``, interleaved
        ``[max_0, avg_0, max_1, ...]`` when average pooling is on.
    biases1 : ndarray, shape (num_hidden or 1,)
    weights2 : ndarray, shape (num_hidden,) or (0,)
    biases2 : ndarray, shape (1,) or (0,)
    """

    reverse_complement: bool
    has_avg_pooling: bool
    detectors: np.ndarray
    thresholds: np.ndarray
    weights1: np.ndarray
    biases1: np.ndarray
    weights2: np.ndarray
    biases2: np.ndarray

    @property
    def num_detectors(self) -> int:
        return int(self.detectors.shape[0])

    @property
    def detector_len(self) -> int:
        return int(self.detectors.shape[2])

    @property
    def num_hidden(self) -> int:
        return int(self.weights2.shape[0])

    def validate(self, where: str = "<params>") -> DeepBindParams:
        """Check that every array has the shape the architecture implies; return self."""
        d, m, h = self.num_detectors, self.detector_len, self.num_hidden
        n_in = d * (2 if self.has_avg_pooling else 1)
        expect = {
            "detectors": (d, 4, m),
            "thresholds": (d,),
            "weights1": (n_in, h or 1),
            "biases1": (h or 1,),
            "weights2": (h,),
            "biases2": (1,) if h else (0,),
        }
        for key, shape in expect.items():
            arr = getattr(self, key)
            if tuple(arr.shape) != shape:
                raise ParamsFormatError(where, key, f"shape {tuple(arr.shape)}, expected {shape}")
            if not np.all(np.isfinite(arr)):
                raise ParamsFormatError(where, key, "holds a non-finite number")
        if d < 1 or m < 1:
            raise ParamsFormatError(where, "num_detectors" if d < 1 else "detector_len", "must be >= 1")
        return self

    def equals(self, other: DeepBindParams) -> bool:
        """Exact equality of architecture and every weight."""
        return (
            self.reverse_complement == other.reverse_complement
            and self.has_avg_pooling == other.has_avg_pooling
            and all(np.array_equal(getattr(self, k), getattr(other, k)) for k in _ARRAY_KEYS)
        )


def _parse_array(text: str, path: str, key: str) -> np.ndarray:
    text = text.strip()
    if not text:
        return np.zeros(0, dtype=np.float64)
    try:
        return np.array([float(v) for v in text.split(",")], dtype=np.float64)
    except ValueError:
        bad = next(v for v in text.split(",") if not _is_float(v))
        raise ParamsFormatError(path, key, f"not a number: {bad.strip()[:40]!r}") from None


def _is_float(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def parse(text: str, path: str = "<string>") -> DeepBindParams:
    """Parse the text of a DeepBind v0.1 parameter file.

    Raises
    ------
    ParamsFormatError
        Naming ``path`` and the offending key.

    Examples
    --------
    >>> p = parse(format_params(random_params(num_detectors=2, detector_len=3, seed=0)))
    >>> p.detectors.shape
    (2, 4, 3)
    """
    values: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "=" not in line:
            raise ParamsFormatError(path, None, f"line {lineno}: expected 'key = value', got {line[:40]!r}")
        key, _, value = line.partition("=")
        key = key.strip()
        if key not in _INT_KEYS + _ARRAY_KEYS:
            raise ParamsFormatError(path, key, f"line {lineno}: unknown key")
        if key in values:
            raise ParamsFormatError(path, key, f"line {lineno}: given twice")
        values[key] = value
    for key in _INT_KEYS + _ARRAY_KEYS:
        if key not in values:
            raise ParamsFormatError(path, key, "missing")
    ints = {}
    for key in _INT_KEYS:
        try:
            ints[key] = int(values[key].strip())
        except ValueError:
            raise ParamsFormatError(path, key, f"not an integer: {values[key].strip()[:40]!r}") from None
        if ints[key] < 0 or (key in ("reverse_complement", "has_avg_pooling") and ints[key] > 1):
            raise ParamsFormatError(path, key, f"out of range: {ints[key]}")
        if ints[key] > MAX_DIMS.get(key, ints[key]):
            raise ParamsFormatError(path, key, f"{ints[key]} is above varbind's limit of {MAX_DIMS[key]}")
    d, m, h = ints["num_detectors"], ints["detector_len"], ints["num_hidden"]
    avg = bool(ints["has_avg_pooling"])
    n_in = d * (2 if avg else 1)
    sizes = {
        "detectors": d * 4 * m,
        "thresholds": d,
        "weights1": n_in * (h or 1),
        "biases1": h or 1,
        "weights2": h,
        "biases2": 1 if h else 0,
    }
    for key, size in sizes.items():  # the declared sizes, checked before any number is converted
        text = values[key].strip()
        n = text.count(",") + 1 if text else 0
        if n != size:
            raise ParamsFormatError(path, key, f"has {n} values, expected {size}")
    arrays = {key: _parse_array(values[key], path, key) for key in _ARRAY_KEYS}
    return DeepBindParams(
        reverse_complement=bool(ints["reverse_complement"]),
        has_avg_pooling=avg,
        detectors=arrays["detectors"].reshape(m, 4, d).transpose(2, 1, 0).copy(),
        thresholds=arrays["thresholds"],
        weights1=arrays["weights1"].reshape(n_in, h or 1),
        biases1=arrays["biases1"],
        weights2=arrays["weights2"],
        biases2=arrays["biases2"],
    ).validate(path)


def read(path: str | os.PathLike) -> DeepBindParams:
    """Read a DeepBind v0.1 parameter file (see :func:`parse`)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ParamsFormatError(str(path), None, f"{size} bytes, above varbind's limit of {MAX_FILE_BYTES} "
                                    "for a params file")
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError:
        raise ParamsFormatError(str(path), None, "not a text file") from None
    except OSError as e:
        raise ParamsFormatError(str(path), None, f"cannot read: {e.strerror or e}") from None
    return parse(text, str(path))


def _fmt(arr: np.ndarray) -> str:
    return ",".join(f"{v:.9e}" for v in np.asarray(arr, dtype=np.float64).ravel())


def format_params(p: DeepBindParams) -> str:
    """The text of a DeepBind v0.1 parameter file for ``p`` (numbers as ``%.9e``)."""
    return "\n".join(
        [
            HEADER,
            f"reverse_complement = {int(p.reverse_complement)}",
            f"num_detectors = {p.num_detectors}",
            f"detector_len = {p.detector_len}",
            f"has_avg_pooling = {int(p.has_avg_pooling)}",
            f"num_hidden = {p.num_hidden}",
            f"detectors = {_fmt(p.detectors.transpose(2, 1, 0))}",
            f"thresholds = {_fmt(p.thresholds)}",
            f"weights1 = {_fmt(p.weights1)}",
            f"biases1 = {_fmt(p.biases1)}",
            f"weights2 = {_fmt(p.weights2)}",
            f"biases2 = {_fmt(p.biases2)}",
        ]
    ) + "\n"


def write(p: DeepBindParams, path: str | os.PathLike) -> None:
    """Write ``p`` as a DeepBind v0.1 parameter file (atomically: temp file, then rename)."""
    from ._fs import write_text

    write_text(path, format_params(p), encoding="ascii")


def random_params(
    num_detectors: int = 16,
    detector_len: int = 24,
    has_avg_pooling: bool = True,
    num_hidden: int = 0,
    reverse_complement: bool = True,
    seed: int | None = None,
) -> DeepBindParams:
    """Random weights of a given architecture (for tests and examples).

    Examples
    --------
    >>> random_params(num_detectors=4, detector_len=5, num_hidden=32, seed=1).weights1.shape
    (8, 32)
    """
    rng = np.random.default_rng(seed)
    d, m, h = num_detectors, detector_len, num_hidden
    n_in = d * (2 if has_avg_pooling else 1)
    return DeepBindParams(
        reverse_complement=reverse_complement,
        has_avg_pooling=has_avg_pooling,
        detectors=rng.normal(0, 0.5, (d, 4, m)),
        thresholds=rng.normal(-1.0, 0.5, d),
        weights1=rng.normal(0, 1.0, (n_in, h or 1)),
        biases1=rng.normal(0, 0.5, h or 1),
        weights2=rng.normal(0, 1.0, h),
        biases2=rng.normal(0, 0.5, 1 if h else 0),
    )
