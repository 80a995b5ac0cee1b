"""Root pytest configuration: modules that cannot be imported here are left out of doctest collection."""
from __future__ import annotations

import importlib.util

collect_ignore = []
if importlib.util.find_spec("triton") is None:  # the GPU kernels need Triton (CUDA builds of torch)
    collect_ignore.append("varbind/_triton_kernels.py")
