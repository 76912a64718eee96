"""Self-play and duel workers: the jobs, how a process runs one, and the self-play phase.

A :class:`WorkerJob` is everything a worker needs, all picklable: the game (a
:class:`GameSpec`), how to rebuild the network (:class:`NetSpec`), the weights as numpy
arrays (never a pickled module: sent with each job to a local process, one job per process
per phase; put once per iteration in a Ray object store), the search and simulation
parameters, how many games, a seed. :func:`run_job` plays them with
:func:`~az_gym.training.simulation.simulate` and returns numpy arrays; its games depend
only on the job (the seed drives every random choice, the network runs on one thread), so a
job rerun after its worker died plays the same games again.

Jobs run on a pool of :mod:`az_gym.workers` (the one pool abstraction of self-play, the
arena and evaluation): :class:`~az_gym.workers.LocalPool` (processes on this machine) or
:class:`~az_gym.training.ray_backend.RayPool`.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from az_gym._procs import (
    main_references,
)
from az_gym.game import Game
from az_gym.mcts import MctsParams
from az_gym.training.samples import TrainingData
from az_gym.training.simulation import MctsPlayer, simulate
from az_gym.workers import WorkerPool

Weights = dict[str, np.ndarray]
"""A network's ``state_dict`` as numpy arrays (cheap to pickle, no torch objects)."""


@dataclass(frozen=True)
class GameSpec:
    """A picklable recipe for a :class:`Game`: exactly one of ``name``, ``game``, ``factory``.

    Attributes:
        name: registry name (``"connect_four"``), built with ``make_game(name, **options)``.
        options: registry options (``{"size": 6}``).
        game: a picklable native game instance.
        factory: a picklable zero-argument callable returning a ``Game`` or a PettingZoo AEC
            env (wrapped in the adapter), e.g. ``pettingzoo.classic.tictactoe_v3.env`` or a
            ``functools.partial`` of it.
    """

    name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    game: Game | None = None
    factory: Callable[[], Any] | None = None

    def __post_init__(self) -> None:
        given = [x for x in (self.name, self.game, self.factory) if x is not None]
        if len(given) != 1:
            raise ValueError("GameSpec: give exactly one of name, game, factory")

    def build(self) -> Game:
        """Return the game (:func:`~az_gym.envs.registry.as_game` of the recipe)."""
        from az_gym.envs.registry import as_game

        if self.game is not None:
            return self.game
        if self.name is not None:
            return as_game(self.name, **self.options)
        return as_game(self.factory)

    def picklable(self) -> bool:
        """Whether the spec survives ``pickle`` (needed to reach worker processes)."""
        try:
            pickle.dumps(self)
        except Exception:
            return False
        return True


@dataclass(frozen=True)
class NetSpec:
    """How to rebuild a network in a worker: ``PolicyValueNet(observation_shape,
    num_actions, config)``."""

    observation_shape: tuple[int, ...]
    num_actions: int
    config: Any

    def build(self, weights: Weights | None = None) -> Any:
        """Return the net in eval mode, with ``weights`` loaded if given."""
        import torch

        from az_gym.networks import PolicyValueNet

        net = PolicyValueNet(self.observation_shape, self.num_actions, self.config)
        if weights is not None:
            net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
        return net.eval()


def net_weights(net: Any) -> Weights:
    """Return ``net.state_dict()`` as numpy arrays on the CPU."""
    return {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}


@dataclass(frozen=True)
class WorkerJob:
    """One worker's share of an iteration.

    Attributes:
        game: the game recipe.
        net: the network recipe.
        weights: one weight set per distinct player: one for self-play, two for a duel
            (``players[i]`` uses ``weights[i]``).
        mcts: search parameters of every player.
        num_games: games to play.
        num_concurrent: games in lockstep (``SimParams.num_workers``).
        seed: seed of the job's generator.
        record: keep samples (self-play) or only returns (duels).
        add_noise: root exploration noise (Dirichlet, or Gumbel with
            ``root_policy = "gumbel"``).
        alternate_colors, flip_probability: see :func:`simulate`.
        use_gpu: run the network on the GPU when present.
        batch_size: most leaves per network call (``None``: no limit).
        cache_size: entries of each network's evaluation cache (0: none; see
            :mod:`az_gym.eval_cache`).
        inference: the network's engine (``SimParams.inference``).
    """

    game: GameSpec
    net: NetSpec
    weights: tuple[Weights, ...]
    mcts: MctsParams
    num_games: int
    num_concurrent: int
    seed: int
    record: bool = True
    add_noise: bool = True
    alternate_colors: bool = False
    flip_probability: float = 0.0
    use_gpu: bool = False
    batch_size: int | None = None
    cache_size: int = 0
    inference: str = "auto"

    def run(self, on_game_end: Callable[[int], None] | None = None) -> WorkerOutput:
        """Play the job's games (:func:`run_job`); the :class:`~az_gym.workers.Job`
        protocol."""
        return run_job(self, on_game_end)

    def main_references(self) -> list[str]:
        """Objects of ``__main__`` the recipes refer to (the weights cannot)."""
        return main_references((self.game, self.net, self.mcts))

    def shared(self) -> tuple[Weights, ...]:
        """The weight sets, which a Ray pool puts in its object store once
        (:class:`~az_gym.workers.SharedJob`)."""
        return self.weights

    def with_shared(self, parts: tuple[Weights, ...]) -> WorkerJob:
        """This job with ``parts`` as its weights."""
        return replace(self, weights=tuple(parts))


