from __future__ import annotations

import re

import numpy as np
import pytest

from varbind import params
from varbind.errors import ParamsFormatError


@pytest.mark.data
def test_all_published_files_round_trip_byte_for_byte(deepbind_dir):
    files = sorted((deepbind_dir / "params").glob("*.txt"))
    assert len(files) == 927
    for f in files:
        text = f.read_text()
        assert params.format_params(params.parse(text, str(f))) == text, f.name


@pytest.mark.data
def test_layout_of_detectors_matches_the_documented_index(deepbind_dir):
    f = deepbind_dir / "params" / "D00001.001.txt"
    raw = dict(line.split(" = ") for line in f.read_text().splitlines()[1:])
    flat = np.array([float(v) for v in raw["detectors"].split(",")])
    p = params.read(f)
    d = p.num_detectors
    for k, base, pos in [(0, 0, 0), (3, 2, 5), (15, 3, p.detector_len - 1)]:
        assert p.detectors[k, base, pos] == flat[k + d * (base + 4 * pos)]


def test_random_params_write_read_exact_after_first_export(tmp_path):
    p = params.random_params(num_detectors=3, detector_len=7, num_hidden=32, seed=2)
    params.write(p, tmp_path / "a.txt")
    q = params.read(tmp_path / "a.txt")
    params.write(q, tmp_path / "b.txt")
    assert (tmp_path / "a.txt").read_text() == (tmp_path / "b.txt").read_text()
    assert params.read(tmp_path / "b.txt").equals(q)
    assert np.allclose(q.detectors, p.detectors, rtol=1e-9)


GOOD = params.format_params(params.random_params(num_detectors=2, detector_len=3, seed=0))


@pytest.mark.parametrize(
    "mutate,key,msg",
    [
        (lambda t: t.replace("num_hidden = 0\n", ""), "num_hidden", "missing"),
        (lambda t: t.replace("detector_len = 3", "detector_len = three"), "detector_len", "not an integer"),
        (lambda t: t.replace("thresholds = ", "thresholds = 1.0,"), "thresholds", "has 3 values, expected 2"),
        (lambda t: t.replace("biases1 = ", "biases1 = x"), "biases1", "not a number"),
        (lambda t: t + "colour = blue\n", "colour", "unknown key"),
        (lambda t: t + "num_hidden = 0\n", "num_hidden", "given twice"),
        (lambda t: t.replace("reverse_complement = 1", "reverse_complement = 2"), "reverse_complement", "out of range"),
        (lambda t: re.sub(r"thresholds = [^,]+", "thresholds = inf", t), "thresholds", "non-finite"),
    ],
)
def test_malformed_file_error_names_file_and_key(tmp_path, mutate, key, msg):
    f = tmp_path / "bad.txt"
    f.write_text(mutate(GOOD))
    with pytest.raises(ParamsFormatError) as e:
        params.read(f)
    assert str(f) in str(e.value) and repr(key) in str(e.value) and msg in str(e.value)


def test_unreadable_and_binary_files(tmp_path):
    with pytest.raises(ParamsFormatError, match="cannot read"):
        params.read(tmp_path / "missing.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ParamsFormatError, match="not a text file"):
        params.read(tmp_path / "bin.txt")
