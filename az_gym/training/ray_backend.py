"""Self-play and arena workers as Ray actors (``pip install az-gym[ray]``).

Selected by ``SimParams.backend = "ray"``. The actors run exactly the local workers' job
(:func:`~az_gym.training.selfplay.run_job`); the learner stays in the process that runs the
:class:`~az_gym.training.trainer.Trainer` (the head node, GPU when present). Each distinct
weight set is put in the Ray object store once per call (:func:`share_weights`) and shared
by every actor.

``ray_address`` ``None`` starts (or joins, if already initialised) a local Ray instance;
``"auto"`` or ``"ray://host:10001"`` joins a cluster, whose workers must have az_gym installed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any

from az_gym.training.selfplay import WorkerJob, WorkerOutput, run_job


def import_ray() -> Any:
    """Import ``ray``, or raise an ``ImportError`` that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ImportError(
            "SimParams.backend='ray' needs Ray, an optional extra: pip install 'az-gym[ray]' "
            "(or pip install 'ray[default]')"
        ) from None
    return ray


def share_weights(jobs: Sequence[WorkerJob], put: Callable[[Any], Any]) -> list[tuple[Any, ...]]:
    """Each job's weights as object-store references, putting every distinct weight set
    (by identity: the same dict in several jobs, e.g. the best network of self-play and
    of the arena) once per call, however many jobs and tuples hold it."""
    refs: dict[int, Any] = {}
    out = []
    for job in jobs:
        for w in job.weights:
            if id(w) not in refs:
                refs[id(w)] = put(w)
        out.append(tuple(refs[id(w)] for w in job.weights))
    return out


class RayUnavailableError(RuntimeError):
    """Ray could not start or join a cluster at the given address (the message says how to
    start one or which setting to unset)."""


class SelfPlayActor:
    """A worker process holding its own torch thread count; runs :class:`WorkerJob`s."""

    def __init__(self, threads: int | None = None) -> None:
        from az_gym.threads import set_inference_threads, use_inference_threads

        set_inference_threads(threads)
        use_inference_threads()

    def run(self, job: WorkerJob, *weights: Any) -> WorkerOutput:
        """Run ``job`` with ``weights``, one argument per weight set (Ray resolves each
        from the object store)."""
        return run_job(dataclasses.replace(job, weights=tuple(weights)))

    def ping(self) -> bool:
        """Liveness check."""
        return True


def _no_cluster_message(address: str | None) -> str:
    """What to do when ``ray.init(address)`` finds no cluster (``address`` ``None``: Ray
    read the ``RAY_ADDRESS`` environment variable)."""
    env = os.environ.get("RAY_ADDRESS")
    if address is None:
        return (
            f"no Ray cluster at RAY_ADDRESS={env!r}: start that cluster, or unset RAY_ADDRESS "
            "to let az_gym start a local Ray instance"
        )
    return (
        f"no Ray cluster at address {address!r}: start one first (`ray start --head` on "
        "the head node), or unset self_play.sim.ray_address to let az_gym start a local "
        "Ray instance"
    )


class RayPool:
    """The Ray counterpart of :class:`~az_gym.workers.LocalPool`: a
    :class:`~az_gym.workers.WorkerPool` of self-play and arena jobs.

    Args:
        num_actors: actors to start (``None``: one per CPU the cluster offers).
        address: Ray address (``None``: local instance).
        threads_per_actor: torch threads in each actor (``None``: the inference rule of
            :mod:`az_gym.threads`, one thread).
        num_gpus_per_actor: GPU share of each actor (e.g. 0.25 for self-play on a GPU).

    Raises:
        RayUnavailableError: no Ray cluster at ``address`` (e.g. ``"auto"`` with none
            running).
    """

    def __init__(
        self,
        num_actors: int | None = None,
        *,
        address: str | None = None,
        threads_per_actor: int | None = None,
        num_gpus_per_actor: float = 0.0,
    ) -> None:
        ray = import_ray()
        self._ray = ray
        self._started_ray = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False}
            if address is None:
                kwargs["include_dashboard"] = False
            try:
                ray.init(address=address, **kwargs)
            except ConnectionError as e:
                raise RayUnavailableError(_no_cluster_message(address)) from e
            self._started_ray = True
        if num_actors is None:
            num_actors = max(1, int(ray.cluster_resources().get("CPU", 1)))
        if num_actors < 1:
            raise ValueError(f"RayPool: num_actors={num_actors} must be >= 1")
        actor_cls = ray.remote(num_cpus=1, num_gpus=num_gpus_per_actor)(SelfPlayActor)
        self._actors = [actor_cls.remote(threads_per_actor) for _ in range(num_actors)]

    @property
    def parallelism(self) -> int:
        """How many jobs run at once (the number of actors)."""
        return len(self._actors)

    def run(
        self, jobs: Sequence[WorkerJob], on_game_end: Callable[[int], None] | None = None
    ) -> list[WorkerOutput]:
        """Run the jobs on the actors (round robin); results in job order.

        ``on_game_end(n)`` is called as each job completes, once per game it played.
        """
        ray = self._ray
        if not self._actors:
            raise RuntimeError("RayPool is closed")
        refs = []
        for k, (job, weights) in enumerate(zip(jobs, share_weights(jobs, ray.put))):
            actor = self._actors[k % len(self._actors)]
            bare = dataclasses.replace(job, weights=())
            refs.append(actor.run.remote(bare, *weights))
        index = {ref: k for k, ref in enumerate(refs)}
        results: list[WorkerOutput | None] = [None] * len(refs)
        pending, done_games = list(refs), 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                out = ray.get(ref)
                results[index[ref]] = out
                for _ in range(len(out.returns)):
                    done_games += 1
                    if on_game_end is not None:
                        on_game_end(done_games)
        return [r for r in results if r is not None]

    def close(self) -> None:
        """Stop the actors (and Ray, if this pool started it)."""
        for a in self._actors:
            self._ray.kill(a)
        self._actors = []
        if self._started_ray:
            self._ray.shutdown()
            self._started_ray = False

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
