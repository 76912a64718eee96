"""Progress of long work: a tqdm bar on a terminal, periodic log lines elsewhere.

Training phases (self-play, learning, arena) and ``evaluate`` report their progress through
:func:`progress`. On a terminal that is a tqdm bar with an ETA. Without one (output sent to
a log file, CI, ``nohup``, a notebook's captured stderr) a bar either prints nothing or
floods the log with carriage returns, so a line is printed instead every
``AZ_GYM_PROGRESS_SECONDS`` seconds (default 30), plus a closing line when the phase ran
for at least that long::

    [3] self-play: 120/800 games, 40 s, ETA 3m 47s
    [3] self-play: 800/800 games, 4m 27s, done

Short phases stay silent in a log (their result is in the iteration's summary line anyway);
``AZ_GYM_PROGRESS_SECONDS=0`` prints a line at every step (tests use it).
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, TextIO

ENV_SECONDS = "AZ_GYM_PROGRESS_SECONDS"
"""Environment variable: seconds between two progress lines when stderr is not a terminal."""

DEFAULT_SECONDS = 30.0


def log_interval() -> float:
    """Seconds between log lines, from ``AZ_GYM_PROGRESS_SECONDS`` (default 30).

    Raises:
        ValueError: the variable is set but is not a number ``>= 0``.
    """
    raw = os.environ.get(ENV_SECONDS, "").strip()
    if not raw:
        return DEFAULT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or math.isinf(value):
        raise ValueError(f"{ENV_SECONDS}={raw!r} must be a number of seconds >= 0")
    return value


def format_seconds(seconds: float) -> str:
    """``"40 s"``, ``"3m 47s"``, ``"2h 05m"``."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


class _Silent:
    """The progress of ``--quiet``: does nothing."""

    def update(self, n: int = 1) -> None:
        """Ignore ``n`` finished steps."""

    def close(self) -> None:
        """Nothing to close."""

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LogProgress(_Silent):
    """Periodic ``desc: n/total unit, elapsed, ETA`` lines on ``stream`` (see module docstring).

    Args:
        total: the number of steps expected.
        desc: what is being done (``"[3] self-play"``).
        unit: the steps' name in the lines (``"games"``), or ``""``.
        interval: seconds between two lines (``0``: every step).
        stream: where to write (default ``sys.stderr`` at each write, so redirections made
            after construction are followed).
    """

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str = "",
        interval: float | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.total = int(total)
        self.desc = desc
        self.unit = unit
        self.interval = log_interval() if interval is None else float(interval)
        self._stream = stream
        self.n = 0
        self._start = time.monotonic()
        self._last = self._start
        self._printed = False
        self._closed = False

    def update(self, n: int = 1) -> None:
        """Count ``n`` finished steps; print a line if ``interval`` seconds have passed."""
        self.n += n
        now = time.monotonic()
        # the last step's line is the closing one ("..., done"), written once by close()
        if self.n < self.total and now - self._last >= self.interval:
            self._last = now
            self._write(now, final=False)

    def close(self) -> None:
        """Print the closing line if the phase printed any line before (once)."""
        if self._closed:
            return
        self._closed = True
        if self._printed:
            self._write(time.monotonic(), final=True)

    def _write(self, now: float, final: bool) -> None:
        elapsed = now - self._start
        unit = f" {self.unit}" if self.unit else ""
        line = f"{self.desc}: {self.n}/{self.total}{unit}, {format_seconds(elapsed)}"
        if final:
            line += ", done" if self.n >= self.total else ", stopped"
        elif 0 < self.n < self.total:
            line += f", ETA {format_seconds(elapsed * (self.total - self.n) / self.n)}"
        stream = self._stream if self._stream is not None else sys.stderr
        print(line, file=stream, flush=True)
        self._printed = True


def progress(total: int, desc: str, *, unit: str = "", enabled: bool = True) -> Any:
    """A progress reporter for ``total`` steps: use it as a context manager and call
    ``update(1)`` after each step.

    Returns a tqdm bar when stderr is a terminal (a notebook widget in Jupyter), a
    :class:`LogProgress` otherwise, and a silent object when ``enabled`` is false
    (``--quiet``).
    """
    if not enabled:
        return _Silent()
    if sys.stderr.isatty() or "ipykernel" in sys.modules:  # a terminal or a notebook widget
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit or "it", leave=False, dynamic_ncols=True)
    return LogProgress(total, desc, unit)
