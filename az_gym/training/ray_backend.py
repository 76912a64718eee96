"""Self-play, arena and evaluation workers as Ray actors (``pip install az-gym[ray]``).

Selected by ``SimParams.backend = "ray"``. :class:`RayPool` is a
:class:`~az_gym.workers.WorkerPool`: its actors run exactly the jobs the local processes
run (:class:`~az_gym.training.selfplay.WorkerJob`, evaluation's duel games); the learner
stays in the process that runs the :class:`~az_gym.training.trainer.Trainer` (the head
node, GPU when present: the actors ask for no GPU unless told to).

* **Each large part once** (:class:`_ObjectStore`): a job's :meth:`shared` parts (network
  weights, evaluation's game and agents) go to the Ray object store once and every job gets
  the reference. Weight sets are recognised by content, so the best network that self-play
  put is not put again by the arena, nor by the next iteration's self-play once promoted:
  each weight set is put once in its life, one ``ray.put`` per new network per iteration.
* **Jobs survive lost actors.** Each idle actor takes the next job; a job whose actor dies
  (killed, out of memory, its node gone) is run again on another actor, and a replacement
  actor is started. A job's games depend only on its seed, so the rerun plays exactly the
  games that were lost, and each job's result is kept once (by its index in the call): no
  sample is lost or counted twice. After ``max_retries`` reruns of one job the pool raises
  :class:`~az_gym._procs.WorkerError`; the trainer's run directory still holds its last
  completed iteration, ready to resume.
* **Bounded waits** (:mod:`az_gym.training.ray_connect`): an address where no Ray answers,
  or a cluster without a free CPU per actor, is one :class:`RayUnavailableError` within
  seconds, not a hang.

``address`` ``None`` starts (or joins, if already initialised) a local Ray instance;
``"auto"``, ``"host:6379"`` or ``"ray://host:10001"`` joins a cluster, whose nodes must have
az_gym installed.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from az_gym._procs import WorkerError
from az_gym.training.ray_connect import (
    CONNECT_TIMEOUT_S,
    RayUnavailableError,
    check_free_cpus,
    connect,
    import_ray,
)
from az_gym.workers import split_shared

__all__ = ["ActorLocation", "RayPool", "RayUnavailableError", "import_ray"]


def fingerprint(part: Any) -> str | None:
    """A content hash of a weight set (``{name: ndarray}``), ``None`` for anything else
    (shared by identity within one call only)."""
    if not isinstance(part, dict) or not part:
        return None
    if not all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in part.items()):
        return None
    h = hashlib.blake2b(digest_size=20)
    for name in sorted(part):
        v = np.ascontiguousarray(part[name])
        h.update(f"{name}:{v.dtype.str}:{v.shape};".encode())
        h.update(v.data)
    return h.hexdigest()


class _ObjectStore:
    """Object-store references of the jobs' shared parts, each put once (see the module
    docstring); weight sets of the previous call stay referenced for the next one."""

    def __init__(self, put: Callable[[Any], Any]) -> None:
        self._put = put
        self._last: dict[str, Any] = {}
        self._before: dict[str, Any] = {}

    def share(self, parts: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """One tuple of references per job's ``parts``."""
        by_id: dict[int, Any] = {}
        used: dict[str, Any] = {}
        out = []
        for job_parts in parts:
            refs = []
            for part in job_parts:
                if id(part) not in by_id:
                    key = fingerprint(part)
                    ref = None
                    if key is not None:
                        ref = used.get(key) or self._last.get(key) or self._before.get(key)
                    by_id[id(part)] = ref if ref is not None else self._put(part)
                    if key is not None:
                        used[key] = by_id[id(part)]
                refs.append(by_id[id(part)])
            out.append(tuple(refs))
        self._before, self._last = self._last, used
        return out


class ActorLocation(NamedTuple):
    """Where an actor runs: its Ray node id and process id."""

    node_id: str
    pid: int


class JobActor:
    """A Ray worker process with its own torch thread count; runs pool jobs."""

    def __init__(self, threads: int | None = None) -> None:
        from az_gym.threads import set_inference_threads, use_inference_threads

        set_inference_threads(threads)
        use_inference_threads()

    def run(self, job: Any, *shared: Any) -> Any:
        """Run ``job`` with its shared parts (Ray resolves each reference from the object
        store, once per node)."""
        return job.with_shared(shared).run() if shared else job.run()

    def where(self) -> ActorLocation:
        """This actor's node and process (also its readiness check)."""
        import ray

        return ActorLocation(ray.get_runtime_context().get_node_id(), os.getpid())


