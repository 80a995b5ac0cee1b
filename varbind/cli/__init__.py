"""The ``varbind`` command line: thin sub-commands that read, call the API and write.

Each sub-command lives in its own module of this package and exposes ``register(subparsers)``,
which adds its parser and sets ``func(args) -> int``. :func:`main` is the one error boundary: every
exception that reaches it becomes one line on stderr and exit code 2 (:func:`error_line`; bugs of
varbind say "internal error, please report" and the version); ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .. import __version__, forkserver
from ..errors import VarbindError
from . import runtime

#: sub-command modules, in the order ``varbind --help`` lists them, with their one-line summaries
#: (a test checks each matches its module's ``help=``): ``varbind --help`` lists them without importing
#: the modules, whose imports (torch, pandas, scipy) take seconds
COMMANDS = {
    "annotate": "score VCF variants with a model panel (VCF/TSV/Parquet out)",
    "check": "pre-flight report on a VCF against a FASTA (contigs, build, REF mismatches)",
    "score": "score sequences with many models (drop-in for the deepbind executable)",
    "mutmap": "mutation maps: the score change of every point mutation of a region",
    "logo": "draw the detectors of a model as sequence logos",
    "report": "a self-contained HTML evidence page per variant (scores, mutation maps, logos, caveats)",
    "models": "list, show, import and download model panels",
    "deepfind": "DeepFind deleterious-SNV classifier: train or score",
    "train": "train a DeepBind model with automatic calibration",
}
COMMAND_MODULES = list(COMMANDS)

log = logging.getLogger("varbind")


class _Parser(argparse.ArgumentParser):
    """argparse, with a hint when a list was written space-separated (``--tf A B``)."""

    def error(self, message: str):  # type: ignore[override]
        if message.startswith("unrecognized arguments: ") and not message.split(": ", 1)[1].startswith("-"):
            message += " (list options take one comma-separated value, e.g. --tf GABPA,ELK1, or repeat the flag)"
        super().error(message)


def _chosen(argv: list[str] | None) -> str | None:
    """The sub-command named on the command line (the first word that is one), if any."""
    for word in sys.argv[1:] if argv is None else argv:
        if word in COMMANDS:
            return word
        if not word.startswith("-"):
            return None
    return None


def build_parser(argv: list[str] | None = None, *, full: bool = True) -> argparse.ArgumentParser:
    """The parser; with ``full=False`` only the sub-command named in ``argv`` is imported and the
    others are listed by name and summary (what ``main`` does, so ``varbind --help`` starts fast)."""
    chosen = _chosen(argv) if not full else None
    parser = _Parser(
        prog="varbind",
        description="DeepBind models for variant-effect analysis.",
    )
    parser.add_argument("--version", action="version", version=f"varbind {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        if full or name == chosen:
            importlib.import_module(f"{__name__}.{name}").register(sub)
            runtime.add_common_options(sub.choices[name])  # --threads, and the set-up before each command
        else:
            sub.add_parser(name, help=COMMANDS[name], add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 any error, 3 nothing annotated, 130 interrupted)."""
    if _chosen(argv) == "annotate":  # before torch is imported: see varbind.forkserver
        forkserver.start_for_command(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv, full=False)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else (logging.WARNING if getattr(args, "quiet", False) else logging.INFO),
        format="varbind: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # e.g. `varbind score ... | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"varbind {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the one error boundary: a line and exit code 2, never a traceback
        if args.debug:
            raise
        print(f"varbind {args.command}: error: {error_line(e)}", file=sys.stderr)
        return 2


def error_line(e: BaseException) -> str:
    """The one line a user sees for an exception that reached :func:`main`.

    Errors varbind raises on bad input (:class:`~varbind.errors.VarbindError`) and operating-system
    errors (missing file, permission, disk full...) are said as they are; anything else is a bug of
    varbind and says so, with the version to report.

    Examples
    --------
    >>> error_line(FileNotFoundError(2, "No such file or directory", "x.vcf"))
    'x.vcf: No such file or directory'
    >>> line = error_line(ZeroDivisionError("division by zero"))
    >>> line.startswith(f"internal error, please report (varbind {__version__}, ")
    True
    >>> line.endswith("ZeroDivisionError: division by zero")
    True
    """
    if isinstance(e, VarbindError):
        text = str(e)
    elif isinstance(e, OSError):
        where = e.filename if e.filename is not None else ""
        text = (f"{where}: {e.strerror}" if where else e.strerror) if e.strerror else str(e) or type(e).__name__
    elif isinstance(e, MemoryError):
        text = "out of memory"
    else:
        text = (f"internal error, please report (varbind {__version__}, run with --debug for the traceback): "
                f"{type(e).__name__}: {e}")
    return " ".join(text.split())  # one line, whatever the message holds


def entry() -> None:
    """The ``varbind`` executable (and ``python -m varbind``): :func:`main`, then exit with its code.

    After an interrupt or SIGTERM (exit codes 130, 143) the outputs' temporary files are already
    removed; a pipeline stage may still be inside a native call (a numba or torch kernel, htslib),
    where the interpreter's shutdown can wait on it, so the process ends at once instead.
    """
    import os
    import threading

    code = main()
    if code in (130, 143) and threading.active_count() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