@dataclass(frozen=True)
class WorkerOutput:
    """What a job produced (numpy only).

    Attributes:
        samples: recorded positions (empty for duels).
        returns: ``float[num_games, len(weights)]`` return of each player per game.
        lengths: ``int[num_games]``.
        seconds: wall time of the job.
        network_seconds: time spent inside network evaluation.
        cache_lookups, cache_hits: positions the searches asked to score, and those the
            evaluation caches answered (0 and 0 without a cache).
        cpu_seconds: CPU time of the worker's process over the whole job (every thread);
            below ``seconds`` when other programs held the cores (``bench/selfplay.py``).
    """

    samples: TrainingData
    returns: np.ndarray
    lengths: np.ndarray
    seconds: float
    network_seconds: float
    cache_lookups: int = 0
    cache_hits: int = 0
    cpu_seconds: float = 0.0


class TimedEvaluator:
    """Wraps an evaluator: splits batches larger than ``max_batch`` (``SimParams.batch_size``)
    and adds up the seconds spent inside it (``.seconds``)."""

    def __init__(self, inner: Any, max_batch: int | None = None) -> None:
        self.inner = inner
        self.max_batch = max_batch
        self.seconds = 0.0
        self.needs_observations = getattr(inner, "needs_observations", True)
        self.needs_states = getattr(inner, "needs_states", False)
        self.deterministic = getattr(inner, "deterministic", True)

    def __call__(self, observations: Any, masks: np.ndarray, **kw: Any) -> Any:
        """Call the wrapped evaluator and time it."""
        t = time.perf_counter()
        try:
            n, m = len(masks), self.max_batch
            if m is None or n <= m:
                return self.inner(observations, masks, **kw)
            priors, values = [], []
            for lo in range(0, n, m):
                part = {k: v[lo : lo + m] for k, v in kw.items()}
                obs = None if observations is None else observations[lo : lo + m]
                p, v = self.inner(obs, masks[lo : lo + m], **part)
                priors.append(p)
                values.append(v)
            return np.concatenate(priors), np.concatenate(values)
        finally:
            self.seconds += time.perf_counter() - t


def run_job(job: WorkerJob, on_game_end: Callable[[int], None] | None = None) -> WorkerOutput:
    """Play a job's games and return the samples and returns (runs in any process)."""
    import torch

    from az_gym.eval_cache import CacheStats, cache_stats, with_cache
    from az_gym.networks import NetworkEvaluator, resolve_device

    cpu_start = time.process_time()
    game = job.game.build()
    rng = np.random.default_rng(job.seed)
    device = resolve_device(job.use_gpu)
    evaluators = []
    players = []
    for w in job.weights:  # the weights are fixed for the job: its caches never go stale
        net = job.net.build(w).to(device)
        ev = TimedEvaluator(NetworkEvaluator(net, device, inference=job.inference), job.batch_size)
        evaluators.append(ev)
        cached = with_cache(ev, game, job.cache_size)
        players.append(MctsPlayer(game, cached, job.mcts, add_noise=job.add_noise, rng=rng))
    with torch.inference_mode():
        result = simulate(
            game,
            players,
            job.num_games,
            num_concurrent=max(1, min(job.num_concurrent, job.num_games)),
            rng=rng,
            record=job.record,
            alternate_colors=job.alternate_colors,
            flip_probability=job.flip_probability,
            gamma=job.mcts.gamma,
            on_game_end=on_game_end,
        )
    stats = sum(
        (cache_stats(p.mcts.evaluator) or CacheStats(0, 0) for p in players), CacheStats(0, 0)
    )
    return WorkerOutput(
        result.samples,
        result.returns,
        result.lengths,
        result.seconds,
        sum(ev.seconds for ev in evaluators),
        stats.lookups,
        stats.hits,
        time.process_time() - cpu_start,
    )


def split_games(num_games: int, parts: int) -> list[int]:
    """Split ``num_games`` into at most ``parts`` positive shares (as equal as possible)."""
    parts = max(1, min(parts, num_games))
    base, extra = divmod(num_games, parts)
    return [base + (1 if i < extra else 0) for i in range(parts) if base + (i < extra) > 0]


@dataclass(frozen=True)
class SelfPlayReport:
    """Figures of one self-play phase.

    Attributes:
        num_games: games played.
        num_samples: positions recorded.
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


def hit_rate(outs: list[WorkerOutput]) -> float:
    """Hits over lookups of the evaluation caches of every job of ``outs`` (0 when nothing
    was looked up)."""
    lookups = sum(o.cache_lookups for o in outs)
    return sum(o.cache_hits for o in outs) / lookups if lookups else 0.0
