"""Bounded inputs and writes confined to the data folder (issue 16): panel names, archive limits,
params files checked against their declared sizes before they are parsed."""
from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from varbind import _fs, params
from varbind.panels import deepbind_import
from varbind.cli import main
from varbind.errors import LimitExceededError, ModelSourceError, OutputError, ParamsFormatError, VarbindError

from .annotate_helpers import write_db


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("VARBIND_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


# ---------------------------------------------------------------- 5. a name is a name


@pytest.mark.parametrize("name", ["/abs/dir", "../../x", "a/b", "..", ".hidden", "", "sp ace", "a\\b"])
def test_panel_name_that_is_a_path_is_refused(tmp_path, data_dir, capfd, name):
    victim = tmp_path / "x"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious\n")
    db = write_db(tmp_path / "db")
    rc = main(["models", "import-deepbind", str(db), "--name", name])
    err = capfd.readouterr().err
    assert rc == 2 and "invalid panel name" in err and "Traceback" not in err, err
    assert (victim / "keep.txt").read_text() == "precious\n"
    assert not (data_dir / "panels").exists() or list((data_dir / "panels").iterdir()) == []


def test_import_never_replaces_a_folder_it_did_not_make(tmp_path, data_dir, capfd):
    mine = data_dir / "panels" / "mine"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("not a bundle\n")
    db = write_db(tmp_path / "db")
    assert main(["models", "import-deepbind", str(db), "--name", "mine"]) == 2
    assert "exists and is not a varbind bundle" in capfd.readouterr().err
    assert (mine / "notes.txt").read_text() == "not a bundle\n"


def test_valid_names_pass():
    for name in ("deepbind", "DeepBind_v0.11", "x-1"):
        assert deepbind_import.check_panel_name(name) == name


# ---------------------------------------------------------------- 6. extraction limits


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_archive_over_the_total_limit_is_refused_before_writing(tmp_path):
    arc = _tar(tmp_path / "bomb.tgz", {f"f{i}": b"\0" * 400_000 for i in range(5)})  # 2 MB of zeros, ~10 KB packed
    assert arc.stat().st_size < 20_000
    dest = tmp_path / "out"
    with pytest.raises(LimitExceededError, match="expands to more than 1000000 bytes"):
        deepbind_import.safe_extract(arc, dest, max_total_bytes=1_000_000)
    assert not dest.exists() or list(dest.rglob("*")) == []


def test_archive_member_and_count_limits(tmp_path):
    arc = _tar(tmp_path / "a.tgz", {"big": b"\0" * 300_000, **{f"s{i}": b"x" for i in range(10)}})
    with pytest.raises(LimitExceededError, match="member 'big' is 300000 bytes"):
        deepbind_import.safe_extract(arc, tmp_path / "o1", max_member_bytes=100_000)
    with pytest.raises(LimitExceededError, match="more than 5 members"):
        deepbind_import.safe_extract(arc, tmp_path / "o2", max_members=5)
    got = deepbind_import.safe_extract(arc, tmp_path / "o3")  # within the defaults
    assert (got / "big").stat().st_size == 300_000 and len(list(got.iterdir())) == 11


def test_import_of_an_oversized_archive_is_one_line(tmp_path, data_dir, capfd, monkeypatch):
    monkeypatch.setattr(deepbind_import, "MAX_TOTAL_BYTES", 100_000)
    arc = _tar(tmp_path / "bomb.tgz", {"deepbind/db/db.tsv": b"ID\n", "deepbind/zeros": b"\0" * 1_000_000})
    assert main(["models", "import-deepbind", str(arc)]) == 2
    err = capfd.readouterr().err
    assert "refusing to extract it" in err and "Traceback" not in err, err
    assert [p.name for p in (data_dir / "panels").iterdir()] == []  # the private work folder is gone too


# ---------------------------------------------------------------- 7. params files


def test_params_with_more_values_than_declared_fail_before_parsing(tmp_path):
    p = params.random_params(num_detectors=2, detector_len=3, seed=0)
    text = params.format_params(p).replace("thresholds = ", "thresholds = " + "1.0," * 2_000_000)
    path = tmp_path / "big.txt"
    path.write_text(text)
    t = time.process_time()
    with pytest.raises(ParamsFormatError, match="thresholds'.*has 2000002 values, expected 2"):
        params.read(path)
    # counted, not converted: far less CPU than turning 2 million strings into floats
    assert time.process_time() - t < 2.0


def test_params_file_above_the_size_limit_is_not_read(tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:  # a sparse 1 GiB file: no disk used, and it must not be read
        f.truncate(1 << 30)
    with pytest.raises(ParamsFormatError, match="above varbind's limit"):
        params.read(path)


def test_params_declaring_a_huge_architecture_are_refused(tmp_path):
    text = params.format_params(params.random_params(num_detectors=2, detector_len=3, seed=0))
    with pytest.raises(ParamsFormatError, match="num_detectors.*above varbind's limit of 4096"):
        params.parse(text.replace("num_detectors = 2", "num_detectors = 100000000"))


# ---------------------------------------------------------------- the atomic-write module itself


def test_atomic_write_failure_leaves_neither_file_nor_temp(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with _fs.atomic_open(target) as f:
            f.write("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old\n" and sorted(os.listdir(tmp_path)) == ["t.txt"]
    assert _fs.live_temporaries() == []


def test_atomic_write_into_a_missing_folder_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="cannot create a file in"):
        _fs.write_text(tmp_path / "nope" / "t.txt", "x")


def test_output_error_is_an_os_error_and_passes_atomic_blocks_unchanged(tmp_path):
    """OutputError is also an OSError (callers catching OSError keep working); one raised inside an
    atomic block is said as it is, not wrapped in a second 'cannot write' of the outer output."""
    assert issubclass(OutputError, OSError) and issubclass(OutputError, VarbindError)
    target = tmp_path / "d"
    target.mkdir()
    with pytest.raises(OutputError) as caught:
        with _fs.atomic_dir(target, replace=False):
            pass
    assert str(caught.value) == f"{target}: already exists" and sorted(os.listdir(tmp_path)) == ["d"]
    with pytest.raises(OutputError) as caught:
        with _fs.atomic_path(tmp_path / "out.txt"):
            _fs.write_text(tmp_path / "nope" / "inner.txt", "x")
    assert str(caught.value).startswith(f"{tmp_path / 'nope' / 'inner.txt'}: cannot create a file in")
    assert "out.txt" not in str(caught.value) and sorted(os.listdir(tmp_path)) == ["d"]
    assert _fs.live_temporaries() == []


def test_atomic_dir_replaces_only_when_complete(tmp_path):
    target = tmp_path / "d"
    with _fs.atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(ValueError):
        with _fs.atomic_dir(target) as tmp:
            (tmp / "a").write_text("2")
            raise ValueError("half-built")
    assert (target / "a").read_text() == "1" and sorted(os.listdir(tmp_path)) == ["d"]


def test_refuse_overwriting_input(tmp_path):
    a = tmp_path / "a.vcf"
    a.write_text("x")
    with pytest.raises(OutputError, match="the output is the input"):
        _fs.refuse_overwriting_input(tmp_path / "." / "a.vcf", None, a)
    _fs.refuse_overwriting_input(tmp_path / "b.vcf", a)  # a new file is fine
