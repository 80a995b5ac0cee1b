"""The adversarial VCF corpus of the no-traceback tests: what varbind must annotate, pass through or refuse.

``python tests/vcf_corpus.py [FOLDER]`` writes it (default ``tests/data/vcf_corpus``): a small
genome (``ref.fa``), a DeepBind db folder of two tiny models (``db/``) and one input per class of
:data:`CASES`, each with the outcome varbind owes it (the table in ``docs/annotate.md``):

* ``annotate``: exit 0, every record out, the scorable ones annotated;
* ``pass``: exit 0, every record out unchanged (undeclared tags declared, unscorable ALTs counted);
* ``refuse``: exit 2, one line naming the file (and the record reached), nothing under the output name;
* ``issue16``: a blank line or a line without tabs after the header, where cyvcf2 yields a phantom
  record that crashes it today (issue 16 item 1); checked in a subprocess, expected to fail.

``strict`` says whether ``--strict`` turns an exit-0 case into a refusal.
"""
from __future__ import annotations

import gzip
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pysam

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.annotate_helpers import write_db, write_fasta  # noqa: E402

FOLDER = Path(__file__).resolve().parent / "data" / "vcf_corpus"
LEN1, LEN2 = 3000, 400
COLS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1"
DEFS = ['##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">',
        '##INFO=<ID=GL3,Number=G,Type=Float,Description="one value per genotype">',
        '##INFO=<ID=NOTE,Number=1,Type=String,Description="free text">',
        '##FILTER=<ID=q10,Description="quality below 10">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Phred genotype likelihoods">']


class Case(NamedTuple):
    name: str
    outcome: str        # annotate | pass | refuse | issue16
    message: str = ""   # a piece of the error line (refuse)
    strict: bool = False  # --strict refuses it


def genome() -> dict[str, str]:
    rng = np.random.default_rng(14)
    return {"1": "".join(rng.choice(list("ACGT"), LEN1)), "2": "".join(rng.choice(list("ACGT"), LEN2))}


def header(contigs: bool = True, extra: tuple[str, ...] = (), fileformat: str = "VCFv4.2") -> list[str]:
    lines = [f"##fileformat={fileformat}"]
    if contigs:
        lines += [f"##contig=<ID=1,length={LEN1}>", f"##contig=<ID=2,length={LEN2}>"]
    return lines + DEFS + list(extra) + [COLS]


def rec(g: dict[str, str], chrom: str, pos: int, alt: str | None = None, info: str = "DP=7",
        fmt: str = "GT:PL\t0/1:0,10,100", ref: str | None = None, filt: str = "PASS") -> str:
    """A record at 1-based ``pos`` with the genome's REF (an SNV to the next base unless ``alt``)."""
    ref = ref if ref is not None else g[chrom][pos - 1]
    if alt is None:
        alt = "ACGT"[("ACGT".index(ref[0]) + 1) % 4]
    return f"{chrom}\t{pos}\trs{pos}\t{ref}\t{alt}\t50\t{filt}\t{info}\t{fmt}"


