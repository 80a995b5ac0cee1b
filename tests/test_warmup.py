"""The CPU kernels compiled at install (``make install`` runs :func:`varbind.predict.warmup.compile_cpu`),
so that a new user's first ``annotate`` does not compile for ~30 s; and the first-run message."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_warmup_fills_numba_cache_with_the_kernels_annotate_uses(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    code = ("from varbind.predict import warmup; assert not warmup._numba_cached(); "
            "from varbind.predict.warmup import main; main(); assert warmup._numba_cached()")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "CPU kernels compiled and cached in" in out.stdout
    cached = {p.name.split("-")[0] for p in (tmp_path / "cache").rglob("*.nbi")}
    # the top-level kernels of plain scoring, the executable's windows, edits (DeepFind) and regions (annotate)
    assert {"cpu.global_pool", "cpu.window_pool", "cpu_edits.edit_pool", "cpu_regions.window_edit_pool"} <= cached
    # a later process finds them: no first-run message
    said = subprocess.run([sys.executable, "-c", "from varbind.predict import warmup; print(warmup._numba_cached())"],
                          env=env, capture_output=True, text=True, cwd=REPO)
    assert said.stdout.strip() == "True"
