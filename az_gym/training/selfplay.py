"""The self-play phase: the best network plays itself on the workers' pool.

:func:`run_self_play` splits ``SelfPlayParams.sim.num_games`` into jobs
(:func:`self_play_jobs`), runs them on a :class:`~az_gym.workers.WorkerPool` and gathers
their samples and figures (:func:`self_play_results`, :class:`SelfPlayReport`). The jobs
themselves (:class:`WorkerJob`, :class:`GameSpec`, :class:`NetSpec`, :func:`run_job`...)
live in :mod:`az_gym.training.jobs` and are re-exported here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from az_gym.game import Game
from az_gym.training.jobs import (
    GameSpec,
    NetSpec,
    TimedEvaluator,
    Weights,
    WorkerJob,
    WorkerOutput,
    hit_rate,
    net_weights,
    run_job,
    split_games,
)
from az_gym.training.samples import TrainingData
from az_gym.workers import WorkerPool

__all__ = [
    "GameSpec",
    "NetSpec",
    "SelfPlayReport",
    "TimedEvaluator",
    "Weights",
    "WorkerJob",
    "WorkerOutput",
    "hit_rate",
    "net_weights",
    "run_job",
    "run_self_play",
    "self_play_jobs",
    "self_play_results",
    "split_games",
]


@dataclass(frozen=True)
class SelfPlayReport:
    """Figures of one self-play phase.

    Attributes:
        num_games: games played.
        num_samples: positions recorded.
        num_positions: positions played (more than ``num_samples`` only under playout-cap
            randomisation, ``SelfPlayParams.full_search_fraction < 1``).
        seconds: wall time of the phase.
        samples_per_second: ``num_samples / seconds``.
        network_share: fraction of the workers' time spent inside the network.
        average_length: mean moves per game.
        cache_hit_rate: share of the positions the searches asked to score that the
            workers' evaluation caches answered (``None``: no cache, ``sim.cache_size = 0``).
    """

    num_games: int
    num_samples: int
    seconds: float
    samples_per_second: float
    network_share: float
    average_length: float
    cache_hit_rate: float | None = None
    num_positions: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly fields."""
        return dict(self.__dict__)


def self_play_jobs(
    game_spec: GameSpec,
    net_spec: NetSpec,
    weights: Weights,
    self_play: Any,
    parts: int,
    seed: int,
) -> list[WorkerJob]:
    """The jobs of one self-play phase: ``self_play.sim.num_games`` games split into at
    most ``parts`` jobs, job ``i`` seeded by the ``i``-th child of ``seed`` (so a job and
    its games are the same whichever worker runs it, and however often)."""
    sim = self_play.sim
    shares = split_games(sim.num_games, parts)
    children = np.random.SeedSequence(seed).spawn(len(shares))
    return [
        WorkerJob(
            game=game_spec,
            net=net_spec,
            weights=(weights,),
            mcts=self_play.mcts,
            num_games=n,
            num_concurrent=sim.num_workers,
            seed=int(c.generate_state(1)[0]),
            record=True,
            add_noise=self_play.mcts.root_policy == "gumbel"
            or self_play.mcts.dirichlet_noise_epsilon > 0,
            alternate_colors=sim.alternate_colors,  # false: validated by SelfPlayParams
            flip_probability=sim.flip_probability,
            use_gpu=sim.use_gpu,
            batch_size=sim.batch_size,
            cache_size=sim.cache_size,
            inference=sim.inference,
            q_weight=self_play.value_target_q_weight,
            full_fraction=self_play.full_search_fraction,
            fast_simulations=self_play.fast_search_simulations,
            opening_plies=self_play.random_opening_plies,
        )
        for n, c in zip(shares, children)
    ]


def self_play_results(
    game: Game, outs: list[WorkerOutput], seconds: float, cached: bool = False
) -> tuple[TrainingData, SelfPlayReport]:
    """The samples of the jobs' outputs ``outs`` (in job order) and the phase's figures
    (``seconds``: its wall time; ``cached``: the jobs had evaluation caches)."""
    parts = [o.samples for o in outs if len(o.samples)]
    samples = (
        TrainingData.concat(parts)
        if parts
        else TrainingData.empty(game.observation_shape, game.num_actions)
    )
    worker_seconds = sum(o.seconds for o in outs)
    lengths = np.concatenate([o.lengths for o in outs]) if outs else np.zeros(0)
    report = SelfPlayReport(
        num_games=len(lengths),
        num_samples=len(samples),
        seconds=seconds,
        samples_per_second=len(samples) / max(seconds, 1e-9),
        network_share=sum(o.network_seconds for o in outs) / max(worker_seconds, 1e-9),
        average_length=float(lengths.mean()) if len(lengths) else 0.0,
        cache_hit_rate=hit_rate(outs) if cached else None,
        num_positions=int(lengths.sum()),
    )
    return samples, report


def run_self_play(
    game_spec: GameSpec,
    game: Game,
    net_spec: NetSpec,
    weights: Weights,
    self_play: Any,
    pool: WorkerPool,
    *,
    seed: int,
    on_game_end: Callable[[int], None] | None = None,
) -> tuple[TrainingData, SelfPlayReport]:
    """Play ``self_play.sim.num_games`` games of the network against itself.

    Args:
        game_spec, game: the game recipe and the game it builds (for empty arrays).
        net_spec, weights: the network (the current best).
        self_play: ``SelfPlayParams`` (``mcts``, ``sim``).
        pool: the :class:`~az_gym.workers.WorkerPool` the jobs run on, one per worker.
        seed: seeds the jobs (:func:`self_play_jobs`).
        on_game_end: progress callback (games finished so far).

    Returns:
        The samples of every game, and the phase's figures.
    """
    start = time.perf_counter()
    jobs = self_play_jobs(game_spec, net_spec, weights, self_play, pool.parallelism, seed)
    outs = pool.run(jobs, on_game_end)
    cached = bool(self_play.sim.cache_size)
    return self_play_results(game, outs, time.perf_counter() - start, cached)
