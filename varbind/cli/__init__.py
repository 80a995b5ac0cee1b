"""The ``varbind`` command line: thin sub-commands that read, call the API and write.

Each sub-command lives in its own module of this package and exposes ``register(subparsers)``,
which adds its parser and sets ``func(args) -> int``. Errors derived from
:class:`~varbind.errors.VarbindError` (and unreadable files) reach the user as one line on stderr
and exit code 2; ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .. import __version__
from ..errors import VarbindError

#: sub-command modules, in the order ``varbind --help`` lists them
COMMAND_MODULES = ["annotate", "check", "score", "mutmap", "logo", "report", "models", "deepfind", "train"]

log = logging.getLogger("varbind")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="varbind",
        description="DeepBind models for variant-effect analysis.",
    )
    parser.add_argument("--version", action="version", version=f"varbind {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 unusable input, 1 other failure)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else (logging.WARNING if getattr(args, "quiet", False) else logging.INFO),
        format="varbind: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    try:
        return int(args.func(args) or 0)
    except VarbindError as e:
        if args.debug:
            raise
        print(f"varbind {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        if args.debug:
            raise
        print(f"varbind {args.command}: error: {e.filename or ''}: {e.strerror}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # e.g. `varbind score ... | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"varbind {args.command}: interrupted", file=sys.stderr)
        return 130
