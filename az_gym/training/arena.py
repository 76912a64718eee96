"""The arena: the candidate network against the best one, to decide a promotion.

AlphaZero.jl's rule (``ArenaParams``):

* two-player games: the two networks, each inside an MCTS player of parameters ``mcts``,
  play ``sim.num_games`` games, swapping seats from one game to the next when
  ``sim.alternate_colors`` (AlphaZero.jl's connect four: true; false: the candidate always
  moves first); the candidate replaces the best if its average reward is
  ``>= update_threshold``;
* single-player games: each network plays ``sim.num_games`` games; the candidate replaces
  the best if its average reward exceeds the best's by ``update_threshold`` at least.

The games run on the trainer's self-play backend (its processes or Ray actors), split into
at most ``sim.num_processes`` jobs (``None``: one per worker of that backend), so
``arena.sim.num_processes = 1`` plays the whole arena in one worker. Every field of
``arena.sim`` is read here except ``backend`` and ``ray_address``, which
:class:`~az_gym.training.params.Params` requires to match self-play's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from az_gym.training.selfplay import (
    GameSpec,
    NetSpec,
    Weights,
    WorkerJob,
    hit_rate,
    split_games,
)
from az_gym.workers import WorkerPool


@dataclass(frozen=True)
class ArenaReport:
    """The outcome of one arena.

    Attributes:
        score: the candidate's average reward (two-player) or its average minus the best's
            (single-player); compared with ``update_threshold``.
        candidate_reward: the candidate's average reward.
        best_reward: the best network's average reward (two-player: ``-candidate_reward``
            for zero-sum games).
        num_games: games played in all.
        promoted: whether the candidate replaces the best.
        seconds: wall time.
        cache_hit_rate: share of the positions the searches asked to score that the
            workers' evaluation caches answered (``None``: ``sim.cache_size = 0``).
    """

    score: float
    candidate_reward: float
    best_reward: float
    num_games: int
    promoted: bool
    seconds: float
    cache_hit_rate: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly fields."""
        return {
            "score": self.score,
            "candidate_reward": self.candidate_reward,
            "best_reward": self.best_reward,
            "num_games": self.num_games,
            "promoted": self.promoted,
            "seconds": self.seconds,
            "cache_hit_rate": self.cache_hit_rate,
        }


def _even_shares(num_games: int, parts: int) -> list[int]:
    """Shares that are even where possible, so each job alternates colours fairly."""
    if num_games < 2:
        return split_games(num_games, parts)
    pairs = split_games(num_games // 2, parts)
    shares = [2 * p for p in pairs]
    if num_games % 2:
        shares[-1] += 1
    return shares


def run_arena(
    game_spec: GameSpec,
    num_players: int,
    net_spec: NetSpec,
    candidate: Weights,
    best: Weights,
    arena: Any,
    pool: WorkerPool,
    *,
    seed: int,
    use_gpu: bool = False,
    on_game_end: Callable[[int], None] | None = None,
) -> ArenaReport:
    """Play the arena and decide the promotion.

    Args:
        game_spec: the game recipe.
        num_players: 1 or 2.
        net_spec: how to rebuild both networks.
        candidate, best: the two weight sets.
        arena: ``ArenaParams`` (``mcts``, ``sim``, ``update_threshold``).
        pool: the :class:`~az_gym.workers.WorkerPool` of the self-play workers; at most
            ``arena.sim.num_processes`` of them get a job.
        seed: seeds the jobs.
        use_gpu: network device in the workers.
        on_game_end: progress callback (games finished so far).
    """
    start = time.perf_counter()
    sim = arena.sim
    seeds = np.random.SeedSequence(seed)
    # Gumbel players drop the noise here (evaluation play); the temperature schedule
    # over their improved policies varies the games.
    add_noise = arena.mcts.root_policy == "puct" and arena.mcts.dirichlet_noise_epsilon > 0
    parts = min(pool.parallelism, sim.num_processes or pool.parallelism)

    def job(weights: tuple[Weights, ...], n: int, s: int, alternate: bool) -> WorkerJob:
        return WorkerJob(
            game=game_spec,
            net=net_spec,
            weights=weights,
            mcts=arena.mcts,
            num_games=n,
            num_concurrent=sim.num_workers,
            seed=s,
            record=False,
            add_noise=add_noise,
            alternate_colors=alternate,
            flip_probability=sim.flip_probability,
            use_gpu=use_gpu,
            batch_size=sim.batch_size,
            cache_size=sim.cache_size,
            inference=sim.inference,
        )

    if num_players == 2:
        alternate = sim.alternate_colors
        split = _even_shares if alternate else split_games
        shares = split(sim.num_games, parts)
        child = seeds.spawn(len(shares))
        jobs = [
            job((candidate, best), n, int(c.generate_state(1)[0]), alternate)
            for n, c in zip(shares, child)
        ]
        outs = pool.run(jobs, on_game_end)
        returns = np.concatenate([o.returns for o in outs])
        cand = float(returns[:, 0].mean()) if len(returns) else 0.0
        best_r = float(returns[:, 1].mean()) if len(returns) else 0.0
        score = cand
    else:
        shares = split_games(sim.num_games, parts)
        child = seeds.spawn(2 * len(shares))
        jobs = [
            job((w,), n, int(c.generate_state(1)[0]), False)
            for w, cs in ((candidate, child[: len(shares)]), (best, child[len(shares) :]))
            for n, c in zip(shares, cs)
        ]
        outs = pool.run(jobs, on_game_end)
        k = len(shares)
        cand_r = np.concatenate([o.returns[:, 0] for o in outs[:k]])
        best_rr = np.concatenate([o.returns[:, 0] for o in outs[k:]])
        cand = float(cand_r.mean()) if len(cand_r) else 0.0
        best_r = float(best_rr.mean()) if len(best_rr) else 0.0
        score = cand - best_r
    total = int(sum(len(o.returns) for o in outs))
    return ArenaReport(
        score=score,
        candidate_reward=cand,
        best_reward=best_r,
        num_games=total,
        promoted=bool(score >= arena.update_threshold),
        seconds=time.perf_counter() - start,
        cache_hit_rate=hit_rate(outs) if sim.cache_size else None,
    )
