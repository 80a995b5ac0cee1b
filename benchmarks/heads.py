"""A panel's dense layers on the GPU: the torch heads (batched products, bias, ReLU, strand merge,
scatter into the score columns) against the fused Triton kernel (:mod:`varbind.predict.kernels.triton_heads`),
on random features of the panel's groups, ``-r`` rows (the SNV kernel's batch: 4 x 8,192 rows with
DeepFind's windows). Prints milliseconds a batch (median of ``triton.testing.do_bench``) and the
largest difference; ``--block`` and ``--warps`` try other tile shapes of the fused kernel.

Usage::

    PYTHONPATH=. python benchmarks/heads.py --models deepbind -r 32768 --block 32 64 128 --warps 2 4 8
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="deepbind")
    ap.add_argument("-r", "--rows", type=int, default=4 * 8192)
    ap.add_argument("--block", type=int, nargs="*", default=[])
    ap.add_argument("--warps", type=int, nargs="*", default=[])
    args = ap.parse_args()

    import torch
    from triton.testing import do_bench

    from varbind.annotate import resolve_panel
    from varbind.predict._core import _heads, _merge
    from varbind.predict.kernels import triton_heads

    bank = resolve_panel(args.models).bank.to("cuda")
    gen = torch.Generator(device="cuda").manual_seed(0)
    feats = [torch.rand((g.slots, args.rows, 2 * g.d), device="cuda", generator=gen) for g in bank.groups]
    out = torch.empty((args.rows, len(bank)), device="cuda")

    def torch_heads():
        for g, f in zip(bank.groups, feats):
            out[:, g.models_t(out.device)] = _merge(*_heads(g, f), "max")

    def fused():
        for g, f in zip(bank.groups, feats):
            triton_heads.heads_into(g, f, out, "max")

    gb = sum(f.numel() for f in feats) * 4 / 1e9
    print(f"{args.models}: {len(bank)} models, {len(bank.groups)} groups, {args.rows:,} rows, "
          f"{gb:.1f} GB of features")
    t_torch = do_bench(torch_heads)
    want = out.clone()
    print(f"torch heads: {t_torch:.2f} ms")
    shapes = [(b, w) for b in (args.block or [triton_heads.BLOCK_R]) for w in (args.warps or [triton_heads.NUM_WARPS])]
    for block, warps in shapes:
        triton_heads.BLOCK_R, triton_heads.NUM_WARPS = block, warps
        t = do_bench(fused)
        diff = float(((out - want).abs() / want.abs().clamp(min=1)).max())
        print(f"fused, BLOCK_R {block}, {warps} warps: {t:.2f} ms ({t_torch / t:.1f}x; {gb / t:.2f} TB/s of features "
              f"read); largest relative difference {diff:.1e}")


if __name__ == "__main__":
    main()
