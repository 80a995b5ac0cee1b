"""varbind check: contig mapping, build guess, REF mismatch rate, allele classes."""
from __future__ import annotations

import numpy as np

from varbind.annotate.check import check_vcf, format_report, is_normalised
from varbind.cli import main

from .annotate_helpers import random_genome, write_fasta, write_vcf


def test_report_counts(tmp_path):
    rng = np.random.default_rng(3)
    g = random_genome(rng, 400)
    fa = write_fasta(tmp_path / "g.fa", {"chr1": g, "chrM": "ACGT" * 10})
    other = lambda b: "A" if b != "A" else "C"  # noqa: E731
    rows = [f"1\t11\t.\t{g[10]}\t{other(g[10])}\t.\t.\t.",                       # fine
            f"1\t21\t.\t{other(g[20])}\t{g[20]}\t.\t.\t.",                       # swap
            f"1\t31\t.\t{other(g[30])}\t{other(other(g[30]))}\t.\t.\t.",         # mismatch (unless equal)
            f"1\t41\t.\t{g[40]}\t<DEL>,{other(g[40])}\t.\t.\t.",                 # multi + symbolic
            f"1\t51\t.\t{g[50:52]}\t{g[50]}{other(g[51])}\t.\t.\t.",             # unnormalised MNP
            f"MT\t2\t.\t{'ACGT'[1]}\tG\t.\t.\t.", f"7\t5\t.\tA\tC\t.\t.\t."]
    vcf = write_vcf(tmp_path / "a.vcf", rows, contigs={"1": 248956422, "MT": 40})
    r = check_vcf(str(vcf), str(fa))
    assert r.records == 7 and r.ref_checked == 6 and r.multiallelic == 1 and r.unnormalised == 1
    assert r.ref_alt_swap == 1 and r.ref_mismatch == 2
    assert r.classes == {"symbolic": 1, "contig_missing": 1}
    assert [(c.vcf, c.fasta, c.records) for c in r.contigs] == [("1", "chr1", 5), ("MT", "chrM", 1), ("7", None, 1)]
    assert r.build_vcf == "GRCh38/hg38" and r.build_fasta is None
    text = format_report(r)
    assert "LENGTH DIFFERS" in text and "MISSING from the FASTA" in text and "REF mismatch\t2\t33.33%" in text


def test_cli_check(tmp_path, capfd):
    fa = write_fasta(tmp_path / "g.fa", {"1": "ACGT" * 30})
    vcf = write_vcf(tmp_path / "a.vcf", ["chr1\t2\t.\tC\tT\t.\t.\t."])
    assert main(["check", str(vcf), "--fasta", str(fa)]) == 0
    out = capfd.readouterr().out
    assert out.startswith("# contigs") and "chr1\t1\t1" in out and "REF mismatch\t0\t0.00%" in out
    (tmp_path / "e.vcf").write_text("")
    assert main(["check", str(tmp_path / "e.vcf"), "--fasta", str(fa)]) == 2
    assert "empty file" in capfd.readouterr().err


def test_normalisation_rule():
    assert is_normalised("C", "CA") and not is_normalised("C", "CC") and not is_normalised("CA", "CT")
    assert not is_normalised("GTT", "GT")  # trailing T shared: not parsimonious
