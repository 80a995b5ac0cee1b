"""A benchmark VCF of real SNVs: the DeepFind derived promoter SNVs (hg19) as a sorted, bgzipped VCF.

Reads ``../shared/data/deepfind/derived.avinput.gz`` (ANNOVAR input: chrom, start, end, ref, alt; the
171,409 high-frequency human-derived SNVs of Kircher et al., mapped to promoters) and writes
``OUT.vcf.gz`` + ``.tbi`` with ``##contig`` lines from the FASTA index, contigs in FASTA order.
``-n`` keeps the first N records in genome order.

``--pack OUT.npz`` also saves the FASTA's sequence within ``--flank`` bases of each SNV, and
``--unpack OUT.npz OUT.fa`` turns that into a plain FASTA (+ .fai) of the same contigs and lengths,
N elsewhere: the same windows for any ``--window`` up to ``2 * flank + 1``, carried in a few MB to a
machine without the data (the device tool carries at most 64 MiB; the hg19 FASTA is 16 MB).

``--saturate PACK.npz N`` writes instead every possible SNV (one record per ALT, three per base, as
CADD-style precomputed files list them) at the first bases of the pack whose ``--window`` lies in its
sequence: a VCF of N records, REF always the FASTA's, of realistic size for the GPU (the DeepFind sets
hold 171,409 real SNVs; a GPU run of them is over in seconds, mostly start-up), built from the pack
alone on the device machine.

Usage::

    python benchmarks/make_snv_vcf.py -o snvs.vcf.gz [-n 100000] [--pack seq.npz]
    python benchmarks/make_snv_vcf.py -o unused --unpack seq.npz hg19_snvs.fa
    python benchmarks/make_snv_vcf.py -o sat.vcf.gz --saturate seq.npz 2000000
"""
from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def read_snvs(path: Path) -> list[tuple[str, int, str, str]]:
    out = []
    with gzip.open(path, "rt") as f:
        for line in f:
            c = line.rstrip("\n").split("\t")
            chrom = c[0] if c[0].startswith("chr") else "chr" + c[0]
            if len(c[3]) == 1 and len(c[4]) == 1 and c[3] in "ACGT" and c[4] in "ACGT":
                out.append((chrom, int(c[1]), c[3], c[4]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", help="OUT.vcf.gz")
    ap.add_argument("--avinput", nargs="+", default=[str(SHARED / "deepfind" / "derived.avinput.gz")],
                    help="ANNOVAR input files (default: the derived SNVs; simulated.avinput.gz adds 604,510)")
    ap.add_argument("--fasta", default=str(SHARED / "genome" / "hg19_sparse.fa.gz"))
    ap.add_argument("-n", type=int, default=None, help="first N SNVs in genome order (default: all)")
    ap.add_argument("--pack", metavar="OUT.npz", help="also pack the FASTA's sequence around the SNVs")
    ap.add_argument("--flank", type=int, default=80, help="bases kept either side of a SNV (default: 80)")
    ap.add_argument("--unpack", nargs=2, metavar=("PACK.npz", "OUT.fa"), help="only write a FASTA from a pack")
    ap.add_argument("--saturate", nargs=2, metavar=("PACK.npz", "N"), help="only write N saturation SNVs of a pack")
    ap.add_argument("--window", type=int, default=101, help="--saturate: window that must lie in the pack (default: 101)")
    args = ap.parse_args()
    if args.unpack:
        unpack_fasta(*args.unpack)
        return
    if args.saturate:
        saturate(args.saturate[0], int(args.saturate[1]), args.output, args.window)
        return
    import pysam

    fa = pysam.FastaFile(args.fasta)
    order = {c: i for i, c in enumerate(fa.references)}
    snvs = sorted({s for a in args.avinput for s in read_snvs(Path(a)) if s[0] in order},
                  key=lambda s: (order[s[0]], s[1], s[3]))[: args.n]
    plain = args.output[:-3] if args.output.endswith(".gz") else args.output
    with open(plain, "w") as f:
        f.write("##fileformat=VCFv4.2\n")
        for c, n in zip(fa.references, fa.lengths):
            f.write(f"##contig=<ID={c},length={n},assembly=hg19>\n")
        f.write("##source=DeepFind derived promoter SNVs (Kircher et al. 2014; Alipanahi et al. 2015)\n")
        f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for c, p, r, a in snvs:
            f.write(f"{c}\t{p}\t.\t{r}\t{a}\t.\t.\t.\n")
    if args.output.endswith(".gz"):
        pysam.tabix_index(plain, preset="vcf", force=True)
    print(f"{len(snvs)} SNVs -> {args.output}", file=sys.stderr)
    if args.pack:
        pack_fasta(fa, snvs, args.pack, args.flank)


def pack_fasta(fa, snvs, out: str, flank: int) -> None:
    """The FASTA's sequence within ``flank`` bases of each SNV (merged intervals) as a small .npz."""
    import numpy as np

    by_chrom: dict[str, list[int]] = {}
    for c, p, _, _ in snvs:
        by_chrom.setdefault(c, []).append(p - 1)
    names, lengths, starts, stops, seqs = [], [], [], [], []
    for c, n in zip(fa.references, fa.lengths):
        names.append(c)
        lengths.append(n)
        ivs: list[list[int]] = []
        for p in sorted(by_chrom.get(c, [])):
            lo, hi = max(0, p - flank), min(n, p + flank + 1)
            if ivs and lo <= ivs[-1][1]:
                ivs[-1][1] = max(ivs[-1][1], hi)
            else:
                ivs.append([lo, hi])
        for lo, hi in ivs:
            starts.append((len(names) - 1, lo))
            stops.append(hi)
            seqs.append(fa.fetch(c, lo, hi))
    np.savez_compressed(out, names=np.array(names), lengths=np.array(lengths, np.int64),
                        starts=np.array(starts, np.int64).reshape(-1, 2), stops=np.array(stops, np.int64),
                        seq=np.frombuffer("".join(seqs).encode(), np.uint8))
    print(f"{len(seqs)} intervals, {sum(map(len, seqs)):,} bases -> {out}", file=sys.stderr)


def saturate(pack: str, n: int, out: str, window: int) -> None:
    """Every SNV (three ALTs a base, ACGT bases only) of the pack's intervals whose ``window``-base
    window lies inside the interval, in genome order, the first ``n`` records, bgzipped + tabix."""
    import numpy as np
    import pysam

    z = np.load(pack)
    seq, at, half, written = z["seq"], 0, window // 2, 0
    plain = out[:-3] if out.endswith(".gz") else out
    with open(plain, "w") as f:
        f.write("##fileformat=VCFv4.2\n")
        for name, length in zip(z["names"].tolist(), z["lengths"].tolist()):
            f.write(f"##contig=<ID={name},length={length},assembly=hg19>\n")
        f.write("##source=every SNV within real hg19 promoter sequence around the DeepFind SNVs (benchmarks/make_snv_vcf.py --saturate)\n")
        f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        names = z["names"].tolist()
        for (k, lo), hi in zip(z["starts"].tolist(), z["stops"].tolist()):
            bases = seq[at : at + hi - lo].tobytes().decode().upper()
            at += hi - lo
            lines = []
            for i in range(half, len(bases) - half):
                ref = bases[i]
                if ref in "ACGT":
                    lines += [f"{names[k]}\t{lo + i + 1}\t.\t{ref}\t{alt}\t.\t.\t.\n" for alt in "ACGT" if alt != ref]
            lines = lines[: n - written]
            f.writelines(lines)
            written += len(lines)
            if written >= n:
                break
    if out.endswith(".gz"):
        pysam.tabix_index(plain, preset="vcf", force=True)
    print(f"{written} saturation SNVs -> {out}", file=sys.stderr)


def unpack_fasta(pack: str, out: str) -> None:
    """A plain FASTA (one line a contig, N outside the packed intervals) and its .fai from a pack."""
    import numpy as np

    z = np.load(pack)
    seq, at = z["seq"], 0
    fai = []
    with open(out, "wb") as f:
        for k, (name, n) in enumerate(zip(z["names"].tolist(), z["lengths"].tolist())):
            f.write(f">{name}\n".encode())
            offset = f.tell()
            buf = np.full(n, ord("N"), np.uint8)
            for (_, lo), hi in zip(z["starts"][z["starts"][:, 0] == k], z["stops"][z["starts"][:, 0] == k]):
                buf[lo:hi] = seq[at : at + hi - lo]
                at += hi - lo
            f.write(buf.tobytes() + b"\n")
            fai.append(f"{name}\t{n}\t{offset}\t{n}\t{n + 1}\n")
    Path(out + ".fai").write_text("".join(fai))
    print(f"FASTA -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
