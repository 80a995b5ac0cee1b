"""varbind.io: FASTA access (plain, bgzip), contig aliasing, VCF validation with htslib kept quiet."""
from __future__ import annotations

import gzip
import logging

import pysam
import pytest

from varbind import io
from varbind.errors import InputFormatError

from .annotate_helpers import write_fasta, write_vcf


def test_fasta_plain_and_bgzip_agree_and_pad_with_n(tmp_path):
    seq = "acgtNNACGTRYacgt" * 10
    plain = write_fasta(tmp_path / "g.fa", {"chr1": seq, "chrM": "ACGT"})
    bgz = str(tmp_path / "g.fa.gz")
    pysam.tabix_compress(str(plain), bgz)
    pysam.faidx(bgz)
    want = io.Fasta(plain).codes("chr1", -3, len(seq) + 2)
    got = io.Fasta(bgz).codes("chr1", -3, len(seq) + 2)
    assert (want == got).all() and len(got) == len(seq) + 5
    # lower case read as upper case, IUPAC read as N, outside the contig N
    assert got[:3].tolist() == [4, 4, 4] and got[3:7].tolist() == [0, 1, 2, 3] and got[13:15].tolist() == [4, 4]
    assert io.Fasta(bgz).lengths == {"chr1": len(seq), "chrM": 4}


def test_fasta_plain_gzip_is_a_clear_error(tmp_path):
    plain = write_fasta(tmp_path / "g.fa", {"c": "ACGT"})
    gz = tmp_path / "g.fa.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    with pytest.raises(InputFormatError, match="must be bgzip-compressed"):
        io.Fasta(gz)


def test_contig_aliasing_is_unambiguous_and_logged_once(caplog):
    cm = io.ContigMap(["chr1", "chr2", "chrX", "chrM", "1"])
    with caplog.at_level(logging.INFO, logger="varbind"):
        assert [cm("2"), cm("2"), cm("X"), cm("MT"), cm("1"), cm("chr1"), cm("Y")] == ["chr2", "chr2", "chrX", "chrM", "1", "chr1", None]
    msgs = [r.getMessage() for r in caplog.records]
    assert msgs.count("contig 2 read as chr2 in the FASTA") == 1
    assert any("contig Y is not in the FASTA" in m for m in msgs)
    both = io.ContigMap(["M", "MT"])
    assert both("chrM") is None  # two candidates: ambiguous, not guessed
    assert io.ContigMap(["MT"])("chrM") == "MT" and io.ContigMap(["chrM"])("MT") == "chrM"


def test_header_validation_messages(tmp_path):
    (tmp_path / "empty.vcf").write_text("")
    with pytest.raises(InputFormatError, match="empty file"):
        io.check_vcf_header(tmp_path / "empty.vcf")
    (tmp_path / "nohead.vcf").write_text("1\t5\t.\tA\tC\t.\t.\t.\n")
    with pytest.raises(InputFormatError, match="not a VCF"):
        io.check_vcf_header(tmp_path / "nohead.vcf")
    (tmp_path / "nochrom.vcf").write_text("##fileformat=VCFv4.2\n1\t5\t.\tA\tC\t.\t.\t.\n")
    with pytest.raises(InputFormatError, match="no '#CHROM' header line"):
        io.check_vcf_header(tmp_path / "nochrom.vcf")
    (tmp_path / "spaces.vcf").write_text("##fileformat=VCFv4.2\n#CHROM POS ID REF ALT QUAL FILTER INFO\n")
    with pytest.raises(InputFormatError, match="malformed #CHROM line"):
        io.check_vcf_header(tmp_path / "spaces.vcf")
    ok = write_vcf(tmp_path / "ok.vcf", ["1\t5\t.\tA\tC\t.\t.\t."])
    assert io.check_vcf_header(ok)[-1].startswith("#CHROM")
    (tmp_path / "plain.vcf.gz").write_bytes(gzip.compress(ok.read_bytes()))
    assert io.sniff(tmp_path / "plain.vcf.gz") == "gzip"
    assert len(io.check_vcf_header(tmp_path / "plain.vcf.gz")) == 2


def test_truncated_bgzip_is_detected(tmp_path):
    ok = write_vcf(tmp_path / "ok.vcf", [f"1\t{i + 1}\t.\tA\tC\t.\t.\t." for i in range(2000)])
    bgz = str(tmp_path / "ok.vcf.gz")
    pysam.tabix_compress(str(ok), bgz)
    assert io.sniff(bgz) == "bgzf"
    data = open(bgz, "rb").read()
    (tmp_path / "cut.vcf.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFormatError, match="truncated bgzip"):
        io.open_vcf(tmp_path / "cut.vcf.gz")


def test_bad_record_is_one_error_and_htslib_stays_quiet(tmp_path, capfd):
    vcf = write_vcf(tmp_path / "bad.vcf", ["1\t5\t.\tA\tC\t.\t.\t.", "1\tabc\t.\tA\tC\t.\t.\t."])
    reader = io.open_vcf(vcf)
    with pytest.raises(InputFormatError, match=r"unreadable record after record 1: .*position 'abc'"):
        list(io.read_batches(reader, 10, str(vcf)))
    assert capfd.readouterr().err == ""


def test_header_contigs_and_sites(tmp_path):
    vcf = write_vcf(tmp_path / "a.vcf", ["chr2\t7\trs1\tAC\tA,<DEL>\t.\t.\t."], contigs={"chr2": 100, "chr3": 50})
    reader = io.open_vcf(vcf)
    assert io.header_contigs(reader) == {"chr2": 100, "chr3": 50}
    (batch,) = list(io.read_batches(reader))
    assert io.site_of(batch[0]) == ("chr2", 6, "AC", ("A", "<DEL>"), "rs1")
