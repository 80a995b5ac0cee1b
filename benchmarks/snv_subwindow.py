"""Time the Triton SNV kernel with DeepFind's sub-window, per group of a panel, on this GPU.

For each group: the kernel alone (the panel's 101-bp windows) and with the 51-bp sub-window, ``-n``
random windows, the median of ``triton.testing.do_bench``; then the sums over the groups. The panel's
features are compared with the kernel alone's: the largest difference of the max pools and of the
mean pools (models with average pooling).

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
    names = ("alone", "with the sub-window")
    total = np.zeros(len(names))
    print(f"{torch.cuda.get_device_name(dev)}, {args.models} ({len(bank)} models), {n:,} windows of {win} bp, "
          f"sub-window {sub[1]} bp; ms (median of do_bench), and the share added to the kernel alone")
    for g in bank.groups:
        w = tk.weights(g)
        padded = _pad(codes, g.m)
        got = []
        for i, kw in enumerate((dict(), dict(sub=sub))):
            fn = lambda kw=kw: ts.snv_pool(padded, lengths, ref, pos, new, w, g.thr, g.m, g.slots, g.d, **kw)  # noqa: E731
            t = triton.testing.do_bench(fn, warmup=10, rep=50, return_mode="median")
            total[i] += t
            got.append((fn(), t))
        (alone, t0), (both, t1) = got
        d = g.d  # features: max pools, then mean pools (used by the models with average pooling only)
        avg = torch.unique(w.slot[(w.avg > 0) & (w.slot >= 0)])
        max_diff = (alone[..., :d] - both[:, : 2 * n, :d]).abs().max().item()
        mean_diff = (alone[avg, :, d:] - both[avg, : 2 * n, d:]).abs().max().item() if len(avg) else 0.0
        print(f"m={g.m:2d} cols={w.parts.shape[2]:6d}: alone {t0:7.2f}  with the sub-window {t1:7.2f} "
              f"(+{100 * (t1 / t0 - 1):3.0f}%); the panel's features, largest difference: max pools {max_diff:.2e}, "
              f"mean pools {mean_diff:.2e}", flush=True)
    print("all groups: " + "  ".join(f"{name} {t:.1f}" + (f" (+{100 * (t / total[0] - 1):.0f}%)" if i else "")
                                      for i, (name, t) in enumerate(zip(names, total))) + " ms")


if __name__ == "__main__":
    main()
