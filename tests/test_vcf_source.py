"""VCF input: stdin, -r/-R regions, record counts from the index, truncated gzip, progress."""
from __future__ import annotations

import gzip
import logging
import os
import shutil

import numpy as np
import pandas as pd
import pysam
import pytest

from varbind import progress
from varbind.io import vcf_regions
from varbind.io import vcf_source
from varbind.cli import main
from varbind.errors import InputFormatError

from .annotate_helpers import random_genome, write_db, write_fasta, write_vcf

#: (contig, 1-based POS, REF length): SNVs, and a 3-base deletion at chr1:199 spanning 199-201
SITES = [("chr1", 50, 1), ("chr1", 120, 1), ("chr1", 199, 3), ("chr1", 300, 1), ("chr2", 10, 1), ("chr2", 80, 1)]


@pytest.fixture()
def calls(tmp_path):
    """A FASTA, a VCF of :data:`SITES`, its bgzipped + tabix-indexed copy, and a tiny db."""
    rng = np.random.default_rng(11)
    g = {"chr1": random_genome(rng, 400), "chr2": random_genome(rng, 200)}
    fa = write_fasta(tmp_path / "g.fa", g)
    rows = []
    for c, pos, n in SITES:
        ref = g[c][pos - 1 : pos - 1 + n]
        alt = ref[0] if n > 1 else ("A" if ref != "A" else "C")
        rows.append(f"{c}\t{pos}\t.\t{ref}\t{alt}\t.\t.\t.")
    vcf = write_vcf(tmp_path / "v.vcf", rows, contigs={"chr1": 400, "chr2": 200})
    gz = tmp_path / "v.vcf.gz"
    pysam.tabix_compress(str(vcf), str(gz))
    pysam.tabix_index(str(gz), preset="vcf")
    return {"fa": fa, "vcf": vcf, "gz": gz, "db": write_db(tmp_path / "db"), "tmp": tmp_path}


def positions(source: vcf_source.VcfSource) -> list[tuple[str, int]]:
    return [(r.CHROM, r.POS) for batch in source.batches(2) for r in batch]


def test_regions_parse_like_bcftools():
    assert vcf_regions.parse_regions("chr1:100-200") == [vcf_regions.Span("chr1", 99, 200)]
    assert vcf_regions.parse_regions("chr1:100") == [vcf_regions.Span("chr1", 99, 100)]
    assert vcf_regions.parse_regions("chr1:100-") == [vcf_regions.Span("chr1", 99, vcf_regions.END)]
    with pytest.raises(InputFormatError, match="cannot read region 'chr1:x'"):
        vcf_regions.parse_regions("chr1:x")
    with pytest.raises(InputFormatError, match="empty"):
        vcf_regions.parse_regions("chr1:200-100")


@pytest.mark.parametrize("regions, want", [
    ("chr1:120", [("chr1", 120)]),
    ("chr1:200-200", [("chr1", 199)]),             # the deletion's span 199-201 overlaps 200
    ("chr1:100-199,chr1:201-400", [("chr1", 120), ("chr1", 199), ("chr1", 300)]),  # no record twice
    ("chr2,1:1-60", [("chr1", 50), ("chr2", 10), ("chr2", 80)]),  # file order; '1' aliased to chr1
    ("chr7", []),
])
def test_regions_with_index_and_streaming_agree(calls, tmp_path, regions, want):
    spans = vcf_regions.parse_regions(regions)
    indexed = vcf_source.open_source(str(calls["gz"]), spans)
    assert indexed._indexed and positions(indexed) == want
    bed = tmp_path / "r.bed"
    bed.write_text("".join(f"{s.chrom}\t{s.start}\t{min(s.end, 10**6)}\n" for s in spans))
    streamed = vcf_source.open_source(str(calls["vcf"]), *vcf_source.resolve_regions(None, str(bed)))
    assert not streamed._indexed and positions(streamed) == want


def test_r_on_a_file_without_index_says_so(calls, capfd):
    rc = main(["annotate", str(calls["vcf"]), "-r", "chr1:1-100", "--fasta", str(calls["fa"]), "--models",
               str(calls["db"]), "-o", str(calls["tmp"] / "o.vcf")])
    err = capfd.readouterr().err
    assert rc == 2 and "-r needs an index" in err and "tabix -p vcf" in err and "-R FILE" in err
    assert len(err.strip().splitlines()) == 1


def test_regions_file_tsv_is_one_based(calls, tmp_path):
    tsv = tmp_path / "r.tsv"
    tsv.write_text("# CHROM\tBEG\tEND\nchr1\t120\nchr2\t70\t90\n")
    src = vcf_source.open_source(str(calls["gz"]), *vcf_source.resolve_regions(None, str(tsv)))
    assert positions(src) == [("chr1", 120), ("chr2", 80)]
    tsv.write_text("chr1\tabc\n")
    with pytest.raises(InputFormatError, match="line 1"):
        vcf_regions.read_regions_file(str(tsv))


def _with_stdin(path, fn):
    """Run ``fn()`` with file descriptor 0 reading ``path`` (htslib reads fd 0 itself)."""
    saved = os.dup(0)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.dup2(fd, 0)
        return fn()
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(fd)


@pytest.mark.parametrize("which", ["vcf", "gz"])
def test_annotate_reads_stdin_and_filters_regions(calls, capfd, which):
    out_file = calls["tmp"] / "file.tsv"
    out_stdin = calls["tmp"] / "stdin.tsv"
    common = ["--fasta", str(calls["fa"]), "--models", str(calls["db"]), "--quiet", "-r", "chr1:100-250,chr2"]
    assert main(["annotate", str(calls["gz"]), "-o", str(out_file), *common]) == 0
    rc = _with_stdin(calls[which], lambda: main(["annotate", "-", "-o", str(out_stdin), *common]))
    assert rc == 0, capfd.readouterr().err
    assert out_stdin.read_bytes() == out_file.read_bytes()
    got = pd.read_csv(out_stdin, sep="\t")
    assert sorted(set(zip(got["chrom"], got["pos"]))) == [("chr1", 120), ("chr1", 199), ("chr2", 10), ("chr2", 80)]


