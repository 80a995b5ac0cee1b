"""What DeepFind's 51-bp window costs the CPU kernel, on real SNVs, as ``varbind annotate`` calls it.

The SNVs of a VCF are split the way the CPU pipeline scores them: *lone* windows (a region of their
own, :func:`varbind.annotate.windows.cluster_windows`) and windows that *share* a region with
others. For each kind, the first ``--n`` SNVs are prepared as ``annotate`` prepares a chunk
(:func:`varbind.annotate.pipeline.prepare`, DeepFind's windows included) and every call that
:func:`varbind.annotate.scoring.score_global` makes to the region kernel
(:func:`varbind.predict.kernels.cpu_regions.window_edit_pool`) is captured, without and with
DeepFind's sub-windows. The captured calls are then replayed ``--repeats`` times, the two modes
interleaved, on one thread (process time: what the kernel does, not what the machine lends it).
The heads and the rest of the pipeline are not in these figures.

On a shared VM separate runs of one script differ by 10-20%; replaying the same calls and taking
the minimum keeps this one within ~3% (medians against minima).

    NUMBA_NUM_THREADS=1 python benchmarks/deepfind_window_cpu.py VCF --fasta hg19_sparse.fa.gz [--n 300]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # annotate_e2e.read_snvs


def sites_by_kind(vcf: str, fasta: str, settings) -> dict[str, list]:
    """The VCF's sites, as ``(None, Site)`` pairs, split into lone and shared windows as the CPU
    pipeline splits them: each region chunk's windows (:func:`varbind.annotate.pipeline.prepare`)
    clustered as :func:`varbind.annotate.scoring.score_global` clusters them."""
    from annotate_e2e import read_snvs

    from varbind import io
    from varbind.annotate import pipeline
    from varbind.annotate.variants import region_chunks
    from varbind.annotate.windows import cluster_windows

    contigs = io.ContigMap(pipeline.fasta(fasta).lengths)
    kinds: dict[str, list] = {"lone": [], "shared": []}
    for chunk in region_chunks((None, s) for s in read_snvs(vcf)):
        win = pipeline.prepare([s for _, s in chunk], fasta, contigs(chunk[0][1].chrom), settings, None).win
        if not len(win.site):
            continue
        c = cluster_windows(win.genome_start, win.refs.lengths)
        shared = (np.bincount(c.region)[c.region] > 1)[win.edits.ref_index]
        for i, sh in zip(win.site, shared):
            kinds["shared" if sh else "lone"].append(chunk[i])
    return kinds


def captured_calls(sites: list, fasta: str, panel, dfind, settings) -> dict[bool, list]:
    """The arguments of every kernel call ``score_global`` makes for these sites' chunks."""
    import varbind.predict.kernels as kernels
    from varbind.predict.kernels import cpu_regions as real
    from varbind import io
    from varbind.annotate import pipeline
    from varbind.annotate.scoring import score_global
    from varbind.annotate.variants import region_chunks

    contigs = io.ContigMap(pipeline.fasta(fasta).lengths)
    items = [pipeline.prepare([s for _, s in c], fasta, contigs(c[0][1].chrom), settings, dfind)
             for c in region_chunks(sites)]
    subs = [pipeline._subwindows(p, panel.bank, panel.bank, dfind, settings)[0] for p in items]
    calls: dict[bool, list] = {False: [], True: []}
    try:
        for with_sub in (False, True):
            kernels.cpu_regions = type("Capture", (), {"window_edit_pool": staticmethod(
                lambda *a, w=with_sub: calls[w].append(a))})
            for p, s in zip(items, subs):
                score_global(panel.bank, p.win, p.genome, sub=s if with_sub else None)
    finally:
        kernels.cpu_regions = real
    return calls


def replay(calls: list) -> float:
    from varbind.predict.kernels import cpu_regions

    t = time.process_time()
    for a in calls:
        cpu_regions.window_edit_pool(*a)
    return time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vcf")
    ap.add_argument("--fasta", required=True)
    ap.add_argument("--models", default="deepbind")
    ap.add_argument("--n", type=int, default=300, help="SNVs of each kind (default 300)")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    import numba

    from varbind.annotate import Settings, resolve_panel
    from varbind.annotate.deepfind import load_deepfind

    panel = resolve_panel(args.models)
    dfind = load_deepfind(panel, None)
    settings = Settings(device="cpu")
    kinds = sites_by_kind(args.vcf, args.fasta, settings)
    print(f"{args.vcf}: {len(kinds['lone']):,} lone and {len(kinds['shared']):,} shared windows; "
          f"{args.models} ({len(panel.bank)} models); {numba.get_num_threads()} numba thread(s)")
    for kind, sites in kinds.items():
        if not sites:
            continue
        calls = captured_calls(sites[: args.n], args.fasta, panel, dfind, settings)
        for w in (False, True):  # compiled or loaded, untimed
            replay(calls[w])
        t = {False: [], True: []}
        for _ in range(args.repeats):
            for w in (False, True):
                t[w].append(replay(calls[w]))
        a, s = min(t[False]), min(t[True])
        print(f"{kind:6s} {min(args.n, len(sites)):,} SNVs: kernel {a:.3f} s, with DeepFind's window {s:.3f} s "
              f"(min of {args.repeats}; medians {np.median(t[False]):.3f}, {np.median(t[True]):.3f}): "
              f"+{100 * (s / a - 1):.0f}%")


if __name__ == "__main__":
    main()
