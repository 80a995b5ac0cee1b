"""Importing and downloading the published DeepBind models: safe archives, atomic import, exact scores."""
from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from varbind import predict
from varbind.panels import deepbind_db
from varbind.panels import deepbind_import
from varbind.panels import sources as pretrained
from varbind.cli import main
from varbind.errors import ArchiveError, ChecksumError, ModelSourceError, ParamsFormatError

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SMALL = ["D00001.001", "D00120.001", "D00210.001", "D00328.003", "D00411.003"]


@pytest.fixture(scope="module")
def deepbind_src() -> Path:
    path = SHARED / "data" / "deepbind"
    if not (path / "db.tsv").is_file():
        pytest.skip(f"needs {path} (the ../shared data folder beside the repository); not present here")
    return path


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("VARBIND_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def small_db(src: Path, dest: Path, ids=SMALL, deprecated: int = 3) -> Path:
    """A DeepBind db folder with a few models, plus some deprecated rows (no params)."""
    table = pd.read_csv(src / "db.tsv", sep="\t", comment="#", dtype=str, keep_default_na=False)
    old = table[table["Labels"] == "deprecated"].head(deprecated)
    (dest / "params").mkdir(parents=True)
    pd.concat([table[table["ID"].isin(ids)], old]).to_csv(dest / "db.tsv", sep="\t", index=False)
    for i in ids:
        (dest / "params" / f"{i}.txt").write_bytes((src / "params" / f"{i}.txt").read_bytes())
    return dest


def tarball(folder: Path, out: Path, arcname: str = "deepbind/db") -> Path:
    with tarfile.open(out, "w:gz") as tar:
        tar.add(folder, arcname=arcname)
    return out


def evil(out: Path, kind: str) -> Path:
    with tarfile.open(out, "w:gz") as tar:
        info = tarfile.TarInfo("deepbind/db/db.tsv")
        data = b"ID\tLabels\n"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        bad = tarfile.TarInfo({"abs": "/tmp/varbind-evil.txt", "dotdot": "deepbind/../../evil.txt",
                               "symlink": "deepbind/db/params", "hardlink": "deepbind/hl", "fifo": "deepbind/f"}[kind])
        if kind == "symlink":
            bad.type, bad.linkname = tarfile.SYMTYPE, "/etc"
        elif kind == "hardlink":
            bad.type, bad.linkname = tarfile.LNKTYPE, "/etc/passwd"
        elif kind == "fifo":
            bad.type = tarfile.FIFOTYPE
        payload = b"x" if kind in ("abs", "dotdot") else b""
        bad.size = len(payload)
        tar.addfile(bad, io.BytesIO(payload))
    return out


def assert_nothing_imported(data_dir: Path) -> None:
    panels = data_dir / "panels"
    assert not panels.exists() or [p.name for p in panels.iterdir()] == []


def test_import_small_db_folder_and_tarball_score_like_the_db(deepbind_src, tmp_path, data_dir):
    db = small_db(deepbind_src, tmp_path / "db")
    path = deepbind_import.import_deepbind(tarball(db, tmp_path / "db.tgz"), null_size=300)
    assert path == data_dir / "panels" / "deepbind-import"
    panel = pretrained.load_panel("deepbind-import")
    assert panel.bank.ids == SMALL and len(panel.catalogue) == 5  # deprecated rows skipped
    assert set(panel.catalogue["source"]) == {deepbind_import.SOURCE}
    seqs = ["ACGTTGCATTAGGCATCAGTTCACGATCCG", "GGGCGCGCATATNNTTTTACAGGTTGGCACCAATG"]
    direct = pretrained.load_panel(db)
    np.testing.assert_allclose(predict.score(panel.bank, seqs, mode="deepbind"),
                               predict.score(direct.bank, seqs, mode="deepbind"), rtol=1e-5, atol=1e-5)
    assert panel.null.quantiles.shape == (5, 1001) and panel.null.provenance["n"] == 300
    assert np.isfinite(pretrained.percentile(panel, predict.score(panel.bank, seqs))).all()
    # same null set definition as the shipped panel
    shipped = pretrained.load_panel("jaspar", ids=["MA0139.2"]).null.provenance
    assert panel.null.provenance["dinucleotide_counts"] == shipped["dinucleotide_counts"]
    assert [p.name for p in (data_dir / "panels").iterdir()] == ["deepbind-import"]  # no temporary leftovers


@pytest.mark.parametrize("kind", ["abs", "dotdot", "symlink", "hardlink", "fifo"])
def test_unsafe_archives_are_refused_and_nothing_is_imported(tmp_path, data_dir, kind):
    with pytest.raises(ArchiveError, match="refusing"):
        deepbind_import.import_deepbind(evil(tmp_path / "evil.tgz", kind))
    assert_nothing_imported(data_dir)
    assert not Path("/tmp/varbind-evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_corrupt_archive_and_malformed_models_are_clear_errors(deepbind_src, tmp_path, data_dir):
    db = small_db(deepbind_src, tmp_path / "db")
    good = tarball(db, tmp_path / "db.tgz").read_bytes()
    (tmp_path / "cut.tgz").write_bytes(good[: len(good) // 2])
    with pytest.raises(ArchiveError, match="corrupt or unreadable archive"):
        deepbind_import.import_deepbind(tmp_path / "cut.tgz")
    text = (db / "params" / "D00210.001.txt").read_text()
    (db / "params" / "D00210.001.txt").write_text(text.replace("num_hidden = ", "num_hidden = x"))
    with pytest.raises(ParamsFormatError, match="D00210.001.txt: key 'num_hidden'"):
        deepbind_import.import_deepbind(db)
    (db / "params" / "D00210.001.txt").unlink()
    with pytest.raises(ModelSourceError, match="1 models of db.tsv have no params file"):
        deepbind_import.import_deepbind(db)
    with pytest.raises(ModelSourceError, match="holds no DeepBind db folder"):
        deepbind_import.import_deepbind(tmp_path / "db" / "params")
    assert_nothing_imported(data_dir)


def test_a_failed_reimport_keeps_the_previous_panel(deepbind_src, tmp_path, data_dir):
    db = small_db(deepbind_src, tmp_path / "db")
    deepbind_import.import_deepbind(db, null_size=100)
    before = (data_dir / "panels" / "deepbind-import" / "models.safetensors").read_bytes()
    (db / "params" / "D00001.001.txt").write_text("# deepbind 0.1\nreverse_complement = 1\n")
    with pytest.raises(ParamsFormatError):
        deepbind_import.import_deepbind(db, null_size=100)
    assert (data_dir / "panels" / "deepbind-import" / "models.safetensors").read_bytes() == before
    assert [p.name for p in (data_dir / "panels").iterdir()] == ["deepbind-import"]


def test_download_from_a_file_url_checks_the_sha256(deepbind_src, tmp_path, data_dir, capsys):
    tgz = tarball(small_db(deepbind_src, tmp_path / "db"), tmp_path / "release.tgz")
    url = tgz.resolve().as_uri()
    with pytest.raises(ChecksumError):
        deepbind_import.download(url, "0" * 64, null_size=50)
    assert_nothing_imported(data_dir)
    sha = hashlib.sha256(tgz.read_bytes()).hexdigest()
    assert main(["models", "download", "deepbind", "--url", url, "--sha256", sha]) == 0
    assert "imported 5 models" in capsys.readouterr().err
    assert main(["models", "list", "--models", "deepbind-import", "--format", "tsv"]) == 0
    out = capsys.readouterr().out
    assert pd.read_csv(io.StringIO(out), sep="\t")["id"].tolist() == SMALL
    rc = main(["models", "download", "deepbind", "--url", url])
    assert rc == 2 and "no sha256 known" in capsys.readouterr().err


@pytest.mark.data
def test_imported_927_models_reproduce_the_deepbind_executable(deepbind_src, data_dir):
    deepbind_import.import_deepbind(deepbind_src, null_size=200)
    ref = deepbind_src / "reference"
    ids = (ref / "all.ids").read_text().split()
    panel = pretrained.load_panel("deepbind-import", ids=ids)
    assert len(pretrained.load_catalogue("deepbind-import")[1]) == 927
    seqs = [line.strip() for line in (ref / "sequences.txt").read_text().splitlines() if line.strip()]
    got = predict.score(panel.bank, seqs, mode="deepbind")
    want = pd.read_csv(ref / "scores_deepbind_v0.1.tsv.gz", sep="\t")
    assert list(want.columns) == ids and got.shape == (71, 927)
    diff = np.abs(got - want.values) / np.maximum(1.0, np.abs(want.values))
    assert diff.max() < 1e-4, f"worst {diff.max():.2e} at {np.unravel_index(diff.argmax(), diff.shape)}"
    assert deepbind_db.is_deepbind_db(deepbind_src)
