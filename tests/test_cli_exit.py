"""Exit codes, check's verdict, TSV scores, the FASTA index fallback and a quiet stderr."""
from __future__ import annotations

import io as stdio
import logging
import os

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from varbind import io
from varbind.io.fasta_cache import fasta_index_cache
from varbind.cli import main, runtime
from varbind.cli.common import EXIT_NOTHING_ANNOTATED

from .annotate_helpers import random_genome, write_db, write_fasta, write_vcf


def _other(b: str) -> str:
    return "A" if b != "A" else "C"


@pytest.fixture()
def world(tmp_path):
    rng = np.random.default_rng(21)
    g = {f"chr{i}": random_genome(rng, 300) for i in (1, 2, 3)}
    return {"g": g, "fa": write_fasta(tmp_path / "g.fa", g), "db": write_db(tmp_path / "db"), "tmp": tmp_path}


def annotate(world, vcf, out, capfd, *extra):
    rc = main(["annotate", str(vcf), "--fasta", str(world["fa"]), "--models", str(world["db"]), "-o", str(out),
               "--quiet", *extra])
    return rc, capfd.readouterr().err


def test_all_ref_mismatches_exit_3_with_one_line(world, capfd):
    g = world["g"]["chr1"]
    rows = [f"chr1\t{p + 1}\t.\t{_other(g[p])}\t{_other(_other(g[p]))}\t.\t.\t." for p in (50, 90, 150)]
    rows = [r for r, p in zip(rows, (50, 90, 150)) if _other(_other(g[p])) != g[p]]
    vcf = write_vcf(world["tmp"] / "bad.vcf", rows)
    out = world["tmp"] / "o.vcf"
    rc, err = annotate(world, vcf, out, capfd)
    assert rc == EXIT_NOTHING_ANNOTATED == 3
    assert f"REF differs from the FASTA in all {len(rows)} records" in err and err.count("error:") == 1
    assert out.exists()  # the output is complete, for inspection
    good = write_vcf(world["tmp"] / "good.vcf", [f"chr1\t51\t.\t{g[50]}\t{_other(g[50])}\t.\t.\t."] + rows)
    assert annotate(world, good, world["tmp"] / "o2.vcf", capfd)[0] == 0  # one record annotated is enough


def test_no_record_in_the_regions_exits_3(world, capfd):
    g = world["g"]["chr1"]
    vcf = write_vcf(world["tmp"] / "v.vcf", [f"chr1\t51\t.\t{g[50]}\t{_other(g[50])}\t.\t.\t."])
    bed = world["tmp"] / "r.bed"
    bed.write_text("chr2\t0\t100\n")
    rc, err = annotate(world, vcf, world["tmp"] / "o.tsv", capfd, "-R", str(bed))
    assert rc == 3 and "the VCF holds no records in the regions given" in err


def test_check_verdicts_and_warnings_on_stderr(world, capfd):
    g = world["g"]
    ok = write_vcf(world["tmp"] / "ok.vcf", [f"1\t{p + 1}\t.\t{g['chr1'][p]}\t{_other(g['chr1'][p])}\t.\t.\t."
                                             for p in (10, 20, 30)])
    assert main(["check", str(ok), "--fasta", str(world["fa"])]) == 0
    out, err = capfd.readouterr()
    assert out.rstrip().splitlines()[-1] == "verdict: OK: 3 records, contigs and REF alleles match the FASTA"
    assert "warning" not in err
    warn = write_vcf(world["tmp"] / "warn.vcf", [f"chr1\t11\t.\t{g['chr1'][10]}\tT\t.\t.\t.",
                                                 f"chr1\t21\t.\t{_other(g['chr1'][20])}\tG\t.\t.\t.",
                                                 "chr9\t5\t.\tA\tC\t.\t.\t."])
    assert main(["check", str(warn), "--fasta", str(world["fa"])]) == 0
    out, err = capfd.readouterr()
    assert out.rstrip().splitlines()[-1].startswith("verdict: WARN: 3 records; 2 warning(s) on stderr")
    lines = err.strip().splitlines()
    assert len(lines) == 2 and all(ln.startswith("varbind check: warning: ") for ln in lines)
    assert "1 records on 1 contigs not in the FASTA (chr9)" in lines[0] and "in 1 of 2 records (50.0%)" in lines[1]
    assert "WARNING" not in out
    bad = write_vcf(world["tmp"] / "bad.vcf", ["chr9\t5\t.\tA\tC\t.\t.\t."])
    assert main(["check", str(bad), "--fasta", str(world["fa"])]) == 3
    out, _ = capfd.readouterr()
    assert out.rstrip().splitlines()[-1] == ("verdict: FAIL: no record's contig is in the FASTA: the genome build "
                                             "probably differs")


