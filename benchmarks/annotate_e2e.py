"""``benchmarks/annotate.py --end-to-end VCF``: the real ``varbind annotate`` command against the
scoring call alone, on the same SNVs, in the same run.

* *scoring call alone*: every SNV of the VCF as a window (``--window``, default 101) of the FASTA,
  all scored by one :func:`varbind.predict.score_edits` call (what BENCHMARKS.md's kernel figures
  time), after an untimed warm-up (on a GPU the same call: after a warm-up on the first 8,192 alone,
  a fresh machine's timed call still compiled or set up, 17,838 SNV/s against 109,674-111,288 warm;
  on the CPU the first 8,192); the panel already loaded and on the device; on a GPU also one untimed
  ``annotate`` of the first 20,000 records, which compiles the kernels the command uses and the
  call alone does not (DeepFind's sub-window variants: a fresh machine's first run compiled them,
  3,892 SNV/s against 8,296 for the default panel);
* *end to end*: ``python -m varbind annotate VCF --fasta FA -o OUT.vcf.gz --models SRC --device DEV``
  as a subprocess (DeepFind on, as by default; ``--no-deepfind`` as well with ``--also-no-deepfind``,
  and in one host process, ``--host-workers 1``, with ``--also-one-process``),
  wall clock from start to exit (on the CPU with ``--threads`` the scoring call's thread count):
  interpreter start, imports, panel and DeepFind loading, reading,
  scoring, writing, bgzip and the tabix index. Its peak RSS too.

Each is repeated ``--repeats`` times in rounds (the call alone, then each command once); medians are
printed, and the ratio end to end / scoring alone as the median of the rounds' own ratios.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def count_records(vcf: str) -> int:
    """Records of a (b)gzipped or plain VCF: its lines that are not header lines."""
    import gzip

    with open(vcf, "rb") as f:
        opener = gzip.open if f.read(2) == b"\x1f\x8b" else open
    with opener(vcf, "rb") as f:
        return sum(1 for line in f if not line.startswith(b"#"))


def read_snvs(vcf: str, limit: int | None = None):
    from varbind import io
    from varbind.annotate.windows import Site

    reader = io.open_vcf(vcf)
    sites = []
    for batch in io.read_batches(reader, 4096, vcf):
        sites += [Site(*io.site_of(r)) for r in batch]
        if limit and len(sites) >= limit:
            break
    return sites[:limit] if limit else sites


def windows(sites, fasta: str, window: int):
    """All SNVs' windows as one batch (per contig through the FASTA)."""
    from varbind import io, predict
    from varbind.sequence import CodeBatch
    from varbind.annotate.windows import build_windows

    fa = io.Fasta(fasta)
    contigs = io.ContigMap(fa.lengths)
    by_chrom: dict[str, list] = {}
    for s in sites:
        by_chrom.setdefault(s.chrom, []).append(s)
    refs, e_parts, nb = [], [], 0
    for chrom, ss in by_chrom.items():
        c = contigs(chrom)
        if c is None:
            continue
        genome = lambda a, b, c=c: fa.codes(c, a, b)  # noqa: E731
        win = build_windows(ss, genome, window, "skip", fa.lengths[c])
        refs.append(win.refs)
        e = win.edits
        e_parts.append(predict.Edits(e.ref_index + nb, e.start, e.codes, e.lengths))
        nb += len(win.refs.lengths)
    codes = np.concatenate([r.codes for r in refs])
    lengths = np.concatenate([r.lengths for r in refs])
    edits = predict.Edits(*(np.concatenate([getattr(e, f) for e in e_parts]) for f in predict.Edits._fields))
    return CodeBatch(codes, lengths), edits


def warm_alone(bank, refs, edits, device: str) -> None:
    """The scoring call's untimed warm-up (see the module's docstring)."""
    from varbind import predict
    from varbind.sequence import CodeBatch

    if device.startswith("cuda"):  # the whole call once
        predict.score_edits(bank, refs, edits, device=device)
        return
    warm = min(8192, len(edits.start))
    sub = predict.Edits(*(x[:warm] for x in edits))
    used = int(sub.ref_index.max()) + 1
    predict.score_edits(bank, CodeBatch(refs.codes[:used], refs.lengths[:used]), sub, device=device)


