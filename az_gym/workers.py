"""The one worker-pool abstraction that self-play, the arena and evaluation run their games on.

A *job* is a picklable object that plays some games (:class:`Job`): self-play and arena
jobs are :class:`~az_gym.training.selfplay.WorkerJob`, evaluation's are batches of duel
games (:mod:`az_gym.evaluation`). A *pool* runs a list of jobs and returns their results in
job order (:class:`WorkerPool`), calling ``on_game_end(n)`` in the caller's process as games
finish. Two pools satisfy it: :class:`LocalPool` (processes on this machine, below) and
:class:`~az_gym.training.ray_backend.RayPool` (Ray actors, on one machine or a cluster).
A job may name its large read-only parts (network weights, evaluation's agents:
:class:`SharedJob`), which a pool with an object store sends once per call, whatever the
number of jobs, instead of once per job.

:class:`LocalPool` keeps ``num_processes`` spawn-context worker processes alive until
:meth:`LocalPool.close` (the trainer keeps one across iterations; evaluation one per call).
Each worker runs torch by the inference rule of :mod:`az_gym.threads` (one thread unless
told otherwise) and starts as :mod:`az_gym._procs` describes: it watches the parent before
heavy imports (and exits when it dies), ignores Ctrl-C, and starts without the caller's
``__main__`` unless a job refers to something defined there; when such a job cannot reach
its workers (``__main__`` read from stdin, ``python -c`` or a notebook), the jobs run in
this process with a warning. ``num_processes`` 0 or 1 runs jobs in the calling process,
with the caller's own objects (tests, debugging, a human player at the keyboard).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_mod
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, runtime_checkable

from az_gym._procs import (
    broken_pool_error,
    main_reimportable,
    main_unavailable_message,
    spawn_executor,
    spawning,
    stop_executor,
)

GameEnd = Callable[[int], None]
"""``on_game_end(n)``: called as games finish (``n``: games finished so far, or 1 per game
inside a job)."""


class Job(Protocol):
    """What a pool runs: picklable, plays ``num_games`` games."""

    num_games: int

    def run(self, on_game_end: GameEnd | None = None) -> Any:
        """Play the games (in any process), calling ``on_game_end`` after each."""
        ...

    def main_references(self) -> list[str]:
        """Names of objects defined in the caller's ``__main__`` that the job pickles."""
        ...


@runtime_checkable
class SharedJob(Job, Protocol):
    """A :class:`Job` whose large read-only parts travel apart from it."""

    def shared(self) -> tuple[Any, ...]:
        """The parts (objects several jobs of one call hold, by identity or, for weight
        sets, by content)."""
        ...

    def with_shared(self, parts: tuple[Any, ...]) -> Any:
        """This job with ``parts`` in place of :meth:`shared`'s (``()``: without them)."""
        ...


def split_shared(job: Any) -> tuple[Any, tuple[Any, ...]]:
    """``(job without its shared parts, the parts)`` of a :class:`SharedJob`, else
    ``(job, ())``."""
    if not isinstance(job, SharedJob):
        return job, ()
    parts = tuple(job.shared())
    return (job.with_shared(()), parts) if parts else (job, ())


@runtime_checkable
class WorkerPool(Protocol):
    """A backend that runs jobs: :class:`LocalPool` or a Ray pool."""

    @property
    def parallelism(self) -> int:
        """How many jobs run at once."""
        ...

    def run(self, jobs: Sequence[Any], on_game_end: GameEnd | None = None) -> list[Any]:
        """Run ``jobs`` and return their results in job order."""
        ...

    def close(self) -> None:
        """Stop the workers."""
        ...


def default_num_processes() -> int:
    """One process per core."""
    return os.cpu_count() or 1


_PROGRESS: Any = None  # the queue a pool worker reports finished games to


def _init_worker(threads: int | None, progress: Any) -> None:
    """Pool set-up in each worker, after :func:`az_gym._procs.init_worker` started watching
    the parent: torch threads for this process (``None``: the inference rule of
    :mod:`az_gym.threads`) and the progress queue."""
    global _PROGRESS
    from az_gym.threads import set_inference_threads, use_inference_threads

    set_inference_threads(threads)
    use_inference_threads()
    _PROGRESS = progress


