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

if TYPE_CHECKING:
    from ..bank import ModelBank


class CommaList(argparse.Action):
    """A list option written the bcftools way: one comma-separated value per flag (``--ids A,B``),
    the flag repeatable (``--ids A --ids B``); the values add up, in order.

    Unlike ``nargs="+"`` it never takes the positional argument that follows it, so
    ``--tf GABPA in.vcf`` and ``in.vcf --tf GABPA`` mean the same. ``type`` and ``choices`` apply
    to each item.
    """

    def __init__(self, option_strings, dest, type=None, choices=None, **kw):  # noqa: A002
        self.item_type, self.item_choices = type, choices
        super().__init__(option_strings, dest, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        items = [v.strip() for v in str(values).split(",") if v.strip()]
        if not items:
            raise argparse.ArgumentError(self, f"expected a comma-separated list, not {values!r}")
        out = []
        for v in items:
            if self.item_type is not None:
                try:
                    v = self.item_type(v)
                except ValueError:
                    raise argparse.ArgumentError(self, f"invalid value {v!r}") from None
            if self.item_choices is not None and v not in self.item_choices:
                raise argparse.ArgumentError(self, f"invalid choice {v!r} (choose from "
                                             f"{', '.join(map(str, self.item_choices))})")
            out.append(v)
        current = getattr(namespace, self.dest, None)
        # a default list is replaced by the first flag, not extended
        start = [] if current is None or current is self.default else list(current)
        setattr(namespace, self.dest, start + out)


def add_model_args(p: argparse.ArgumentParser, default: str | None = "default") -> None:
    g = p.add_argument_group("models")
    g.add_argument("--models", default=default, metavar="SOURCE",
                   help="a DeepBind db folder (params/ + db.tsv), a varbind bundle folder, or a panel "
                   f"name (default: {default})")
    sel = g.add_mutually_exclusive_group()
    sel.add_argument("--ids", action=CommaList, metavar="ID,...",
                     help="only these model IDs, in this order (comma-separated; the flag may be repeated)")
    sel.add_argument("--ids-file", metavar="FILE", help="only the model IDs listed in FILE (whitespace-separated)")
    g.add_argument("--tf", action=CommaList, metavar="NAME,...",
                   help="only models of these TFs (comma-separated, repeatable; case-insensitive; a dimer "
                   "A::B matches A and B)")
    g.add_argument("--family", action=CommaList, metavar="F,...",
                   help="only models whose TF family or class contains F (comma-separated, repeatable; "
                   "case-insensitive)")
    g.add_argument("--min-quality", type=float, default=None, metavar="Q",
                   help="drop models whose held-out quality (catalogue column quality: AUC for ChIP-seq/SELEX, "
                   "Pearson r for PBM) is below Q; models of unknown quality are kept")


#: exit code of a run that worked but annotated nothing: every record's REF differs from the FASTA,
#: or no ALT allele could be scored, or there were no records (in the regions); the output is still
#: written, complete, so that it can be inspected
EXIT_NOTHING_ANNOTATED = 3


def nothing_annotated(summary, command: str = "annotate", regions: bool = False) -> int:
    """The exit code for an annotation summary: :data:`EXIT_NOTHING_ANNOTATED` (with one line on
    stderr saying why) when nothing was annotated, else 0."""
    why = None
    if summary.records == 0:
        why = "the VCF holds no records" + (" in the regions given" if regions else "")
    elif summary.records and summary.ref_mismatch >= summary.records:
        why = (f"REF differs from the FASTA in all {summary.records} records: the VCF was probably called on "
               "another genome build (see varbind check)")
    elif summary.annotated == 0:
        skipped = ", ".join(f"{k} {v}" for k, v in summary.skipped.items()) or "none"
        why = f"no ALT allele could be scored (skipped: {skipped})"
    if why is None:
        return 0
    print(f"varbind {command}: error: nothing annotated: {why}; exit code {EXIT_NOTHING_ANNOTATED}",
          file=sys.stderr)
    return EXIT_NOTHING_ANNOTATED


def add_region_args(p: argparse.ArgumentParser) -> None:
    """``-r/--regions`` and ``-R/--regions-file``, as in bcftools."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("-r", "--regions", metavar="REG,...",
                   help="only records overlapping these regions: CHROM, CHROM:POS, CHROM:BEG-END or "
                   "CHROM:BEG- (1-based, comma-separated); needs a .tbi/.csi index beside a file")
    g.add_argument("-R", "--regions-file", metavar="FILE",
                   help="regions from FILE: CHROM<TAB>POS or CHROM<TAB>BEG<TAB>END (1-based), or .bed "
                   "(0-based); uses the index when there is one, else filters while streaming")


def add_device_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, metavar="DEV",
                   help="where to compute: auto (default: the GPU when torch sees one, else the CPU), cpu, "
                   "cuda or cuda:N")


def device(args: argparse.Namespace) -> str:
    """``--device`` resolved (:func:`varbind.device.resolve`: auto -> cuda when available, else cpu)."""
    from ..device import resolve

    return str(resolve(getattr(args, "device", None)))


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
    """The :class:`~varbind.panels.sources.Panel` that ``--models`` and the selection flags name."""
    from ..panels import sources as pretrained

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