def test_scores_as_tsv_equal_the_parquet_and_header_is_unquoted(world, capfd):
    g = world["g"]["chr2"]
    vcf = write_vcf(world["tmp"] / "v.vcf", [f"chr2\t{p + 1}\t.\t{g[p]}\t{_other(g[p])}\t.\t.\t." for p in (40, 41, 200)])
    for scores in ("s.parquet", "s.tsv", "s.tsv.gz"):
        rc, err = annotate(world, vcf, world["tmp"] / "o.vcf", capfd, "--scores", str(world["tmp"] / scores))
        assert rc == 0, err
    want = pq.read_table(world["tmp"] / "s.parquet").to_pandas()
    for name in ("s.tsv", "s.tsv.gz"):
        got = pd.read_csv(world["tmp"] / name, sep="\t")
        assert list(got.columns) == list(want.columns)
        assert np.allclose(got["delta"], want["delta"], rtol=1e-6) and (got["model"] == want["model"].astype(str)).all()
    header = (world["tmp"] / "s.tsv").read_text().splitlines()[0]
    assert '"' not in header and header.startswith("chrom\tpos\t")
    rc, err = annotate(world, vcf, world["tmp"] / "o.vcf", capfd, "--scores", str(world["tmp"] / "s.csv"))
    assert rc == 2 and "must be a .parquet, .tsv or .tsv.gz file" in err


def test_fasta_in_a_read_only_folder_gets_a_cached_index(world, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fa = tmp_path / "ro" / "g.fa"
    fa.parent.mkdir()
    fa.write_bytes(world["fa"].read_bytes())
    import pysam

    real = pysam.FastaFile

    def no_index_beside(path, *a, **kw):  # what htslib does when it cannot write g.fa.fai
        if not kw.get("filepath_index"):
            raise OSError("could not open index for g.fa")
        return real(path, *a, **kw)

    monkeypatch.setattr(pysam, "FastaFile", no_index_beside)
    f = io.Fasta(fa)
    assert f.lengths == {"chr1": 300, "chr2": 300, "chr3": 300}
    assert "".join("ACGTN"[c] for c in f.codes("chr2", 5, 25)) == world["g"]["chr2"][5:25]
    cached = fasta_index_cache(str(fa))
    assert os.path.exists(f"{cached}.fai") and not os.path.exists(f"{fa}.fai")
    assert str(tmp_path / "cache" / "varbind" / "fai") in str(cached)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_fasta_in_a_really_read_only_folder(world, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    d = tmp_path / "ro"
    d.mkdir()
    (d / "g.fa").write_bytes(world["fa"].read_bytes())
    d.chmod(0o555)
    try:
        assert io.Fasta(d / "g.fa").lengths["chr3"] == 300
    finally:
        d.chmod(0o755)


def test_stderr_one_alias_line_and_no_tabix_advice(world, tmp_path, capfd):
    g = world["g"]
    # contigs named without 'chr' and not declared in the header: htslib would advise tabix per contig
    rows = [f"{c[3:]}\t{p + 1}\t.\t{g[c][p]}\t{_other(g[c][p])}\t.\t.\t." for c in g for p in (60, 120)]
    vcf = write_vcf(tmp_path / "v.vcf", rows)
    rc = main(["annotate", str(vcf), "--fasta", str(world["fa"]), "--models", str(world["db"]),
               "-o", str(tmp_path / "o.vcf")])
    err = capfd.readouterr().err
    assert rc == 0, err
    assert err.count("read as chr") == 1 and "tabix" not in err and "Quick workaround" not in err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("varbind: annotate: ")  # progress, if slow
             and "declared in the output header" not in ln]  # the undeclared contigs, said once (issue 14)
    assert lines[-1].startswith("varbind: annotated 6 of 6 ALT alleles") and len(lines) == 2


def test_other_libraries_info_lines_are_kept_off_stderr():
    stream = stdio.StringIO()
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        runtime.quiet_libraries(debug=False)
        logging.getLogger("matplotlib.font_manager").info("generated new fontManager")
        logging.getLogger("pyfaidx").warning("a real problem")  # (distributed is quieted by annotate --workers)
        logging.getLogger("varbind").info("ours")
        assert stream.getvalue().splitlines() == ["a real problem", "ours"]
        runtime.quiet_libraries(debug=True)
        logging.getLogger("matplotlib.font_manager").info("generated new fontManager")
        assert stream.getvalue().splitlines()[-1] == "generated new fontManager"
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_matplotlib_gets_a_cache_folder_when_its_default_is_not_writable(tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker))  # ~/.config/matplotlib cannot be made
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    runtime.matplotlib_cache()
    assert os.environ["MPLCONFIGDIR"] == str(tmp_path / "cache" / "varbind" / "matplotlib")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("MPLCONFIGDIR")
    runtime.matplotlib_cache()
    assert "MPLCONFIGDIR" not in os.environ  # matplotlib's own default works: left alone


def test_unwritable_output_names_the_output_not_its_temp_file(world, tmp_path, capfd):
    g = world["g"]["chr1"]
    vcf = write_vcf(tmp_path / "v.vcf", [f"chr1\t51\t.\t{g[50]}\t{_other(g[50])}\t.\t.\t."])
    rc = main(["annotate", str(vcf), "--fasta", str(world["fa"]), "--models", str(world["db"]),
               "-o", str(tmp_path / "no_such_dir" / "o.tsv")])
    err = capfd.readouterr().err
    assert rc == 2 and ".tmp" not in err and "o.tsv" in err, err
