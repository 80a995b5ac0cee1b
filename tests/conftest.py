"""Shared fixtures: the ../shared data folder (skipped with a reason when absent), devices, banks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs {path} (the ../shared data folder beside the repository); not present here")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the repository; tests using it skip when it is absent."""
    return _need(SHARED / "README.md").parent


@pytest.fixture(scope="session")
def deepbind_dir(shared_dir: Path) -> Path:
    """The published DeepBind db folder (927 models)."""
    return _need(shared_dir / "data" / "deepbind")


@pytest.fixture(scope="session")
def deepbind_bank(deepbind_dir: Path):
    """All 927 published models, in ``all.ids`` order."""
    from varbind.panels import deepbind_db
    from varbind.bank import ModelBank

    ids = (deepbind_dir / "reference" / "all.ids").read_text().split()
    ids, params = deepbind_db.load_params(deepbind_dir, ids)
    return ModelBank.from_params(params, ids)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """Every device present: ``cpu`` always, ``cuda`` when a GPU is there."""
    return request.param


def random_seqs(rng: np.random.Generator, lengths, alphabet: str = "ACGT") -> list[str]:
    return ["".join(rng.choice(list(alphabet), size=int(n))) for n in lengths]


@pytest.fixture
def saved_figures(monkeypatch):
    """Every matplotlib Figure saved during the test (e.g. by the CLI), kept open to read what was drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.figure
    import matplotlib.pyplot as plt

    figs = []
    original = matplotlib.figure.Figure.savefig

    def keep(self, *a, **kw):
        figs.append(self)
        return original(self, *a, **kw)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    yield figs
    for f in figs:
        plt.close(f)


#: counts of the no-traceback tests (tests/test_no_traceback.py), printed in the terminal summary
NO_TRACEBACK_COUNTS: dict = {}


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the corpus and fuzzer counts of ``test_no_traceback.py`` (shown under ``-q`` too)."""
    if not NO_TRACEBACK_COUNTS:
        return
    terminalreporter.write_sep("-", "varbind annotate: adversarial inputs")
    for name, c in NO_TRACEBACK_COUNTS.items():
        terminalreporter.write_line(f"{name}: {c['files']} files, {c['accepted']} accepted ({c['records']} records "
                                    f"in = out), {c['refused']} refused, tracebacks = {c['tracebacks']}")
