"""Time the Triton SNV kernel with DeepFind's sub-window, per group of a panel, on this GPU.

For each group: the kernel alone (the panel's 101-bp windows), with the 51-bp sub-window's end
positions in tiles of their own (``packed=False``), in the panel tiles' spare lanes (``packed=True``)
and as shipped (``packed=None``: spare lanes where they hold them all); ``-n`` random windows, the
median of ``triton.testing.do_bench``; then the sums over the groups.

Usage (on the GPU)::

    PYTHONPATH=. python benchmarks/snv_subwindow.py --models deepbind -n 16384
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from varbind.panels import sources  # noqa: E402
from varbind.predict._core import _pad  # noqa: E402
from varbind.predict.kernels import triton_ops as tk  # noqa: E402
from varbind.predict.kernels import triton_snv as ts  # noqa: E402


def main() -> None:
    import triton

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="deepbind")
    ap.add_argument("--window", type=int, default=101)
    ap.add_argument("--sub", type=int, nargs=2, default=[25, 51], metavar=("CENTRE", "LENGTH"))
    ap.add_argument("-n", type=int, default=16384)
    args = ap.parse_args()
    dev = torch.device("cuda")
    bank = sources.load_panel(args.models).bank.to(dev)
    rng = np.random.default_rng(0)
    n, win = args.n, args.window
    codes = torch.from_numpy(rng.integers(0, 4, (n, win)).astype(np.uint8)).to(dev)
    lengths = torch.full((n,), win, dtype=torch.int32, device=dev)
    ref = torch.arange(n, dtype=torch.int32, device=dev)
    pos = torch.full((n,), win // 2, dtype=torch.int32, device=dev)
    new = torch.randint(0, 4, (n,), dtype=torch.int32, device=dev)
    sub = tuple(args.sub)
    names = ("alone", "own tiles", "packed", "shipped")
    total = np.zeros(len(names))
    print(f"{torch.cuda.get_device_name(dev)}, {args.models} ({len(bank)} models), {n:,} windows of {win} bp, "
          f"sub-window {sub[1]} bp; ms (median of do_bench), and the share added to the kernel alone")
    for g in bank.groups:
        w = tk.weights(g)
        padded = _pad(codes, g.m)
        runs = (dict(), dict(sub=sub, packed=False), dict(sub=sub, packed=True), dict(sub=sub))
        got = []
        for i, kw in enumerate(runs):
            fn = lambda kw=kw: ts.snv_pool(padded, lengths, ref, pos, new, w, g.thr, g.m, g.slots, g.d, **kw)  # noqa: E731
            t = triton.testing.do_bench(fn, warmup=10, rep=50, return_mode="median")
            total[i] += t
            got.append((fn(), t))
        panel = all(torch.equal(got[0][0], f[:, : 2 * n]) for f, _ in got[1:])
        sub_diff = max((got[1][0][:, 2 * n:] - f[:, 2 * n:]).abs().max().item() for f, _ in got[2:])
        row = "  ".join(f"{name} {t:7.2f} (+{100 * (t / got[0][1] - 1):3.0f}%)" for name, (_, t) in zip(names[1:], got[1:]))
        print(f"m={g.m:2d} cols={w.parts.shape[2]:6d}: alone {got[0][1]:7.2f}  {row}; panel features identical: {panel}; "
              f"sub-window features, largest difference between the ways: {sub_diff:.2e}", flush=True)
    print("all groups: " + "  ".join(f"{name} {t:.1f}" + (f" (+{100 * (t / total[0] - 1):.0f}%)" if i else "")
                                      for i, (name, t) in enumerate(zip(names, total))) + " ms")


if __name__ == "__main__":
    main()
