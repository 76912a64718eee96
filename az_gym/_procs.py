"""Worker processes: what a spawned worker does first, and how pools start them.

A worker of a ``spawn``-context pool is a fresh interpreter that (1) re-runs the parent's
``__main__`` unless told otherwise, (2) unpickles the pool's initializer and its arguments,
(3) calls the initializer, then (4) unpickles and runs tasks. az_gym's pools make that
start-up safe:

* **The parent is known before any heavy import.** The initializer is :func:`init_worker`,
  in this module, which imports only the standard library (``import az_gym`` does not import
  torch), so (2) is light. It receives the parent's pid *explicitly* and starts a watchdog
  that exits as soon as the parent is gone, including a parent killed before the worker got
  this far (its ``os.getppid()`` is already another process). Only then does it import the
  pool's own set-up (torch: ~3 s and ~300 MB). Without it, a pool worker outlives a
  ``kill -9`` of its trainer, blocked on its task queue for ever.
* **Ctrl-C is the parent's.** While it starts workers the parent blocks SIGINT (the mask is
  inherited across ``exec``, as :mod:`multiprocessing`'s resource tracker does it) and
  workers ignore it: a Ctrl-C reaches the whole process group, the parent handles it and
  stops the pool, and no worker prints a traceback.
* **``__main__`` only when needed** (:func:`spawning`). Step (1) exists so that objects
  defined in the main script can be unpickled in the worker. It fails for code read from
  stdin (``python - < script.py``: ``__file__`` is ``'<stdin>'``), and it re-runs the
  training of a script without an ``if __name__ == "__main__":`` guard in every worker. So
  when nothing sent to the workers is defined in ``__main__`` (a registry game name, a
  factory from an importable module, az_gym's agents), workers start with an empty
  ``__main__``: training works from a notebook, stdin, ``python -c`` or an unguarded script.
  When something is (a factory or a class defined in a notebook or in the script), the
  workers need the main script: from a file they re-run it, which needs the guard (a
  worker that finds itself re-running an unguarded training exits quietly and the parent
  raises :class:`WorkerError` saying so); from stdin, ``-c`` or a notebook they cannot, and
  the pools run in the calling process instead, with a warning (:func:`main_references`,
  :func:`main_reimportable`).
"""

from __future__ import annotations

import importlib
import io
import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
import time
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