def _run_in_worker(job: Job, token: int) -> Any:
    """Run ``job`` in a pool worker, reporting each finished game with ``token``."""
    progress = _PROGRESS
    if progress is None:
        return job.run()
    return job.run(lambda _n: progress.put(token))


class LocalPool:
    """Worker processes on this machine (see the module docstring).

    Args:
        num_processes: worker processes (``None``: one per core; 0 or 1: in-process).
        threads_per_process: torch threads in each worker (``None``: the inference rule of
            :mod:`az_gym.threads`, one thread unless ``AZ_GYM_NUM_THREADS`` says otherwise).
        what: what the jobs are, for the messages (``"self-play"``, ``"evaluation"``).
    """

    def __init__(
        self,
        num_processes: int | None = None,
        threads_per_process: int | None = None,
        *,
        what: str = "self-play",
    ) -> None:
        n = default_num_processes() if num_processes is None else num_processes
        if n < 0:
            raise ValueError(f"num_processes = {num_processes}; must be >= 0 or None")
        self.num_processes = n
        self.threads_per_process = threads_per_process
        self.what = what
        self._executor: ProcessPoolExecutor | None = None
        self._needs_main = False
        self._warned = False
        self._progress: Any = None
        self._token = 0

    @property
    def parallelism(self) -> int:
        """How many jobs run at once."""
        return max(1, self.num_processes)

    def _ensure(self, needs_main: bool) -> ProcessPoolExecutor:
        if self._executor is not None and needs_main and not self._needs_main:
            self.close()  # its workers started without the __main__ this job needs
        if self._executor is None:
            self._progress = mp.get_context("spawn").Queue()
            self._executor = spawn_executor(
                self.num_processes,
                "az_gym.workers:_init_worker",
                self.threads_per_process,
                self._progress,
            )
            self._needs_main = needs_main
        return self._executor

    def run(self, jobs: Sequence[Job], on_game_end: GameEnd | None = None) -> list[Any]:
        """Run the jobs (in parallel when there are processes); results in job order.

        ``on_game_end(n)`` is called in this process with the number of games finished.

        Raises:
            WorkerError: a worker process died (the message says what to do).
        """
        done_games = 0

        def tick(_: int = 0) -> None:
            nonlocal done_games
            done_games += 1
            if on_game_end is not None:
                on_game_end(done_games)

        if self.num_processes <= 1:
            return [job.run(tick) for job in jobs]
        main_names = sorted({n for j in jobs for n in j.main_references()})
        if main_names and not main_reimportable():
            if not self._warned:
                self._warned = True
                warnings.warn(main_unavailable_message(main_names, self.what), RuntimeWarning, 2)
            return [job.run(tick) for job in jobs]
        executor = self._ensure(bool(main_names))
        # Progress messages may arrive after their job's result: a token per call keeps a
        # late message of this call from being counted in the next one.
        self._token += 1
        try:
            with spawning(self._needs_main):  # submit() starts the workers
                futures = [executor.submit(_run_in_worker, job, self._token) for job in jobs]
            pending: set[Future[Any]] = set(futures)
            while pending:
                _, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                self._drain(tick)
            results = [f.result() for f in futures]
        except BrokenProcessPool:
            self._abort()
            raise broken_pool_error(self.what, main_names) from None
        except BaseException:
            self._abort()  # Ctrl-C or a failed job: do not wait for the other jobs
            raise
        self._drain(tick)
        while done_games < sum(job.num_games for job in jobs):
            tick()
        return results

    def _drain(self, tick: Callable[[], None]) -> None:
        while True:
            try:
                token = self._progress.get_nowait()
            except (queue_mod.Empty, OSError, ValueError):
                return
            if token == self._token:
                tick()

    def close(self) -> None:
        """Stop the worker processes (after the job they run, if any)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._close_progress()

    def _abort(self) -> None:
        if self._executor is not None:
            stop_executor(self._executor)
            self._executor = None
        self._close_progress()

    def _close_progress(self) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
