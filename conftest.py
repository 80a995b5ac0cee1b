"""Root pytest configuration: modules that cannot be imported here are left out of doctest collection."""
from __future__ import annotations

import importlib.util

collect_ignore = ["varbind/pretrained.py"]  # an alias of varbind/panels/sources.py
if importlib.util.find_spec("triton") is None:  # the GPU kernels need Triton (CUDA builds of torch)
    collect_ignore += ["varbind/predict/kernels/triton_ops.py", "varbind/predict/kernels/triton_snv.py",
                       "varbind/predict/kernels/triton_heads.py"]
