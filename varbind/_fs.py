"""The one way varbind writes a file or a folder atomically.

Every output is first written under a hidden temporary name in the target's own folder (so the
rename stays on one file system), then flushed to disk (``fsync``) and renamed over the target;
the folder is ``fsync``-ed after the rename. Every write and the close are checked: a failure (a
full disk, a read-only folder, an I/O error) removes the temporary file and raises
:class:`~varbind.errors.OutputError`, one line naming the output. Nothing partial ever appears
under the final name.

While a temporary output exists, ``SIGTERM`` is turned into ``SystemExit(143)`` (``SIGINT`` is
already ``KeyboardInterrupt``), so the same clean-up paths run; only ``SIGKILL`` (or a crash)
can leave a hidden ``.NAME.PID.XXXX.tmp`` file behind, never a partial file under ``NAME``.

Examples
--------
>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> write_text(os.path.join(d, "a.txt"), "hello\\n")
>>> with atomic_path(os.path.join(d, "b.txt")) as tmp:
...     _ = open(tmp, "w").write("built by a library that wants a path\\n")
>>> sorted(os.listdir(d))
['a.txt', 'b.txt']
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import OutputError

#: temporary paths (files or folders) that exist now and are removed by :func:`_cleanup_all`
_LIVE: set[str] = set()
_LOCK = threading.Lock()
_SAVED_HANDLER: list = []


# ---------------------------------------------------------------- signals


def _on_sigterm(signum, frame) -> None:  # pragma: no cover - exercised by a subprocess test
    raise SystemExit(128 + signal.SIGTERM)


def _register(path: str) -> None:
    with _LOCK:
        _LIVE.add(path)
        if (len(_LIVE) == 1 and not _SAVED_HANDLER and threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)):
            _SAVED_HANDLER.append(signal.signal(signal.SIGTERM, _on_sigterm))


def _unregister(path: str) -> None:
    with _LOCK:
        _LIVE.discard(path)
        if not _LIVE and _SAVED_HANDLER and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _SAVED_HANDLER.pop())


def live_temporaries() -> list[str]:
    """Temporary outputs that exist now (for tests and clean-up)."""
    with _LOCK:
        return sorted(_LIVE)


# ---------------------------------------------------------------- helpers


def temp_path(final: str | os.PathLike) -> str:
    """A new, unique hidden name beside ``final`` that keeps its endings (``.vcf.gz`` ...).

    Libraries pick the format from the ending (htslib, pyarrow, matplotlib), so it is kept; the
    process id and a random part make two runs writing the same output use different names.
    """
    final = Path(final)
    ends = "".join(s for s in final.suffixes[-2:] if len(s) <= 9 and " " not in s)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.{os.getpid()}.", suffix=f".tmp{ends}",
                               dir=str(final.parent) if str(final.parent) else ".")
    os.close(fd)
    return tmp


def _error(final: str | os.PathLike, e: OSError, what: str = "cannot write") -> OutputError:
    reason = e.strerror or str(e)
    if e.errno == errno.ENOSPC:
        reason = "no space left on device"
    elif e.errno == errno.EDQUOT:
        reason = "disk quota exceeded"
    return OutputError(f"{final}: {what}: {reason}; nothing was written under this name")


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a file's data (or a folder's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):  # folders on some file systems
            raise
    finally:
        os.close(fd)


def _umask_mode(tmp: str, mode: int = 0o666) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, mode & ~umask)  # mkstemp makes 0600; give the file the usual mode


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when both paths exist and are the same file (links and ``..`` resolved)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_overwriting_input(output: str | os.PathLike, *inputs: str | os.PathLike | None) -> None:
    """Raise :class:`OutputError` when ``output`` is one of ``inputs`` (it would be destroyed)."""
    for i in inputs:
        if i is not None and str(output) != "-" and same_file(output, i):
            raise OutputError(f"{output}: the output is the input file {i}; choose another output name")


# ---------------------------------------------------------------- files


def commit(tmp: str | os.PathLike, final: str | os.PathLike) -> None:
    """fsync ``tmp``, rename it to ``final`` and fsync the folder; on failure remove ``tmp``.

    Raises
    ------
    OutputError
    """
    tmp, final = str(tmp), str(final)
    try:
        fsync_path(tmp)
        os.replace(tmp, final)
    except OSError as e:
        discard(tmp)
        raise _error(final, e) from None
    _unregister(tmp)
    with contextlib.suppress(OSError):
        fsync_path(os.path.dirname(os.path.abspath(final)))


def discard(tmp: str | os.PathLike) -> None:
    """Remove a temporary output (file or folder) if it is still there."""
    tmp = str(tmp)
    try:
        if os.path.isdir(tmp) and not os.path.islink(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.unlink(tmp)
    except FileNotFoundError:
        pass
    except OSError:
        pass
    _unregister(tmp)


def new_temp(final: str | os.PathLike) -> str:
    """A registered temporary file beside ``final`` (see :func:`temp_path`); pair with
    :func:`commit` or :func:`discard`.

    Raises
    ------
    OutputError
        When the folder does not exist or is not writable.
    """
    try:
        tmp = temp_path(final)
    except OSError as e:
        folder = os.path.dirname(os.path.abspath(str(final)))
        raise _error(final, e, f"cannot create a file in {folder}") from None
    _register(tmp)
    _umask_mode(tmp)
    return tmp


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[str]:
    """A temporary path for a library that writes by name; committed when the block succeeds.

    Raises
    ------
    OutputError
        For a failed write (an ``OSError`` inside the block), the fsync or the rename.
    """
    tmp = new_temp(final)
    with _discarded_on_error(tmp, final):
        yield tmp
    commit(tmp, final)


@contextlib.contextmanager
def _discarded_on_error(tmp: str | os.PathLike, final: str | os.PathLike) -> Iterator[None]:
    """Remove ``tmp`` when the block fails; an ``OSError`` becomes the :class:`OutputError` of ``final``
    (an ``OutputError``, itself an ``OSError``, passes unchanged: it already says what went wrong)."""
    try:
        yield
    except OutputError:
        discard(tmp)
        raise
    except OSError as e:
        discard(tmp)
        raise _error(final, e) from None
    except BaseException:
        discard(tmp)
        raise


@contextlib.contextmanager
def atomic_open(final: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """A file object on a temporary file, committed when the block succeeds (``"w"`` or ``"wb"``)."""
    with atomic_path(final) as tmp:
        f = open(tmp, mode, encoding=None if "b" in mode else encoding)
        try:
            yield f
        finally:
            f.close()  # a failed flush raises here, inside atomic_path


def write_bytes(final: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``final`` atomically."""
    with atomic_open(final, "wb") as f:
        f.write(data)


def write_text(final: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``final`` atomically."""
    with atomic_open(final, "w", encoding=encoding) as f:
        f.write(text)


# ---------------------------------------------------------------- folders


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike, *, replace: bool = True) -> Iterator[Path]:
    """A temporary sibling folder, renamed to ``final`` when the block succeeds.

    Every file written in it is fsync-ed first. An existing ``final`` is replaced only once the new
    folder is complete (``replace=False`` refuses instead). On failure the temporary folder, and
    only it, is removed.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}.", suffix=".tmp", dir=final.parent))
    except OSError as e:
        raise _error(final, e, f"cannot create a folder in {final.parent}") from None
    _register(str(tmp))
    with _discarded_on_error(tmp, final):
        yield tmp
        for f in tmp.rglob("*"):
            if f.is_file():
                fsync_path(f)
        os.chmod(tmp, 0o755)
        old = None
        if final.exists():
            if not replace:
                raise OutputError(f"{final}: already exists")
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", dir=final.parent))
            os.replace(final, old / final.name)
        try:
            os.replace(tmp, final)
        except OSError:
            if old is not None:
                os.replace(old / final.name, final)  # put the previous folder back
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        with contextlib.suppress(OSError):
            fsync_path(final.parent)
    _unregister(str(tmp))
