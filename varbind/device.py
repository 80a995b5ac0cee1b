"""Where varbind computes: the one place that turns ``--device`` into a torch device and picks the kernels.

Every command (``annotate``, ``mutmap``, ``score``, ``train``, ``deepfind``, ``models``) and every
library function that takes ``device=`` goes through :func:`resolve`; the scoring kernels through
:func:`backend`.

* ``"auto"`` (the default; also ``None``): the first CUDA device when torch sees one, else the CPU;
* ``"cpu"``;
* ``"cuda"`` or ``"cuda:N"``: that GPU (``cuda`` is the current one, normally ``cuda:0``); an error
  naming the visible devices when there is none or ``N`` is out of range.

Kernels (:func:`backend`): numba on the CPU, the fused Triton kernels on a CUDA device in global
mode, the torch twins otherwise (deepbind mode on a GPU, other device types, or CUDA without Triton).

Examples
--------
>>> resolve("cpu")
device(type='cpu')
>>> backend(resolve("cpu"), "global")
'numba'
>>> resolve("tpu")
Traceback (most recent call last):
...
varbind.errors.InputFormatError: --device tpu: use auto, cpu, cuda or cuda:N
"""
from __future__ import annotations

import functools
import logging
import os
import re
from pathlib import Path

import torch

from .errors import InputFormatError

CHOICES = "auto, cpu, cuda or cuda:N"
log = logging.getLogger("varbind")


def resolve(device: str | torch.device | None = "auto") -> torch.device:
    """The torch device ``device`` names (``None`` and ``"auto"``: CUDA when available, else CPU).

    Raises
    ------
    InputFormatError
        For a name that is not ``auto``/``cpu``/``cuda``/``cuda:N``, or a CUDA device that is not there.
    """
    if isinstance(device, torch.device):
        return device if device.type != "cuda" else _cuda(device.index, str(device))
    name = "auto" if device is None else str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    m = re.fullmatch(r"cuda(?::(\d+))?", name)
    if m is None:
        raise InputFormatError(f"--device {device}: use {CHOICES}")
    return _cuda(None if m.group(1) is None else int(m.group(1)), str(device))


def _cuda(index: int | None, name: str) -> torch.device:
    if not torch.cuda.is_available():
        why = "this torch was built without CUDA" if torch.version.cuda is None else "no GPU is visible"
        raise InputFormatError(f"--device {name}: no CUDA device ({why}); use --device cpu or auto")
    n = torch.cuda.device_count()
    if index is None:
        index = torch.cuda.current_device()
    if not 0 <= index < n:
        raise InputFormatError(f"--device {name}: there are {n} CUDA devices (cuda:0 .. cuda:{n - 1})")
    return torch.device("cuda", index)


def gpu_count() -> int:
    """CUDA devices torch sees (0 without CUDA)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def gpus_of(device: str | None) -> list[str | None]:
    """The devices a run on ``device`` spreads over (one per worker, or per scoring thread of
    :mod:`varbind.annotate.service`): with ``cuda`` or ``auto`` (no GPU named) on a CUDA machine every
    visible GPU; otherwise ``device`` alone.

    Examples
    --------
    >>> gpus_of("cpu"), gpus_of(None)
    (['cpu'], [None])
    """
    if str(device) not in ("cuda", "auto") or not gpu_count():
        return [device]
    return [f"cuda:{i}" for i in range(gpu_count())]


@functools.lru_cache(maxsize=1)
def have_triton() -> bool:
    """Whether the Triton kernels can run (Triton ships with CUDA builds of torch; the CPU wheel has none)."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def backend(device: torch.device, mode: str = "global") -> str:
    """The kernels that score on ``device``: ``"numba"`` (CPU), ``"triton"`` (CUDA, global mode) or ``"torch"``."""
    if device.type == "cpu":
        return "numba"
    if device.type == "cuda" and mode == "global" and have_triton():
        return "triton"
    return "torch"
