"""Write the embedded demo inputs: a small synthetic genome and a VCF of variants on it.

The genome is random sequence (seeded) with transcription-factor sites planted at known places, so
the demo shows gains and losses without shipping any real genome data. Run from the repo root:
``python examples/demo/make_demo.py`` (the outputs are committed; rerunning reproduces them).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# (contig, 0-based position, site) -- consensus sites of well-known families
SITES = [
    ("chr1", 300, "CCGGAAGT"),  # ETS (GABPA/ELK1)
    ("chr1", 700, "CCGCCCCCGC"),  # SP/KLF GC box
    ("chr1", 1100, "CACGTG"),  # E-box (MYC/MAX/USF)
    ("chr1", 1500, "CCACCAGGGGGCGC"),  # CTCF core
    ("chr2", 200, "TGTTTAC"),  # forkhead (FOXA)
    ("chr2", 600, "TGACTCA"),  # AP-1
]
# variants: (contig, 1-based POS, REF, ALT, ID)
VARIANTS = [
    ("chr1", 304, None, "C", "ets_loss"),  # G of GGAA -> C: destroys the ETS core
    ("chr1", 705, None, "A", "gcbox_loss"),
    ("chr1", 1103, None, "T", "ebox_loss"),
    ("chr1", 1507, None, "T", "ctcf_loss"),
    ("chr1", 900, None, "G,T", "multi"),  # a multi-allelic site
    ("chr1", 1300, "ins", None, "insertion"),
    ("chr1", 1600, "del", None, "deletion"),
    ("chr1", 1800, None, "<DEL>", "symbolic"),
    ("chr2", 203, None, "C", "fox_loss"),
    ("chr2", 603, None, "T", "ap1_loss"),
    ("chr2", 800, "mismatch", None, "ref_mismatch"),
]
LENGTHS = {"chr1": 2000, "chr2": 1000}


def main() -> None:
    rng = np.random.default_rng(2015)
    genome = {c: list(rng.choice(list("ACGT"), size=n)) for c, n in LENGTHS.items()}
    for contig, pos, site in SITES:
        genome[contig][pos : pos + len(site)] = list(site)
    with open(HERE / "ref.fa", "w") as f:
        for contig, seq in genome.items():
            f.write(f">{contig}\n")
            s = "".join(seq)
            for i in range(0, len(s), 60):
                f.write(s[i : i + 60] + "\n")
    lines = [
        "##fileformat=VCFv4.2",
        *(f"##contig=<ID={c},length={n}>" for c, n in LENGTHS.items()),
        '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Type of structural variant">',
        '##INFO=<ID=END,Number=1,Type=Integer,Description="End position of the variant">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    for contig, pos, ref, alt, vid in sorted(VARIANTS, key=lambda v: (v[0], v[1])):
        base = genome[contig][pos - 1]
        info = "."
        if ref == "ins":
            ref, alt = base, base + "GGAA"
        elif ref == "del":
            ref, alt = "".join(genome[contig][pos - 1 : pos + 3]), base
        elif ref == "mismatch":
            ref = next(b for b in "ACGT" if b != base)
            alt = base
        else:
            ref = base
            if alt == "<DEL>":
                info = f"SVTYPE=DEL;END={pos + 50}"
        alt = ",".join(a for a in alt.split(",") if a != ref) or ("A" if ref != "A" else "C")
        lines.append(f"{contig}\t{pos}\t{vid}\t{ref}\t{alt}\t50\tPASS\t{info}")
    (HERE / "variants.vcf").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
