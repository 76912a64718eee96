"""What a trainer tells its user, and how the user stops it: the callbacks of each phase,
the report of an iteration, :class:`StopTraining`, and Ctrl-C deferred during a save.

A trainer stopped by SIGTERM (``kill PID``, a batch scheduler's time limit, ``docker stop``)
ends as after Ctrl-C: the iteration in progress is dropped, the workers are shut down and
the run directory's lock is released, so the next ``--resume`` starts without taking a dead
owner's lock over. While :meth:`Trainer.train` runs on the main thread, SIGTERM raises
:class:`Terminated` (a :class:`KeyboardInterrupt`, so code that handles Ctrl-C handles it
too), unless the program already installed a SIGTERM handler of its own, which is left
alone. The CLI exits 143 on it (128 + SIGTERM, as a shell reports a process killed by it).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

CALLBACK_NAMES = ("on_self_play_end", "on_learning_end", "on_arena_end", "on_iteration_end")


class Callbacks:
    """Dispatches the trainer's events to user callbacks (objects, dicts or lists)."""

    def __init__(self, callbacks: Any = None) -> None:
        items = callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]
        self._handlers: dict[str, list[Callable[[Any], None]]] = {n: [] for n in CALLBACK_NAMES}
        for cb in items:
            if cb is None:
                continue
            for name in CALLBACK_NAMES:
                fn = cb.get(name) if isinstance(cb, dict) else getattr(cb, name, None)
                if fn is not None:
                    self._handlers[name].append(fn)
            if isinstance(cb, dict):
                unknown = set(cb) - set(CALLBACK_NAMES)
                if unknown:
                    raise ValueError(
                        f"callbacks: unknown events {sorted(unknown)}; known: {CALLBACK_NAMES}"
                    )

    def fire(self, name: str, report: Any) -> None:
        """Call every handler of event ``name`` with ``report``."""
        for fn in self._handlers[name]:
            fn(report)


@dataclass(frozen=True)
class IterationReport:
    """What one iteration did (the object ``on_iteration_end`` receives).

    Attributes:
        iteration: 1-based index of the iteration.
        promoted: whether the best network changed.
        seconds: wall time of the iteration.
        record: the JSON record written to ``report.jsonl``.
    """

    iteration: int
    promoted: bool
    seconds: float
    record: dict[str, Any]


class StopTraining(Exception):
    """Raise from a callback to end training cleanly (what has been saved stays saved).

    Raised from ``on_iteration_end`` it stops after that iteration; from an earlier event
    the iteration in progress is dropped, as for Ctrl-C.
    """


class Terminated(KeyboardInterrupt):
    """SIGTERM reached a training run (module docstring); handled as Ctrl-C is."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (main thread only, and only
    where SIGTERM still has its default action; the previous handler is restored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield  # the program's own handler (or an ignored SIGTERM) stays
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def interrupt_guard() -> Iterator[None]:
    """Defer Ctrl-C (and SIGTERM while :func:`terminate_as_interrupt` holds it) until the
    block ends, so a save is never cut in half."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hit: list[int] = []
    old = signal.signal(signal.SIGINT, lambda signum, _f: hit.append(signum))
    term = signal.getsignal(signal.SIGTERM) is _raise_terminated
    if term:
        signal.signal(signal.SIGTERM, lambda signum, _f: hit.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        if term:
            signal.signal(signal.SIGTERM, _raise_terminated)
    if signal.SIGTERM in hit:
        raise Terminated
    if hit:
        raise KeyboardInterrupt
