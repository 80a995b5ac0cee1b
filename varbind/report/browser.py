"""Headless Chromium for evidence reports: print a page to PDF, take a screenshot, read the loaded DOM.

``varbind report --format pdf`` prints the very page the HTML report is, through Debian's
``chromium`` package (``apt-get install chromium``; ``$VARBIND_CHROMIUM`` names another binary):
no second renderer to keep in step with the HTML. The Python PDF renderers on PyPI (WeasyPrint,
xhtml2pdf) run no JavaScript and lay pages out differently, so they would not print the same page.

The same functions let the tests and ``examples/report/`` check a page the way a reader's browser
shows it: :func:`load_page` returns the DOM after the ``load`` event and the browser's console lines.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

from ..errors import VarbindError

#: seconds a Chromium run may take before it is stopped
TIMEOUT = 120
_CONSOLE = re.compile(r":CONSOLE[:(]")


class BrowserError(VarbindError, RuntimeError):
    """Chromium is missing or failed to render a page."""


class LoadedPage(NamedTuple):
    """The DOM Chromium serialised after loading a page, and the page's console messages."""

    dom: str
    console: list[str]


def find_chromium() -> str | None:
    """Path of the Chromium binary: ``$VARBIND_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on PATH."""
    env = os.environ.get("VARBIND_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(args: list[str], html_path: str) -> subprocess.CompletedProcess:
    exe = find_chromium()
    if exe is None:
        raise BrowserError("this needs Chromium (Debian: apt-get install chromium; or set VARBIND_CHROMIUM)")
    with tempfile.TemporaryDirectory(prefix="varbind-chromium-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--mute-audio",
               "--disable-extensions", "--disable-background-networking", "--disable-component-update",
               f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args,
               Path(html_path).resolve().as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env={**os.environ, "HOME": profile})
        except subprocess.TimeoutExpired:
            raise BrowserError(f"Chromium did not finish within {TIMEOUT} s") from None
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BrowserError(f"Chromium failed (exit {done.returncode}): {tail}")
    return done


def _with_file(html: str, fn):
    with tempfile.TemporaryDirectory(prefix="varbind-page-") as d:
        page = Path(d) / "page.html"
        page.write_text(html, encoding="utf-8")
        return fn(str(page))


def print_pdf(html: str, pdf_path: str | os.PathLike) -> None:
    """Print the page ``html`` to ``pdf_path`` with headless Chromium (A4, backgrounds, no header/footer)."""
    def go(page: str) -> None:
        _run([f"--print-to-pdf={Path(pdf_path).resolve()}", "--no-pdf-header-footer"], page)
        if not Path(pdf_path).is_file() or Path(pdf_path).stat().st_size == 0:
            raise BrowserError("Chromium wrote no PDF")

    _with_file(html, go)


def screenshot(html_path: str | os.PathLike, png_path: str | os.PathLike, width: int = 1280,
               height: int = 2400) -> None:
    """A PNG screenshot of the page file ``html_path`` at ``width`` x ``height`` CSS pixels."""
    _run([f"--screenshot={Path(png_path).resolve()}", f"--window-size={width},{height}",
          "--hide-scrollbars"], str(html_path))
    if not Path(png_path).is_file():
        raise BrowserError("Chromium wrote no screenshot")


def load_page(html_path: str | os.PathLike) -> LoadedPage:
    """The DOM of the page file after its ``load`` event, and every console line it produced."""
    done = _run(["--enable-logging=stderr", "--v=0", "--dump-dom"], str(html_path))
    console = [line for line in done.stderr.splitlines() if _CONSOLE.search(line)]
    return LoadedPage(done.stdout, console)