def valid_records(g: dict[str, str], n: int = 40) -> list[str]:
    rows = [rec(g, "1", p) for p in range(20, LEN1 - 20, (LEN1 - 40) // n)][:n]
    return rows + [rec(g, "2", 50), rec(g, "2", 51, alt="A,C" if g["2"][50] not in "AC" else "G,T",
                                           fmt="GT:PL\t1/2:0,1,2,3,4,5", info="GL3=0.1,0.2,0.3,0.4,0.5,0.6")]


def _text(path: Path, lines: list[str], eol: str = "\n") -> None:
    path.write_bytes((eol.join(lines) + eol).encode())


def _bgzip(src: Path, dst: Path, index: str | None) -> None:
    pysam.tabix_compress(str(src), str(dst), force=True)
    if index:
        pysam.tabix_index(str(dst), preset="vcf", force=True, csi=index == "csi")


def write(folder: Path = FOLDER) -> list[Case]:
    """Write the corpus into ``folder``; return its cases (inputs are ``folder / case.name``)."""
    folder.mkdir(parents=True, exist_ok=True)
    g = genome()
    write_fasta(folder / "ref.fa", g)
    if not (folder / "db").exists():
        write_db(folder / "db")
    rows = valid_records(g)
    cases: list[Case] = []

    def add(name: str, lines: list[str] | bytes, outcome: str, message: str = "", strict: bool = False,
            eol: str = "\n") -> Path:
        path = folder / name
        if isinstance(lines, bytes):
            path.write_bytes(lines)
        else:
            _text(path, lines, eol)
        cases.append(Case(name, outcome, message, strict))
        return path

    valid = add("valid.vcf", header() + rows, "annotate")
    # containers: bgzip + tbi, bgzip + csi, plain gzip, BCF + csi, uncompressed BCF
    for name, index in (("valid_tbi.vcf.gz", "tbi"), ("valid_csi.vcf.gz", "csi")):
        _bgzip(valid, folder / name, index)
        cases.append(Case(name, "annotate"))
    add("valid_gzip.vcf.gz", gzip.compress(valid.read_bytes(), mtime=0), "annotate")
    for name, mode in (("valid.bcf", "wb"), ("valid_uncompressed.bcf", "wb0")):
        with pysam.VariantFile(str(valid)) as src, pysam.VariantFile(str(folder / name), mode, header=src.header) as dst:
            for r in src:
                dst.write(r)
        if name == "valid.bcf":
            pysam.tabix_index(str(folder / name), preset="bcf", force=True, csi=True)
        cases.append(Case(name, "annotate"))
    add("crlf.vcf", header() + rows, "annotate", eol="\r\n")
    add("vcf44.vcf", header(fileformat="VCFv4.4") + rows, "annotate")
    add("lowercase_ref.vcf", header() + [rec(g, "1", 101, ref=g["1"][100].lower(), alt="a" if g["1"][100] != "A" else "c")],
        "annotate")
    unsorted = header() + rows[5:] + rows[:5]
    add("unsorted.vcf", unsorted, "annotate")
    add("header_only.vcf", header(), "annotate")
    _bgzip(folder / "header_only.vcf", folder / "header_only.vcf.gz", "tbi")
    cases.append(Case("header_only.vcf.gz", "annotate"))
    add("no_contig_lines.vcf", header(contigs=False) + rows, "pass", strict=True)
    # positions and ALT classes that cannot be scored: passed through, counted
    add("pos_edges.vcf", header() + [rec(g, "1", 1), rec(g, "1", LEN1), rec(g, "2", LEN2),
                                     f"1\t{LEN1 + 50}\t.\tA\tC\t.\t.\t.\t.\t.", "1\t0\t.\tA\tC\t.\t.\t.\t.\t."],
        "pass", strict=True)
    add("pos_huge.vcf", header() + [rec(g, "1", 5), f"1\t{2**31 + 7}\t.\tA\tC\t.\t.\t.\t.\t."], "pass", strict=True)
    ref5 = g["1"][499]
    add("alt_classes.vcf", header() + [
        rec(g, "1", 500, alt="."), rec(g, "1", 501, alt="*,A" if g["1"][500] != "A" else "*,C"),
        rec(g, "1", 502, alt="<DEL>"), rec(g, "1", 503, alt="<*>"), rec(g, "1", 504, alt=f"{g['1'][503]}]2:100]"),
        rec(g, "1", 505, alt=f".{g['1'][504]}"), rec(g, "1", 506, alt="R"),
        rec(g, "1", 500, ref=ref5 + g["1"][500:505], alt=ref5), rec(g, "1", 510, alt=g["1"][509] + "GATTACA")],
        "pass", strict=True)
    add("ref_mismatch.vcf", header() + [rec(g, "1", 600, ref="T" if g["1"][599] != "T" else "A", alt="G")],
        "pass", strict=True)
    add("number_g.vcf", header() + [rec(g, "1", 700, alt="A,C,G".replace(g["1"][699], "T"),
                                        info="GL3=" + ",".join(str(i / 10) for i in range(10)),
                                        fmt="GT:PL\t1/2:" + ",".join(str(i) for i in range(10)))], "annotate")
    add("huge_info.vcf", header() + [rec(g, "1", 800, info="NOTE=" + "x" * 2_000_000), rec(g, "1", 801)], "annotate")
    add("many_alts.vcf", header() + [rec(g, "1", 900, alt=",".join(
        g["1"][899] + "".join(np.random.default_rng(i).choice(list("ACGT"), 3)) for i in range(60)),
        fmt="GT\t0/1")], "annotate")
    # records the Writer cannot write as read: declared in the output header, passed through
    add("undeclared_info.vcf", header() + [rec(g, "1", 1000, info="DP=3;FOO=1,2;BAR")] + rows[:3], "pass", strict=True)
    add("undeclared_format.vcf", header() + [rec(g, "1", 1000, fmt="GT:XX\t0/1:3,4")], "pass", strict=True)
    add("undeclared_filter.vcf", header() + [rec(g, "1", 1000, filt="lowq;q10")], "pass", strict=True)
    add("undeclared_contig.vcf", [header()[0], f"##contig=<ID=1,length={LEN1}>"] + DEFS + [COLS] + rows[:2]
        + [rec(g, "2", 60)],
        "pass", strict=True)
    add("undeclared_late.vcf", header() + rows + [rec(g, "2", 300, info="LATE=1")], "pass", strict=True)
    add("invalid_tag_name.vcf", header(extra=('##INFO=<ID=1000G_AF_ALL,Number=A,Type=Float,Description="1000G">',))
        + [rec(g, "1", 1100, info="1000G_AF_ALL=0.25")], "pass", strict=True)
    add("invalid_tag_undeclared.vcf", header() + [rec(g, "1", 1100, info="1000G_AF=0.25;AF-X=1")], "pass", strict=True)
    # unusable input: one line, exit 2
    add("empty.vcf", b"", "refuse", "empty file")
    add("no_header.vcf", rows, "refuse", "not a VCF")
    add("no_chrom_line.vcf", header()[:-1] + rows, "refuse", "no '#CHROM' header line")
    add("spaces_header.vcf", header()[:-1] + [COLS.replace("\t", " ")] + rows, "refuse", "malformed #CHROM line")
    add("bad_pos.vcf", header() + rows[:3] + [rows[3].replace("\t", "\tx", 1)], "refuse", "after record 3")
    add("short_line.vcf", header() + rows[:4] + ["1\t1200\t.\tA"], "refuse", "after record 4")
    add("no_sample_column.vcf", header() + rows[:2] + [rows[2].rsplit("\t", 1)[0]], "refuse",
        "FORMAT column with no sample columns")
    add("truncated_mid_line.vcf", (folder / "valid.vcf").read_bytes()[: -len(rows[-1]) // 2 - 1], "refuse",
        "record 42 cannot be written: Broken VCF record")
    data = (folder / "valid_tbi.vcf.gz").read_bytes()
    add("truncated.vcf.gz", data[: len(data) * 2 // 3], "refuse", "truncated bgzip")
    add("truncated_gzip.vcf.gz", gzip.compress(valid.read_bytes(), mtime=0)[:-200], "refuse", "valid_")
    add("corrupt_block.vcf.gz", corrupt_bgzf(header() + rows * 300, folder), "refuse", "after record")
    add("corrupt_first_block.vcf.gz", corrupt_bgzf(header() + rows * 300, folder, block=0), "refuse",
        "unreadable compressed file")
    add("not_a_vcf.vcf.gz", gzip.compress(b"hello\tworld\n" * 10, mtime=0), "refuse", "not a VCF")
    # cyvcf2's phantom records (issue 16 item 1)
    add("blank_line.vcf", header() + rows + [""], "issue16")
    add("spaces_records.vcf", header() + [r.replace("\t", " ") for r in rows[:3]], "issue16")
    cases = [c._replace(message=c.message.replace("valid_", c.name)) for c in cases]
    (folder / "MANIFEST.tsv").write_text("file\toutcome\tmessage\tstrict_refuses\n" + "".join(
        f"{c.name}\t{c.outcome}\t{c.message}\t{int(c.strict)}\n" for c in cases))
    return cases


def corrupt_bgzf(lines: list[str], folder: Path, block: int | None = None) -> bytes:
    """A bgzipped VCF of many BGZF blocks with bytes of one block's deflate data zeroed (default: a middle one)."""
    src = folder / ".corrupt_src.vcf"
    _text(src, lines)
    dst = folder / ".corrupt_src.vcf.gz"
    pysam.tabix_compress(str(src), str(dst), force=True)
    data = bytearray(dst.read_bytes())
    src.unlink()
    dst.unlink()
    offsets, i = [], 0
    while i < len(data) - 28:
        offsets.append(i)
        i += int.from_bytes(data[i + 16 : i + 18], "little") + 1
    assert len(offsets) >= 3, "the corrupt-block input needs several BGZF blocks"
    mid = offsets[len(offsets) // 2 if block is None else block]
    data[mid + 40 : mid + 60] = bytes(20)
    return bytes(data)


def load(folder: Path = FOLDER) -> list[Case]:
    """The cases listed in ``folder/MANIFEST.tsv``."""
    rows = (folder / "MANIFEST.tsv").read_text().splitlines()[1:]
    return [Case(f[0], f[1], f[2], f[3] == "1") for f in (r.split("\t") for r in rows)]


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else FOLDER
    print(f"{len(write(out))} inputs written to {out}")
