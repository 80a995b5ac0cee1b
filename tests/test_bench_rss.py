"""The peak RSS that benchmarks/annotate.py reports for its ``annotate_vcf`` child is the child's own.

``getrusage(RUSAGE_SELF).ru_maxrss`` of a child started through vfork (what ``subprocess`` does on
Linux) includes its parent's peak, folded in at exec: the benchmark's parent peaks at ~640 MB while
it builds the 10^6-record inputs, which read as annotate's peak at 10^6 records (issue 12).
"""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "annotate.py"


def _peak_rss_code() -> str:
    tree = ast.parse(BENCH.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["PEAK_RSS"]:
            return ast.literal_eval(node.value)
    raise AssertionError("benchmarks/annotate.py defines no PEAK_RSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is read from /proc")
def test_child_peak_excludes_the_parents():
    parent = textwrap.dedent(f"""
        import subprocess, sys
        big = bytearray(400 << 20)  # 400 MB resident (zero-filled by the allocation), then freed
        for i in range(0, len(big), 4096):
            big[i] = 1
        del big
        print(subprocess.run([sys.executable, "-c", {_peak_rss_code()!r}], capture_output=True, text=True,
                             check=True).stdout)
    """)
    out = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, check=True).stdout
    child_mb = int(out.split()[-1]) / 1024
    assert 0 < child_mb < 200, f"the child reports {child_mb:.0f} MB: its parent's 400 MB peak counted in"
