"""Where panels are: the shipped folder, the user's data folder, and what a ``--models`` name or
path resolves to. Nothing here loads a model (see :mod:`varbind.panels.sources`)."""
from __future__ import annotations

import os
from collections.abc import Sequence  # noqa: F401
from pathlib import Path

from ..errors import ModelSourceError, PanelNotInstalledError

DEFAULT = "default"


#: panels that ``varbind models download`` knows, with the command that installs them (none today:
#: the DeepBind models ship with varbind)
INSTALLABLE: dict[str, str] = {}


def data_dir() -> Path:
    """The user's varbind data folder: ``$VARBIND_DATA_DIR``, else the platform's user data folder."""
    env = os.environ.get("VARBIND_DATA_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("varbind", appauthor=False))


def shipped_dir() -> Path:
    """Folder of the bundles shipped with varbind (``pretrained/`` of the source tree)."""
    env = os.environ.get("VARBIND_PRETRAINED_DIR")
    if env:
        return Path(env)
    installed = Path(__file__).resolve().parents[1] / "_pretrained"
    return installed if installed.is_dir() else Path(__file__).resolve().parents[2] / "pretrained"


def panels() -> dict[str, Path]:
    """Installed panels by name: shipped ones, then those in the user's data folder."""
    from .bundle import is_bundle

    found: dict[str, Path] = {}
    for root in (shipped_dir(), data_dir() / "panels"):
        if root.is_dir():
            for sub in sorted(root.iterdir()):
                if not sub.name.startswith(".") and is_bundle(sub):
                    found.setdefault(sub.name, sub)
    return found


def resolve(source: str | os.PathLike) -> tuple[str, Path]:
    """``("bundle" | "deepbind_db", path)`` for a ``--models`` source.

    Raises
    ------
    PanelNotInstalledError
        For a known panel name not installed yet (the message says how to install it).
    ModelSourceError
        For anything else that is neither a panel name nor a model folder.
    """
    from . import deepbind_db
    from .bundle import is_bundle

    path = Path(source).expanduser()
    if deepbind_db.is_deepbind_db(path):
        return "deepbind_db", path
    if is_bundle(path):
        return "bundle", path
    name = str(source)
    if os.sep not in name and "/" not in name:
        known = panels()
        if name in known:
            return "bundle", known[name]
        if name in INSTALLABLE:
            raise PanelNotInstalledError(f"panel {name!r} is not installed; install it with: {INSTALLABLE[name]}")
        if not path.exists():
            raise ModelSourceError(f"unknown panel {name!r} (installed: {', '.join([*SETS, *known]) or 'none'})")
    if path.exists():
        raise ModelSourceError(f"{path}: neither a varbind bundle (bundle.json) nor a DeepBind db folder (params/ + db.tsv)")
    raise ModelSourceError(f"{path}: no such folder or panel")


#: named sets: (bundle, catalogue column, value the column must hold or None for every row)
SETS: dict[str, tuple[tuple[str, str | None, str | None], ...]] = {
    "default": (("deepbind", "type", "TF"), ("trained", None, None)),
    "rbp": (("deepbind", "type", "RBP"), ("deepbind-minus", None, None)),
    "jaspar": (("jaspar", None, None),),
    "all": (("deepbind", None, None), ("deepbind-minus", None, None), ("jaspar", None, None)),
}


def is_set(source: str | os.PathLike) -> bool:
    """True for a named set or a comma-separated union of panel names."""
    s = str(source)
    return s in SETS or ("," in s and "/" not in s and os.sep not in s)


def parts(source: str) -> list[tuple[str, str | None, str | None]]:
    """The (bundle, column, value) parts of a set or union, in order (duplicates removed)."""
    out: list[tuple[str, str | None, str | None]] = []
    for name in (n.strip() for n in str(source).split(",")):
        if not name:
            continue
        for part in SETS.get(name, ((name, None, None),)):
            if part not in out:
                out.append(part)
    return out