def test_stdin_that_is_not_a_vcf(tmp_path, calls, capfd):
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    rc = _with_stdin(junk, lambda: main(["annotate", "-", "--fasta", str(calls["fa"]), "--models",
                                         str(calls["db"]), "-o", str(tmp_path / "o.vcf")]))
    err = capfd.readouterr().err
    assert rc == 2 and "stdin: cannot parse the VCF header" in err and "Traceback" not in err


def test_index_counts_records(calls, tmp_path):
    assert vcf_source.index_records(str(calls["gz"]) + ".tbi") == len(SITES)
    csi = tmp_path / "c.vcf.gz"
    shutil.copy(calls["gz"], csi)
    pysam.tabix_index(str(csi), preset="vcf", csi=True, force=True)
    assert vcf_source.index_records(str(csi) + ".csi") == len(SITES)
    src = vcf_source.open_source(str(calls["gz"]))
    assert src.total == len(SITES) and src.bytes_total is None
    plain = vcf_source.open_source(str(calls["vcf"]))
    assert plain.total is None and plain.bytes_total == os.path.getsize(calls["vcf"])
    assert len(positions(plain)) == len(SITES) and plain.position() == plain.bytes_total


def test_truncated_gzip_is_found_before_any_work(calls, tmp_path, capfd):
    data = gzip.compress(calls["vcf"].read_bytes() * 50)
    whole, cut = tmp_path / "whole.vcf.gz", tmp_path / "cut.vcf.gz"
    whole.write_bytes(data)
    cut.write_bytes(data[: len(data) - 20])
    vcf_source.check_gzip_complete(whole)
    (tmp_path / "two.gz").write_bytes(data + gzip.compress(b"more\n"))  # concatenated members are fine
    vcf_source.check_gzip_complete(tmp_path / "two.gz")
    with pytest.raises(InputFormatError, match="truncated gzip file"):
        vcf_source.check_gzip_complete(cut)
    rc = main(["annotate", str(cut), "--fasta", str(calls["fa"]), "--models", str(calls["db"]),
               "-o", str(tmp_path / "o.vcf")])
    err = capfd.readouterr().err
    assert rc == 2 and "truncated gzip file" in err and not (tmp_path / "o.vcf").exists()
    assert "annotated" not in err  # stopped before scoring


def test_progress_line_puts_percent_and_eta_first():
    p = progress.Progress("annotate", 200, "rec", enabled=False)
    p.update(50)
    line = p.line()
    assert line.startswith("annotate:  25% ETA ") and "50/200 rec" in line
    b = progress.Progress("annotate", None, "rec", bytes_total=4000, enabled=False)
    b.update(10, position=1000)
    assert b.fraction() == 0.25 and "(1.0 kB/4.0 kB)" in b.line() and "10 rec" in b.line()
    assert progress.Progress("x", None, "rec", enabled=False).fraction() is None


def test_progress_without_a_terminal_logs_lines(caplog):
    with caplog.at_level(logging.INFO, logger="varbind"):
        p = progress.Progress("fold 1/3", 10, "step", tty=False, interval=0.0)
        for _ in range(10):
            p.update(1)
        p.close()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 11 and lines[-1].startswith("fold 1/3: 100% ETA 0:00 | 10/10 step")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="varbind"):
        q = progress.Progress("short", 10, "step", tty=False, interval=3600)
        q.update(10)
        q.close()
    assert caplog.records == []  # a short job adds no line


def test_progress_on_a_terminal_stays_and_fits(capsys):
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True

    s = Tty()
    p = progress.Progress("annotate", 1000, "rec", stream=s)
    p.update(400)
    p.close()
    text = s.getvalue()
    assert "\r" in text and text.rstrip().endswith(p.line().split(" | ")[-1])
    assert "40% ETA" in text.split("\r")[-1]


def test_training_logs_progress_without_a_terminal(tmp_path, monkeypatch, capfd):
    from varbind.cli import main as cli

    monkeypatch.setattr(progress, "LOG_EVERY", 0.0)
    rng = np.random.default_rng(2)
    lines = ["".join(rng.choice(list("ACGT"), 8)) + "TGACTCA" + "".join(rng.choice(list("ACGT"), 9)) for _ in range(40)]
    (tmp_path / "pos.txt").write_text("\n".join(lines) + "\n")
    rc = cli(["train", "table", str(tmp_path / "pos.txt"), "--out", str(tmp_path / "out"), "--settings", "2",
              "--folds", "2", "--max-steps", "6", "--min-steps", "6", "--batch-size", "16", "--detectors", "2",
              "--detector-lens", "8", "--device", "cpu", "--threads", "1"])
    err = capfd.readouterr().err
    assert rc == 0, err
    steps = [ln for ln in err.splitlines() if " step" in ln and "ETA" in ln]
    final = [ln for ln in steps if ln.startswith("varbind: final fit: 100% ETA 0:00 | ")]
    n = final[-1].split(" | ")[1].split("/")[0]
    assert final[-1].split(" | ")[1] == f"{n}/{n} step" and len(steps) > int(n)  # calibration's lines too


def test_no_descriptor_is_left_open(calls):
    import gc

    before = len(os.listdir("/proc/self/fd"))
    for path in (calls["vcf"], calls["gz"]):
        for _ in range(5):
            src = vcf_source.open_source(str(path))
            assert len(positions(src)) == len(SITES)
            del src
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before
