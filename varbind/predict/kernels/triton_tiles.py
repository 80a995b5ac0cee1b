"""Tile choices of the Triton kernels shipped per GPU model, so that a first run does not autotune.

Autotuning (:mod:`varbind.predict.kernels.triton_ops`) compiles and times every tile shape for every group of a
panel: about 77 s in a fresh process on an H100 before these tables. The choices below are the
fastest of :data:`varbind.predict.kernels.triton_ops.CONFIGS` measured on the GPU named
(``benchmarks/triton_tiles.py``, 16,384 windows of 101 and 51 bp) and are keyed by kernel, ``K_PAD`` (4 m rounded up to 16), column count and padded sequence length; a
shape not in the table takes the nearest measured one of the same kernel (same ``K_PAD`` first,
then the nearest column count, then length), so a panel never measured is not autotuned either.
GPUs of the same architecture share a table (the H100 uses the H200's: same SMs and tensor cores,
not measured on an H100). A GPU with no table falls back to the autotuner, with a message. ``VARBIND_AUTOTUNE=1`` forces
the autotuner (for measuring new tables). A fixed choice also makes scores independent of batch
sizes (the autotuner may pick other tiles for other sizes, which sum the mean pool in another order).
"""
from __future__ import annotations

import functools
import json
import logging
import os

import torch

log = logging.getLogger("varbind")

#: (kernel, K_PAD, COLS, L_PAD) -> (BLOCK_P, BLOCK_C, num_warps, num_stages), per GPU table
TABLES: dict[str, dict[tuple[str, int, int, int], tuple[int, int, int, int]]] = {
    # NVIDIA H200, 2026-11-30, benchmarks/triton_tiles.py --models <927 DeepBind models> (16,384 windows)
    "H200": {
        ("snv", 64, 768, 127): (64, 128, 4, 4),
        ("snv", 64, 4096, 131): (64, 128, 4, 3),
        ("snv", 80, 12544, 139): (64, 128, 4, 3),
        ("snv", 96, 8192, 147): (64, 128, 4, 3),
        ("snv", 128, 1024, 163): (64, 128, 4, 4),
        ("snv", 144, 256, 171): (64, 128, 4, 3),
        ("conv", 64, 768, 127): (64, 128, 4, 3),
        ("conv", 64, 4096, 131): (64, 128, 4, 3),
        ("conv", 80, 12544, 139): (64, 256, 8, 3),
        ("conv", 96, 8192, 147): (64, 128, 4, 3),
        ("conv", 128, 1024, 163): (64, 256, 8, 3),
        ("conv", 144, 256, 171): (64, 256, 8, 3),
        ("snv", 64, 768, 77): (32, 128, 4, 3),
        ("snv", 64, 4096, 81): (32, 128, 4, 3),
        ("snv", 80, 12544, 89): (32, 128, 4, 3),
        ("snv", 96, 8192, 97): (32, 128, 4, 3),
        ("snv", 128, 1024, 113): (32, 128, 4, 3),
        ("snv", 144, 256, 121): (32, 128, 4, 3),
    },
}
#: GPU name fragments (``torch.cuda.get_device_name``) -> table
FAMILIES = (("H200", "H200"), ("H100", "H200"), ("GH200", "H200"))

_names: dict[int, str] = {}
_noted: set[str] = set()


@functools.lru_cache(maxsize=1)
def _extra() -> dict:
    """Tables from the JSON file ``VARBIND_TILES`` names (``benchmarks/triton_tiles.py`` writes it)."""
    path = os.environ.get("VARBIND_TILES")
    if not path:
        return {}
    with open(path) as f:
        raw = json.load(f)
    return {gpu: {(k.split("/")[0], *map(int, k.split("/")[1:])): tuple(v) for k, v in t.items()}
            for gpu, t in raw.items()}


def table_for(name: str) -> dict | None:
    """The tile table for a GPU named ``name`` (``None``: autotune)."""
    extra = _extra()
    if name in extra:
        return extra[name]
    for frag, table in FAMILIES:
        if frag in name:
            return TABLES.get(table) or None
    return None


def _name(device: torch.device) -> str:
    idx = device.index if device.index is not None else torch.cuda.current_device()
    if idx not in _names:
        _names[idx] = torch.cuda.get_device_name(idx)
    return _names[idx]


def choice(device: torch.device, kernel: str, key: tuple[int, int, int]) -> dict | None:
    """The shipped tiles for ``kernel`` ("conv" or "snv") and ``(K_PAD, COLS, L_PAD)`` on ``device``, or None."""
    if os.environ.get("VARBIND_AUTOTUNE") == "1":
        return None
    table = table_for(_name(device))
    if not table:
        return None
    k_pad, cols, l_pad = key
    hit = table.get((kernel, k_pad, cols, l_pad))
    if hit is None:  # the nearest measured shape of this kernel: same K_PAD and columns first, then length
        near = [k for k in table if k[0] == kernel]
        if not near:
            return None
        hit = table[min(near, key=lambda k: (k[1] != k_pad, abs(k[2] - cols), abs(k[3] - l_pad), k[1:]))]
    return dict(zip(("BLOCK_P", "BLOCK_C", "num_warps", "num_stages"), hit))


def note_tuning(device: torch.device) -> None:
    """Say once per GPU model that the autotuner runs (it takes a minute or more the first time)."""
    name = _name(device)
    if name not in _noted:
        _noted.add(name)
        log.info("tuning GPU kernels for %s (no shipped tile table for it; first run only, the choices are "
                 "cached) ...", name)