class RayPool:
    """The Ray counterpart of :class:`~az_gym.workers.LocalPool` (see the module docstring).

    Args:
        num_actors: actors to start (``None``: one per free CPU of the cluster).
        address: Ray address (``None``: local instance, or ``RAY_ADDRESS``).
        threads_per_actor: torch threads in each actor (``None``: the inference rule of
            :mod:`az_gym.threads`, one thread).
        num_gpus_per_actor: GPU share of each actor (default 0: CPU-only actors, the GPU
            stays the learner's; e.g. 0.25 for self-play inference on a GPU node).
        max_retries: reruns of a job whose actor died before the pool gives up.
        connect_timeout: seconds to join the cluster before :class:`RayUnavailableError`.
        start_timeout: seconds the actors may take to start (imports, placement) before
            :class:`RayUnavailableError`.
        what: what the jobs are, for the messages.

    Raises:
        RayUnavailableError: no Ray cluster at ``address`` (e.g. ``"auto"`` with none
            running, an unreachable host), or not enough free CPUs for the actors.
    """

    def __init__(
        self,
        num_actors: int | None = None,
        *,
        address: str | None = None,
        threads_per_actor: int | None = None,
        num_gpus_per_actor: float = 0.0,
        max_retries: int = 3,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        start_timeout: float = 300.0,
        what: str = "self-play",
    ) -> None:
        if num_actors is not None and num_actors < 1:
            raise ValueError(f"RayPool: num_actors={num_actors} must be >= 1")
        if max_retries < 0:
            raise ValueError(f"RayPool: max_retries={max_retries} must be >= 0")
        self._ray = ray = import_ray()
        self._started_ray = connect(address, connect_timeout)
        self.max_retries = max_retries
        self.start_timeout = start_timeout
        self.what = what
        self._store = _ObjectStore(lambda obj: self._ray.put(obj))
        self._actors: list[Any] = []
        self._starting: dict[Any, Any] = {}  # readiness ref -> replacement not yet started
        try:
            if num_actors is None:
                num_actors = max(1, int(ray.available_resources().get("CPU", 0)))
            check_free_cpus(ray, num_actors, wait=min(10.0, start_timeout))
            self._actor_cls = ray.remote(
                num_cpus=1, num_gpus=num_gpus_per_actor, max_restarts=0,
                scheduling_strategy="SPREAD",  # self-play load on every node
            )(JobActor)  # fmt: skip
            self._threads = threads_per_actor
            self._num_actors = num_actors
            self._start_actors()
        except BaseException:
            self.close()
            raise

    def _new_actor(self) -> Any:
        return self._actor_cls.remote(self._threads)

    def _start_actors(self) -> None:
        self._actors = [self._new_actor() for _ in range(self._num_actors)]
        self._wait_ready(self._actors)

    def _wait_ready(self, actors: list[Any]) -> None:
        pings = [a.where.remote() for a in actors]
        ready, _ = self._ray.wait(pings, num_returns=len(pings), timeout=self.start_timeout)
        if len(ready) < len(pings):
            raise RayUnavailableError(
                f"{len(pings) - len(ready)} of {len(pings)} Ray actor(s) did not start within "
                f"{self.start_timeout:g} s (free resources: {self._ray.available_resources()}):"
                " lower self_play.sim.num_processes or add nodes"
            )
        try:
            self._ray.get(ready)  # an actor that failed to start raises its error here
        except _lost_errors(self._ray) as e:
            text = " ".join(str(e).split())[:300]
            raise RayUnavailableError(
                f"a Ray actor could not start ({text}): every node needs az_gym installed, "
                "at the driver's version"
            ) from None

    @property
    def parallelism(self) -> int:
        """How many jobs run at once (the actors, counting replacements still starting)."""
        return len(self._actors) + len(self._starting)

    def locations(self) -> list[ActorLocation]:
        """Where each started actor runs (node id, pid), in actor order."""
        return self._ray.get([a.where.remote() for a in self._actors])

    def run(
        self, jobs: Sequence[Any], on_game_end: Callable[[int], None] | None = None
    ) -> list[Any]:
        """Run the jobs on the actors, each idle actor taking the next job; results in job
        order. ``on_game_end(n)`` is called as each job completes, once per game it played.

        Raises:
            WorkerError: one job lost its actor more than ``max_retries`` times.
            RayUnavailableError: every actor is gone and no replacement could start.
            Exception: what a job raised (not retried: it would raise again).
        """
        if self._num_actors == 0:
            raise RuntimeError("RayPool is closed")
        if not self._actors and not self._starting:  # the previous call failed
            self._start_actors()
        try:
            return self._run(jobs, on_game_end)
        except BaseException:
            # Ctrl-C or a failed job: stop the actors rather than let them finish jobs
            # nobody waits for (they start again at the next call).
            self._kill_actors()
            raise

    def _run(self, jobs: Sequence[Any], on_game_end: Callable[[int], None] | None) -> list[Any]:
        ray = self._ray
        split = [split_shared(job) for job in jobs]
        refs = self._store.share([parts for _, parts in split])
        results: dict[int, Any] = {}
        attempts = [0] * len(jobs)
        queue = deque(range(len(jobs)))
        # Only started actors take jobs: a replacement that cannot be placed (its node gone,
        # no free CPU) would hold its job for ever. Those still starting stay for later calls.
        idle = list(self._actors)
        running: dict[Any, tuple[int, Any]] = {}  # result ref -> (job index, actor)
        starting = self._starting
        done_games = 0
        waiting_since = time.monotonic()
        while len(results) < len(jobs):
            while queue and idle:
                k, actor = queue.popleft(), idle.pop()
                attempts[k] += 1
                running[actor.run.remote(split[k][0], *refs[k])] = (k, actor)
            if not running and not starting:
                raise WorkerError(f"{self.what}: every Ray actor of the pool is gone")
            if running:
                waiting_since = time.monotonic()
            elif time.monotonic() - waiting_since > self.start_timeout:
                raise RayUnavailableError(
                    f"{self.what}: every Ray actor died and none could be restarted within "
                    f"{self.start_timeout:g} s (free resources: {ray.available_resources()})"
                )
            ready, _ = ray.wait([*running, *starting], num_returns=1, timeout=1.0)
            for ref in ready:
                if ref in starting:
                    actor = starting.pop(ref)
                    try:
                        ray.get(ref)
                        self._actors.append(actor)
                        idle.append(actor)
                    except _lost_errors(ray):
                        self._drop(actor)  # not replaced again: a node that cannot start one
                    continue
                k, actor = running.pop(ref)
                try:
                    out = ray.get(ref)
                except _lost_errors(ray) as e:
                    if attempts[k] > self.max_retries:
                        raise self._gave_up(jobs[k], k, attempts[k], e) from None
                    self._drop(actor)
                    replacement = self._new_actor()
                    starting[replacement.where.remote()] = replacement
                    queue.appendleft(k)  # rerun first, on the next idle actor
                    continue
                except ray.exceptions.RayTaskError as e:
                    cause = getattr(e, "cause", None)
                    raise (cause if isinstance(cause, Exception) else e) from e
                idle.append(actor)
                if k not in results:  # a job's games count once, whatever happened
                    results[k] = out
                    for _ in range(jobs[k].num_games):
                        done_games += 1
                        if on_game_end is not None:
                            on_game_end(done_games)
        return [results[k] for k in range(len(jobs))]

    def _kill_actors(self) -> None:
        for a in [*self._actors, *self._starting.values()]:
            try:
                self._ray.kill(a)
            except Exception:  # already gone with its node
                pass
        self._actors, self._starting = [], {}

    def _drop(self, actor: Any) -> None:
        if actor in self._actors:
            self._actors.remove(actor)
        try:
            self._ray.kill(actor)
        except Exception:  # already gone with its node
            pass

    def _gave_up(self, job: Any, k: int, attempts: int, error: BaseException) -> WorkerError:
        seed = getattr(job, "seed", None)
        name = f"job {k}" + (f" (seed {seed})" if seed is not None else "")
        last = " ".join(str(error).split())[:300]
        return WorkerError(
            f"{self.what}: {name} lost its Ray actor {attempts} times (the actor or its node "
            f"died; last: {last}); giving up after {self.max_retries} rerun(s). A training "
            "run keeps its last completed iteration: resume it once the cluster is healthy"
        )

    def close(self) -> None:
        """Stop the actors (and Ray, if this pool started it)."""
        self._kill_actors()
        self._num_actors = 0
        if self._started_ray:
            self._ray.shutdown()
            self._started_ray = False

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lost_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """Ray's errors for a task whose actor, process, node or result was lost."""
    e = ray.exceptions
    return (e.RayActorError, e.WorkerCrashedError, e.ObjectLostError, e.NodeDiedError)
