"""Scoring backends of :mod:`varbind.predict`: numba CPU kernels (``cpu``, ``cpu_edits``,
``cpu_regions``), torch twins for any device (``torch_ops``) and fused Triton GPU kernels (``triton_ops``).

Nothing outside :mod:`varbind.predict` imports these.
"""