def available_cores() -> int:
    """CPUs this process may run on (its affinity where the OS tells, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        return max(1, os.cpu_count() or 1)


MAX_PROCESSES_PER_CORE = 4
"""Worker processes allowed per available core (training's ``num_processes``, evaluation's
``num_processes``): each loads torch (about 250 MB), so a thousand would exhaust memory
before they sped anything up, and a shared ``params.toml`` asking for them would fork them
on resume. Games are CPU-bound: past one process per core they only share the cores."""


def max_processes() -> int:
    """:data:`MAX_PROCESSES_PER_CORE` times :func:`available_cores`."""
    return MAX_PROCESSES_PER_CORE * available_cores()


class WorkerError(ChildProcessError, RuntimeError):
    """A pool's worker processes (or Ray actors) died or could not start; the message says
    why and what to do. An ``OSError`` (an environment problem: one ``az-gym: error:`` line
    in the CLI, no "internal error") and a ``RuntimeError``."""


def watch_parent(parent_pid: int, poll_seconds: float = 0.5) -> None:
    """Exit this process (``os._exit(1)``, quietly) as soon as ``parent_pid`` is no longer
    its parent, checking now and then every ``poll_seconds`` in a daemon thread.

    ``os.getppid()`` changes when the parent dies, even by ``kill -9`` (the worker is
    re-parented), on every POSIX system and whatever thread made the worker.
    """
    if os.getppid() != parent_pid:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def init_worker(parent_pid: int, setup: str | None = None, *args: Any) -> None:
    """The initializer of every az_gym pool: watch the parent, ignore Ctrl-C, then call
    ``setup(*args)``.

    Args:
        parent_pid: ``os.getpid()`` of the process that made the pool.
        setup: ``"module:function"`` of the pool's own initializer (imported here, after
            the watchdog started; a name rather than the function, since unpickling the
            function would import its module first).
        args: its arguments (already unpickled: keep them light, or pass ``bytes`` that
            ``setup`` unpickles).
    """
    watch_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # the mask inherited from a parent that spawned
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if setup is not None:
        module, name = setup.split(":")
        getattr(importlib.import_module(module), name)(*args)


class _MainFinder(pickle.Pickler):
    """A pickler that records the ``__main__`` objects a pickle refers to."""

    def __init__(self, out: io.BytesIO) -> None:
        super().__init__(out, protocol=pickle.HIGHEST_PROTOCOL)
        self.found: set[str] = set()

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, (type, types.FunctionType)) and obj.__module__ == "__main__":
            self.found.add(obj.__qualname__)
        return NotImplemented


def dumps_for_workers(obj: Any) -> tuple[bytes, list[str]]:
    """``(pickle of obj, names of the objects defined in __main__ it refers to)``: classes
    and functions such as a game factory or an agent class defined in a notebook cell or in
    the main script.

    Raises:
        Exception: whatever pickling ``obj`` raises.
    """
    out = io.BytesIO()
    finder = _MainFinder(out)
    finder.dump(obj)
    return out.getvalue(), sorted(finder.found)


def main_references(obj: Any) -> list[str]:
    """The ``__main__`` names of :func:`dumps_for_workers` (``[]`` when ``obj`` cannot be
    pickled at all: the pool will say so when it tries)."""
    try:
        return dumps_for_workers(obj)[1]
    except Exception:
        return []


def main_reimportable() -> bool:
    """Whether a spawned worker can re-run ``__main__``: run as ``python -m module`` or from
    a file that exists (not stdin, ``python -c``, an interactive session or a notebook)."""
    main = sys.modules.get("__main__")
    if main is None:
        return False
    if getattr(getattr(main, "__spec__", None), "name", None):
        return True
    path = getattr(main, "__file__", None)
    return bool(path) and os.path.isfile(path)


def main_unavailable_message(names: Sequence[str], what: str) -> str:
    """The warning of a pool that runs in the calling process because its workers would
    need ``__main__`` (``names`` live there) and cannot re-run it."""
    return (
        f"{what} runs in this process: {', '.join(names)} is defined in __main__ (a notebook, "
        "stdin or python -c), which worker processes cannot import; define it in an "
        "importable module (or use a registry game name) to use worker processes"
    )


def broken_pool_error(what: str, main_names: Sequence[str]) -> WorkerError:
    """The error of a pool whose workers died; ``main_names``: the ``__main__`` objects the
    workers had to re-run the main script for."""
    text = f"{what}: a worker process died (killed, out of memory, or it could not start)"
    main = sys.modules.get("__main__")
    if main_names and getattr(main, "__file__", None):
        text += (
            f"; the workers re-run {main.__file__} to find {', '.join(main_names)}: if that "
            'script trains at its top level, put the training under if __name__ == "__main__":'
        )
    return WorkerError(text)


def exit_if_rerunning_main() -> None:
    """Exit quietly when called while a spawned worker re-runs its parent's main script.

    That only happens in a script without an ``if __name__ == "__main__":`` guard; the
    parent then reports it once (:func:`broken_pool_error`) instead of every worker
    printing a traceback.
    """
    if getattr(mp.current_process(), "_inheriting", False):
        raise SystemExit(1)


@contextmanager
def spawning(needs_main: bool) -> Iterator[None]:
    """Wrap the calls that start worker processes (a ``ProcessPoolExecutor``'s ``submit`` /
    ``map``: with ``spawn`` it starts its processes there).

    Meanwhile SIGINT is blocked (the workers inherit the mask) and a Ctrl-C (or a SIGTERM
    that has a Python handler, such as a training's) is held back until the block ends,
    where it is raised as usual: an interrupt in the middle of a start leaves a worker
    reading a half-written pipe, which prints a traceback. Unless
    ``needs_main``, the workers start without the parent's ``__main__``:
    ``multiprocessing`` re-runs it only through ``sys.modules["__main__"]``'s ``__spec__``
    or ``__file__``, so an empty stand-in takes its place for the duration (the user's
    module object is not touched).
    """
    exit_if_rerunning_main()
    held: list[Any] = []
    old_handler = None
    old_term = None
    if threading.current_thread() is threading.main_thread():
        # Another thread (TensorBoard's writer, tqdm's monitor) may take the signal even
        # though this one blocks it; Python then raises in the main thread all the same.
        old_handler = signal.signal(signal.SIGINT, lambda *a: held.append(a))
        if callable(signal.getsignal(signal.SIGTERM)):  # a trainer's (or the program's)
            # Python-level SIGTERM handler is deferred too; the default action is not.
            old_term = signal.signal(signal.SIGTERM, lambda *a: held.append(a))
    old_mask = None
    if hasattr(signal, "pthread_sigmask"):
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    main = sys.modules.get("__main__")
    if not needs_main:
        sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if not needs_main and main is not None:
            sys.modules["__main__"] = main
        if old_handler is not None:
            signal.signal(signal.SIGINT, old_handler)
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        if old_mask is not None:  # a Ctrl-C pending here goes to the restored handler
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        first = held[0] if held else None
        handler = old_term if first is not None and first[0] == signal.SIGTERM else old_handler
        if first is not None and callable(handler):
            handler(*first)  # Python's default SIGINT handler raises KeyboardInterrupt


def spawn_executor(num_workers: int, setup: str | None = None, *args: Any) -> Any:
    """A ``ProcessPoolExecutor`` of ``num_workers`` spawn-context workers whose initializer
    is :func:`init_worker` (then ``setup(*args)``). Start its workers inside
    :func:`spawning`."""
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=num_workers,
        mp_context=mp.get_context("spawn"),
        initializer=init_worker,
        initargs=(os.getpid(), setup, *args),
    )


def stop_executor(executor: Any) -> None:
    """Stop a pool now: terminate its workers and cancel its queued tasks (a worker that
    runs a task would otherwise finish it first: minutes of self-play after a Ctrl-C)."""
    terminate = getattr(executor, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    # Before shutdown(), which forgets the processes and drops the queues: a worker still
    # starting would then fail to unpickle them and print a traceback.
    workers = list((getattr(executor, "_processes", None) or {}).values())
    for p in workers:
        if p.is_alive():
            p.terminate()
    executor.shutdown(wait=False, cancel_futures=True)
