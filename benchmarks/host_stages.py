"""The host side of ``varbind annotate`` alone: the real pipeline (reading, windows, DeepFind
windows, INFO formatting, cyvcf2 writing, read-back, index) with the device's scoring replaced by a
stand-in that returns random scores of the right shape at once. What a GPU run costs beyond its
kernels, measurable on any machine (the stand-in's random numbers count as scoring time); ``--profile`` prints the top functions (cProfile).

Usage::

    python benchmarks/host_stages.py snvs.vcf.gz --fasta hg19.fa.gz [--models deepbind] [--profile]
"""
from __future__ import annotations

import argparse
import logging
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vcf")
    ap.add_argument("--fasta", required=True)
    ap.add_argument("--models", default="deepbind")
    ap.add_argument("-o", "--output", default="/tmp/host_stages.vcf.gz")
    ap.add_argument("--no-deepfind", action="store_true")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    from varbind import annotate
    from varbind.annotate import output, pipeline

    rng = np.random.default_rng(0)

    def fake_score(items, bank, dbank, settings, deepfind=None):
        out = []
        for p in items:
            e = len(p.win.site)
            ref = rng.standard_normal((e, len(bank)), dtype=np.float32)
            alt = ref + 0.1 * rng.standard_normal((e, len(bank)), dtype=np.float32)
            probs = rng.random(e, dtype=np.float32) if deepfind is not None else None
            out.append((output.AlleleScores(p.win.site, p.win.allele, ref, alt, probs), p.win.skipped, p.counts))
        return out

    pipeline._score_chunks = fake_score  # the kernels only: the selection of top models runs as in a real run
    logging.basicConfig(level=logging.DEBUG, format="%(message)s")
    for name in ("numba", "matplotlib", "distributed"):
        logging.getLogger(name).setLevel(logging.WARNING)
    t = time.perf_counter()
    panel = annotate.resolve_panel(args.models)
    print(f"panel: {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()

    def run():
        return annotate.annotate_vcf(args.vcf, args.fasta, args.output, panel, deepfind=not args.no_deepfind,
                                     settings=annotate.Settings(device="cpu"))
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        s = prof.runcall(run)
        pstats.Stats(prof).sort_stats("tottime").print_stats(35)
    else:
        s = run()
    wall = time.perf_counter() - t
    print(f"{s.records} records in {wall:.2f} s: {s.records / wall:,.0f} records/s, "
          f"{1e6 * wall / max(s.records, 1):.1f} us a record")


if __name__ == "__main__":
    main()
