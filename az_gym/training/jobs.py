"""The jobs that self-play and arena workers run: what a job carries, how a process plays it.

A :class:`WorkerJob` is everything a worker needs, all picklable: the game (a
:class:`GameSpec`), how to rebuild the network (:class:`NetSpec`), the weights as numpy
arrays (never a pickled module: sent with each job to a local process, one job per process
per phase; put once per iteration in a Ray object store), the search and simulation
parameters, how many games, a seed. :func:`run_job` plays them with
:func:`~az_gym.training.simulation.simulate` and returns numpy arrays
(:class:`WorkerOutput`); its games depend only on the job (the seed drives every random
choice, the network runs on one thread), so a job rerun after its worker died plays the
same games again.

Jobs run on a pool of :mod:`az_gym.workers` (the one pool abstraction of self-play, the
arena and evaluation): :class:`~az_gym.workers.LocalPool` (processes on this machine) or
:class:`~az_gym.training.ray_backend.RayPool`. The self-play phase that builds them is
:mod:`az_gym.training.selfplay` (which re-exports every name here), the arena's
:mod:`az_gym.training.arena`.
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
        q_weight: weight of the search's root value in the value targets
            (``SelfPlayParams.value_target_q_weight``; see :func:`simulate`).
        full_fraction, fast_simulations: playout-cap randomisation
            (``SelfPlayParams.full_search_fraction`` and ``fast_search_simulations``; see
            :class:`MctsPlayer`).
        opening_plies: games start after up to this many random moves
            (``SelfPlayParams.random_opening_plies``; see :func:`simulate`).
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
    q_weight: float = 0.0
    full_fraction: float = 1.0
    fast_simulations: int = 0
    opening_plies: int = 0

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
    from az_gym.evaluators import SymmetryAveragedEvaluator
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
        searched = SymmetryAveragedEvaluator(ev, game) if job.mcts.symmetry_averaging else ev
        cached = with_cache(searched, game, job.cache_size)
        player = MctsPlayer(
            game, cached, job.mcts, add_noise=job.add_noise, rng=rng,
            full_fraction=job.full_fraction, fast_simulations=job.fast_simulations,
        )  # fmt: skip
        players.append(player)
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
            q_weight=job.q_weight,
            opening_plies=job.opening_plies,
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


def hit_rate(outs: list[WorkerOutput]) -> float:
    """Hits over lookups of the evaluation caches of every job of ``outs`` (0 when nothing
    was looked up)."""
    lookups = sum(o.cache_lookups for o in outs)
    return sum(o.cache_hits for o in outs) / lookups if lookups else 0.0