def scoring_alone(bank, refs, edits, device: str) -> float:
    """One timed scoring call alone: SNV/s."""
    import torch

    from varbind import predict

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    predict.score_edits(bank, refs, edits, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return len(edits.start) / (time.perf_counter() - t)


def end_to_end(vcf: str, fasta: str, models: str, device: str, extra: list[str], n: int,
               workers: int | None = None) -> tuple[float, float, str]:
    """One run of the command: its rate (``n`` / wall seconds), peak RSS (MB) and command line."""
    with tempfile.TemporaryDirectory() as d:
        out = str(Path(d) / "out.vcf.gz")
        cmd = [sys.executable, "-m", "varbind", "annotate", vcf, "--fasta", fasta, "-o", out, "--models", models,
               "--device", device, "--quiet", *extra] + (["--workers", str(workers)] if workers else [])
        if device == "cpu":  # the scoring call's threads: without --threads, varbind counts this benchmark's
            import numba  # own threads, still spinning after the call, as busy cores and may take fewer

            cmd += ["--threads", str(numba.get_num_threads())]
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        t = time.perf_counter()
        p = subprocess.run(["/usr/bin/env", "python3", "-c", _RSS, *cmd], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if p.returncode != 0:
            raise SystemExit(f"annotate failed ({p.returncode}):\n{p.stderr[-3000:]}")
        return n / wall, float(p.stdout.split()[-1]) / 1024, " ".join(cmd[1:])


#: runs the command as a child and prints its peak RSS (KB): the child of this little wrapper
_RSS = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")


def warm_annotate(vcf: str, fasta: str, models: str, device: str, n: int = 20_000) -> None:
    """One untimed ``annotate`` of the first ``n`` records of ``vcf`` (see the module's docstring)."""
    import gzip

    with tempfile.TemporaryDirectory() as d:
        head = str(Path(d) / "head.vcf")
        with open(vcf, "rb") as f:
            opener = gzip.open if f.read(2) == b"\x1f\x8b" else open
        with opener(vcf, "rb") as f, open(head, "wb") as g:
            k = 0
            for line in f:
                k += not line.startswith(b"#")
                if k > n:
                    break
                g.write(line)
        end_to_end(head, fasta, models, device, ["--host-workers", "1"], n)


def run(args) -> None:
    from varbind import device as vdevice
    from varbind.panels import sources as pretrained

    device = str(vdevice.resolve(args.device))
    sites = read_snvs(args.end_to_end, args.alone_n)
    n = count_records(args.end_to_end) if args.alone_n else len(sites)
    panel = pretrained.load_panel(args.models)
    bank = panel.bank.to(device)
    refs, edits = windows(sites, args.fasta, args.window)
    rows = [("VCF", f"{args.end_to_end} ({n:,} records; {len(edits.start):,} SNVs scored by the call alone)"),
            ("models", f"{args.models} ({len(bank)})"), ("device", device),
            ("load average at start", " ".join(f"{x:.2f}" for x in os.getloadavg()))]
    if device.startswith("cuda"):
        import torch

        rows.append(("GPU", torch.cuda.get_device_name(device)))
    warm_alone(bank, refs, edits, device)
    cmd_device = args.annotate_device or device
    if cmd_device != device:
        rows.append(("the command's device", f"{cmd_device} ({vdevice.gpus_of(cmd_device)} for the scoring service)"))
    if device.startswith("cuda"):
        warm_annotate(args.end_to_end, args.fasta, args.models, cmd_device)
    variants = [("end to end, DeepFind on", [])]
    if args.also_no_deepfind:
        variants.append(("end to end, --no-deepfind", ["--no-deepfind"]))
    if args.also_one_process:
        variants.append(("end to end, DeepFind on, --host-workers 1", ["--host-workers", "1"]))
    for w in args.host_workers or ():
        variants.append((f"end to end, DeepFind on, --host-workers {w}", ["--host-workers", str(w)]))
    # rounds: the call alone, then each command once; a ratio is taken within its round, so that a
    # machine whose speed drifts over the minutes of a run (a shared VM: 10-20%) moves both sides of it
    alone, rates, rss, cmds = [], {v: [] for v, _ in variants}, {v: [] for v, _ in variants}, {}
    for _ in range(args.repeats):
        alone.append(scoring_alone(bank, refs, edits, device))
        for label, extra in variants:
            r, m, cmds[label] = end_to_end(args.end_to_end, args.fasta, args.models, cmd_device, extra, n,
                                           args.workers)
            rates[label].append(r)
            rss[label].append(m)
    med_alone = statistics.median(alone)
    rows.append(("scoring call alone, SNV/s (median; runs)", f"{med_alone:,.0f} ({', '.join(f'{x:,.0f}' for x in alone)})"))
    for label, _ in variants:
        med = statistics.median(rates[label])
        ratios = [100 * r / a for r, a in zip(rates[label], alone)]
        rows += [(f"{label}: command", cmds[label]),
                 (f"{label}, SNV/s (median; runs)", f"{med:,.0f} ({', '.join(f'{x:,.0f}' for x in rates[label])})"),
                 (f"{label} / scoring call alone (median of the rounds' ratios; rounds)",
                  f"{statistics.median(ratios):.0f}% ({', '.join(f'{x:.0f}%' for x in ratios)})"),
                 (f"{label}, peak RSS (the largest process)", f"{max(rss[label]):,.0f} MB")]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}", flush=True)
