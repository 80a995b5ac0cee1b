"""Arguments and helpers shared by the sub-commands (model selection, device, input streams)."""
from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..errors import InputFormatError

if TYPE_CHECKING:  # pragma: no cover - torch is imported only by the commands that score
    from ..bank import ModelBank


def add_model_args(p: argparse.ArgumentParser, default: str | None = "default") -> None:
    g = p.add_argument_group("models")
    g.add_argument("--models", default=default, metavar="SOURCE",
                   help="a DeepBind db folder (params/ + db.tsv), a varbind bundle folder, or a panel "
                   f"name (default: {default})")
    sel = g.add_mutually_exclusive_group()
    sel.add_argument("--ids", nargs="+", metavar="ID", help="only these model IDs, in this order")
    sel.add_argument("--ids-file", metavar="FILE", help="only the model IDs listed in FILE (whitespace-separated)")
    g.add_argument("--tf", nargs="+", action="extend", metavar="NAME",
                   help="only models of these TFs (case-insensitive; a dimer A::B matches A and B)")
    g.add_argument("--family", nargs="+", action="extend", metavar="F",
                   help="only models whose TF family or class contains F (case-insensitive)")
    g.add_argument("--min-quality", type=float, default=None, metavar="Q",
                   help="drop models whose held-out quality (catalogue column quality: AUC for ChIP-seq/SELEX, "
                   "Pearson r for PBM) is below Q; models of unknown quality are kept")


def add_device_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, metavar="DEV",
                   help="torch device to score on: cpu (default) or cuda")


def selected_ids(args: argparse.Namespace) -> list[str] | None:
    if getattr(args, "ids", None):
        return list(args.ids)
    if getattr(args, "ids_file", None):
        try:
            ids = Path(args.ids_file).read_text().split()
        except OSError as e:
            raise InputFormatError(f"{args.ids_file}: cannot read: {e.strerror or e}") from None
        if not ids:
            raise InputFormatError(f"{args.ids_file}: lists no model IDs")
        return ids
    return None


def load_panel(args: argparse.Namespace):
    """The :class:`~varbind.pretrained.Panel` that ``--models`` and the selection flags name."""
    from .. import pretrained

    return pretrained.load_panel(args.models, ids=selected_ids(args), tf=getattr(args, "tf", None),
                                 family=getattr(args, "family", None), min_quality=getattr(args, "min_quality", None))


def load_bank(args: argparse.Namespace) -> ModelBank:
    """The bank that ``--models`` and the selection flags name."""
    return load_panel(args).bank


@contextlib.contextmanager
def open_text(path: str) -> Iterator[IO[str]]:
    """Open a text input: ``-`` for stdin; gzip (and bgzip) files are decompressed."""
    if path == "-":
        yield sys.stdin
        return
    p = Path(path)
    if p.is_dir():
        raise InputFormatError(f"{path}: is a folder, not a file")
    from .. import io as vio

    if vio.sniff(p) in ("gzip", "bgzf"):  # also refuses a truncated bgzip file
        with gzip.open(p, "rt", encoding="ascii", errors="replace") as f:
            yield f
    else:
        with io.open(p, "rt", encoding="ascii", errors="replace") as f:
            yield f
