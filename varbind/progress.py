"""Progress of long jobs: a one-line bar on a terminal, periodic log lines elsewhere.

On a terminal (stderr is a TTY) the bar puts what matters first — percent, ETA, done/total — and
has no drawn bar, so a narrow terminal still shows it (tqdm cuts the line at the terminal width
from the right); it stays as the last line when the job ends. When stderr is not a terminal (a
batch job, ``nohup``, a pipe into a log file) the same figures go to the ``varbind`` logger every
``interval`` seconds (:data:`LOG_EVERY`), and once at the end if any were printed.

Progress counts ``unit`` (records, steps) or, when ``bytes_total`` is given, bytes of the input
file read so far: the ETA for a VCF without an index to count its records.
"""
from __future__ import annotations

import logging
import sys
import time
from typing import Any

log = logging.getLogger("varbind")

#: seconds between progress log lines when stderr is not a terminal
LOG_EVERY = 30.0


def _duration(seconds: float) -> str:
    s = int(max(0, seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


class Progress:
    """Counts work done; shows it as a bar (TTY) or as log lines every ``interval`` seconds.

    Parameters
    ----------
    label : str
        What is being done ("annotate", "fold 2/3").
    total : int, optional
        Units of work in all (records from the index, steps); ``None`` when unknown.
    unit : str
        What is counted ("rec", "step").
    bytes_total : int, optional
        Size of the input: progress and ETA then follow ``position`` (bytes read) passed to :meth:`update`.
    enabled : bool
        ``False`` shows nothing (``--quiet``).
    tty : bool, optional
        Whether to draw a bar; default: whether stderr is a terminal.
    """

    def __init__(self, label: str, total: int | None = None, unit: str = "rec", *, bytes_total: int | None = None,
                 enabled: bool = True, tty: bool | None = None, interval: float | None = None, stream: Any = None):
        self.label, self.total, self.unit, self.bytes_total = label, total, unit, bytes_total
        self.enabled, self.interval = enabled, LOG_EVERY if interval is None else interval
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.n, self.position = 0, 0
        self.start = self._last = time.monotonic()
        self._logged = 0
        self._bar = None
        if enabled and self.tty:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=None, file=self.stream, leave=True, dynamic_ncols=True,
                             bar_format="{desc}", mininterval=0.5)
            self._refresh()

    def fraction(self) -> float | None:
        """Share of the work done (by bytes when ``bytes_total`` is known, else by count), or ``None``."""
        if self.bytes_total:
            return min(1.0, self.position / self.bytes_total)
        if self.total:
            return min(1.0, self.n / self.total)
        return None

    def line(self) -> str:
        """``label: 45% ETA 3:21 | 12,345/27,000 rec | 1,234 rec/s | 0:10`` (what is known of it)."""
        elapsed = time.monotonic() - self.start
        frac = self.fraction()
        parts = []
        if frac is not None:
            eta = elapsed * (1 - frac) / frac if frac > 0 else None
            parts.append(f"{frac:4.0%} ETA {_duration(eta) if eta is not None else '?'}")
        count = f"{self.n:,}/{self.total:,} {self.unit}" if self.total else f"{self.n:,} {self.unit}"
        if self.bytes_total:
            count += f" ({_size(self.position)}/{_size(self.bytes_total)})"
        parts.append(count)
        if elapsed > 0 and self.n:
            parts.append(f"{self.n / elapsed:,.0f} {self.unit}/s")
        parts.append(_duration(elapsed))
        return f"{self.label}: " + " | ".join(parts)

    def _refresh(self) -> None:
        self._bar.set_description_str(self.line(), refresh=True)

    def update(self, n: int = 1, position: int | None = None) -> None:
        """``n`` more units done; ``position``: bytes of the input read so far (with ``bytes_total``)."""
        self.n += n
        if position is not None:
            self.position = position
        if not self.enabled:
            return
        now = time.monotonic()
        if self._bar is not None:
            if now - self._last >= 0.5:
                self._last = now
                self._refresh()
        elif now - self._last >= self.interval:
            self._last = now
            self._logged += 1
            log.info("%s", self.line())

    def close(self) -> None:
        """Leave the final figures: the bar's last state on a terminal, a last log line otherwise
        (only when periodic lines were printed, so short jobs add no line)."""
        if self._bar is not None:
            self._refresh()
            self._bar.close()
            self._bar = None
        elif self.enabled and self._logged:
            log.info("%s", self.line())
            self._logged = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
