"""Measure the Triton kernels' tile choices on this GPU, for the tables of :mod:`varbind.predict.kernels.triton_tiles`.

For each group of each ``--models`` panel, each window length (101 bp: annotate's default; 51 bp:
DeepFind's) and each kernel (``snv``: single-base edits, ``conv``: plain sequences), every tile shape
of :data:`varbind.predict.kernels.triton_ops.CONFIGS` runs on ``--n`` random windows (median time of
``triton.testing.do_bench``) and the fastest is kept. Writes JSON ``{gpu name: {key: tile}}`` to
``-o`` (``VARBIND_TILES=that.json`` makes varbind use it; paste it into ``_triton_tiles.TABLES`` to
ship it) and prints the timings.

Usage (on the GPU)::

    PYTHONPATH=. python benchmarks/triton_tiles.py --models DIR default -o tiles.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from varbind.predict.kernels import triton_ops as tk  # noqa: E402
from varbind.predict.kernels import triton_snv as ts  # noqa: E402
from varbind import pretrained  # noqa: E402
from varbind.predict._core import _pad  # noqa: E402


def measure(group, codes, n: int, kernel: str) -> dict:
    import triton

    w = tk.weights(group)
    m = group.m
    padded = _pad(codes, m)
    lengths = torch.full((n,), codes.shape[1], dtype=torch.int32, device=codes.device)
    x = tk.one_hot_padded(padded)
    _, k_pad, cols = w.parts.shape
    thr = torch.nn.functional.pad(group.thr.reshape(-1), (0, cols - group.thr.numel()))
    l_pad = padded.shape[1]
    centre = torch.full((n,), codes.shape[1] // 2, dtype=torch.int32, device=codes.device)
    new = torch.randint(0, 4, (n,), dtype=torch.int32, device=codes.device)
    ref = torch.arange(n, dtype=torch.int32, device=codes.device)
    rows = 2 * n if kernel == "snv" else n
    feats = torch.empty((group.slots, rows, 2 * group.d), dtype=torch.float32, device=codes.device)
    times = {}
    for cfg in tk.CONFIGS:
        meta = dict(cfg.kwargs, num_warps=cfg.num_warps, num_stages=cfg.num_stages)
        grid = (n, cols // meta["BLOCK_C"])
        if kernel == "snv":
            fn = lambda: ts._snv_pool_jit[grid](  # noqa: E731
                x, lengths, ref, centre, new, w.parts, w.inv_scale, w.w32, thr, w.slot, w.feat, w.avg, feats, l_pad, n,
                group.d, 2, M=m, K_PAD=k_pad, COLS=cols, BLOCK_K=tk.BLOCK_K, MP2=max(16, triton.next_power_of_2(m)),
                **meta)
        else:
            fn = lambda: tk._conv_pool_jit[grid](  # noqa: E731
                x, lengths, w.parts, w.inv_scale, thr, w.slot, w.feat, w.avg, feats, l_pad, n, group.d, 2, M=m,
                K_PAD=k_pad, COLS=cols, BLOCK_K=tk.BLOCK_K, **meta)
        try:
            times[(cfg.kwargs["BLOCK_P"], cfg.kwargs["BLOCK_C"], cfg.num_warps, cfg.num_stages)] = \
                triton.testing.do_bench(fn, warmup=10, rep=40, return_mode="median")
        except Exception as e:  # noqa: BLE001 - a shape that does not fit (shared memory): skip it
            print(f"  skipped {meta}: {type(e).__name__}", file=sys.stderr)
    return {"key": (kernel, k_pad, cols, l_pad), "times": times}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["default"])
    ap.add_argument("--windows", type=int, nargs="+", default=[101, 51])
    ap.add_argument("--kernels", nargs="+", default=["snv", "conv"])
    ap.add_argument("-n", type=int, default=16384)
    ap.add_argument("-o", "--output", default="tiles.json")
    args = ap.parse_args()
    dev = torch.device("cuda")
    name = torch.cuda.get_device_name(dev)
    rng = np.random.default_rng(0)
    table: dict[str, list] = {}
    done: set = set()
    t0 = time.perf_counter()
    for source in args.models:
        bank = pretrained.load_panel(source).bank.to(dev)
        for window in args.windows:
            codes = torch.from_numpy(rng.integers(0, 4, (args.n, window)).astype(np.uint8)).to(dev)
            for kernel in args.kernels:
                if kernel == "conv" and window != args.windows[0]:
                    continue
                for g in bank.groups:
                    # one measurement per kernel, K_PAD, column count and window: other lengths take the nearest
                    shape = (kernel, tk.weights(g).parts.shape[1], tk.weights(g).parts.shape[2], window)
                    if shape in done:
                        continue
                    done.add(shape)
                    r = measure(g, codes, args.n, kernel)
                    key = "/".join(map(str, r["key"]))
                    if not r["times"]:
                        continue
                    best = min(r["times"], key=r["times"].get)
                    table[key] = list(best)
                    row = "  ".join(f"{k[0]}x{k[1]}w{k[2]}s{k[3]}:{v:.3f}" for k, v in sorted(r["times"].items()))
                    print(f"{source} m={g.m} {key}: best {best}  ({row} ms)", flush=True)
    Path(args.output).write_text(json.dumps({name: table}, indent=1))
    print(f"{len(table)} keys on {name} in {time.perf_counter() - t0:.0f} s -> {args.output}")


if __name__ == "__main__":
    main()
