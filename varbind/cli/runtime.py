"""What every sub-command sets up before it runs: --threads, quiet libraries, a matplotlib cache.

:func:`add_common_options` gives every sub-command ``--threads`` and wraps its ``func`` so that
:func:`prepare` runs after ``main`` has configured logging and before the command, and so that an
``OSError`` names the output the user asked for, not its temporary file. :func:`prepare` sets:

* ``--threads`` (or the default) for numba, torch and BLAS (:mod:`varbind.threads`);
* only varbind's own messages below WARNING reach stderr (``--debug`` shows everyone's):
  libraries log at INFO things a user need not read ("generated new fontManager" from matplotlib,
  Dask's cluster start-up);
* ``MPLCONFIGDIR`` in varbind's cache folder when matplotlib's default is not writable, so that
  matplotlib does not print a warning naming a temporary folder on every run.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
from pathlib import Path

#: temporary names of outputs written then renamed (``.out.vcf.gz.1234.tmp.vcf.gz``, see
#: :func:`varbind._fs.temp_path`)
_TEMP = re.compile(r"^\.(?P<name>.+)\.\d+\.tmp(\.[A-Za-z0-9]+)*$")


class _OwnInfoOnly(logging.Filter):
    """Pass WARNING and above from anyone, lower levels only from the ``varbind`` logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name == "varbind" or record.name.startswith("varbind.")


def quiet_libraries(debug: bool) -> None:
    """Keep other libraries' INFO lines off stderr (all of them with ``debug``)."""
    for h in logging.getLogger().handlers:
        for f in [f for f in h.filters if isinstance(f, _OwnInfoOnly)]:
            h.removeFilter(f)
        if not debug:
            h.addFilter(_OwnInfoOnly())


def matplotlib_cache() -> None:
    """Point ``MPLCONFIGDIR`` at ``~/.cache/varbind/matplotlib`` when matplotlib's default folder
    cannot be written (it would otherwise warn and use a new temporary folder each run)."""
    if os.environ.get("MPLCONFIGDIR"):
        return
    default = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "matplotlib"
    if _writable(default):
        return
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "varbind" / "matplotlib"
    for d in (cache, Path("/tmp") / f"varbind-matplotlib-{os.getuid()}"):
        if _writable(d):
            os.environ["MPLCONFIGDIR"] = str(d)
            return


def _writable(d: Path) -> bool:
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(d, os.W_OK | os.X_OK)


def final_name(path: str) -> str:
    """The output a temporary file stands for (``dir/.out.tsv.77.tmp.tsv`` -> ``dir/out.tsv``);
    other paths unchanged, so that messages name the file the user asked for.

    Examples
    --------
    >>> final_name("res/.calls.vcf.gz.4242.tmp.vcf.gz"), final_name("res/calls.vcf")
    ('res/calls.vcf.gz', 'res/calls.vcf')
    """
    p = Path(path)
    m = _TEMP.match(p.name)
    return str(p.with_name(m.group("name"))) if m else path


_TEMP_IN_TEXT = re.compile(r"(?P<dir>[^\s'\"]*/)?\.(?P<name>[^/\s'\"]+?)\.\d+\.tmp(\.[A-Za-z0-9]+)*(?=[\s'\"]|$)")


def untemp(text: str) -> str:
    """``text`` with every temporary output name replaced by its final name (see :func:`final_name`).

    Examples
    --------
    >>> untemp("Failed to open local file '/w/.o.tsv.12.tmp.tsv'. Detail: [errno 2]")
    "Failed to open local file '/w/o.tsv'. Detail: [errno 2]"
    """
    return _TEMP_IN_TEXT.sub(lambda m: f"{m.group('dir') or ''}{m.group('name')}", text)


def prepare(args: argparse.Namespace) -> None:
    """Set up the process for a sub-command (see the module docstring)."""
    from .. import threads

    quiet_libraries(bool(getattr(args, "debug", False)))
    matplotlib_cache()
    threads.configure(getattr(args, "threads", None))


def add_common_options(p: argparse.ArgumentParser) -> None:
    """Add ``--threads`` to every parser of a sub-command that runs something, and wrap its
    ``func`` so that :func:`prepare` runs first."""
    for leaf in _leaves(p):
        _add_threads(leaf)


def _leaves(p: argparse.ArgumentParser):
    """The parsers of a sub-command that run something (``varbind train chip``, ``varbind models list``)."""
    subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield p
    for a in subs:
        for q in dict.fromkeys(a.choices.values()):
            yield from _leaves(q)


def _add_threads(p: argparse.ArgumentParser) -> None:
    """``--threads N`` on every command (numba, torch and BLAS use N threads, see :mod:`varbind.threads`),
    and :func:`varbind.cli.runtime.prepare` run before the command."""
    p.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="CPU threads for scoring (default: the cores this process may use, from its CPU "
                   "affinity and cgroup quota, that the load average leaves free; or $NUMBA_NUM_THREADS)")
    func = p.get_default("func")
    if func is not None and not getattr(func, "_threads", False):
        def run(args: argparse.Namespace, _func=func) -> int:
            prepare(args)  # threads, quiet libraries, matplotlib's cache folder
            try:
                return _func(args)
            except OSError as e:  # name the output asked for, not its temporary file
                if isinstance(e.filename, str):
                    e.filename = final_name(e.filename)
                if isinstance(e.strerror, str):
                    e.strerror = untemp(e.strerror)
                raise

        run._threads = True  # type: ignore[attr-defined]
        p.set_defaults(func=run)


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return n
