"""Every ```python snippet of README.md and docs/*.md is a tested example (issue 16, item 9).

Convention: the line before each snippet is an HTML comment (invisible on GitHub) saying what it
needs, e.g. ``<!-- doctest -->`` (runs anywhere), ``<!-- doctest: needs ../shared (...) -->``,
``<!-- doctest: needs a GPU -->`` or ``... a long time ...``. Each snippet is checked for names it
uses but never defines, then run as a script (``__name__ == "__main__"``) in a scratch folder where
``examples/``, ``pretrained/`` and ``../shared`` resolve as from the repository root; snippets whose
needs are not met here are skipped with the reason (a long one runs with ``VARBIND_DOCS_LONG=1``).
"""
from __future__ import annotations

import ast
import builtins
import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FENCE = re.compile(r"(?P<marker>^[^\n]*\n)?```python\n(?P<code>.*?)^```", re.S | re.M)


def snippets() -> list:
    out = []
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = doc.read_text()
        for m in FENCE.finditer(text):
            line = text[: m.start("code")].count("\n")
            out.append(pytest.param(doc.name, line, (m.group("marker") or "").strip(), m.group("code"),
                                    id=f"{doc.name}:{line}"))
    return out


def undefined_names(code: str) -> set[str]:
    """Names a flat snippet reads but never binds (imports, assignments, loops, defs, with/as)."""
    tree = ast.parse(code)
    bound, read = set(dir(builtins)) | {"__name__", "__file__"}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, (ast.Store, ast.Del)) else read).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
            bound |= {a.arg for a in ast.walk(node.args)} if isinstance(node, ast.FunctionDef) else set()
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return read - bound


def unmet(marker: str) -> str | None:
    if "../shared" in marker and not (SHARED / "data").is_dir():
        return f"needs {SHARED} (the ../shared data folder beside the repository); not present here"
    if "GPU" in marker:
        import torch

        if not torch.cuda.is_available():
            return "needs a CUDA GPU; none here"
    if "long time" in marker and os.environ.get("VARBIND_DOCS_LONG") != "1":
        return "takes a long time; set VARBIND_DOCS_LONG=1 to run it"
    return None


def test_every_snippet_is_found():
    found = {(p.values[0]) for p in snippets()}
    assert {"README.md", "annotate.md", "models.md", "mutmap.md", "deepfind.md", "training.md"} <= found


@pytest.mark.parametrize("doc, line, marker, code", snippets())
def test_snippet(doc, line, marker, code, tmp_path, monkeypatch):
    assert marker.startswith("<!-- doctest"), (
        f"{doc}:{line}: put <!-- doctest --> (or <!-- doctest: needs ... -->) on the line before the snippet")
    missing = undefined_names(code)
    assert not missing, f"{doc}:{line}: the snippet uses names it never defines: {sorted(missing)}"
    reason = unmet(marker)
    if reason:
        pytest.skip(f"{doc}:{line}: {reason}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    work = tmp_path / "repo"
    work.mkdir()
    for name in ("examples", "pretrained"):
        (work / name).symlink_to(REPO / name)
    if SHARED.exists():
        (tmp_path / "shared").symlink_to(SHARED)
    monkeypatch.chdir(work)
    try:
        exec(compile(code, f"{doc}:{line}", "exec"), {"__name__": "__main__"})
    finally:
        plt.close("all")
