"""One worker-pool abstraction (issue 13): self-play, arena and evaluation jobs run on the
same :class:`az_gym.workers.LocalPool` (real spawned processes), and Ray's pool has the
same shape."""

from __future__ import annotations

import numpy as np

from az_gym.agents import OneStepLookaheadAgent, RandomAgent
from az_gym.envs.registry import make_game
from az_gym.evaluation import evaluate
from az_gym.mcts import MctsParams
from az_gym.networks import NetworkConfig
from az_gym.play import DuelGames, Table
from az_gym.training.params import SelfPlayParams, SimParams
from az_gym.training.selfplay import GameSpec, NetSpec, net_weights, run_self_play
from az_gym.workers import LocalPool, WorkerPool

TINY = NetworkConfig(kind="mlp", hidden=(8,), value_hidden=4)


def test_self_play_and_evaluation_jobs_share_one_pool() -> None:
    game = make_game("tictactoe")
    spec = NetSpec(game.observation_shape, game.num_actions, TINY)
    sim = SimParams(num_games=4, num_workers=2, batch_size=2, num_processes=2)
    params = SelfPlayParams(mcts=MctsParams(num_iters_per_turn=4), sim=sim)
    agents = [OneStepLookaheadAgent(seed=0), RandomAgent(seed=1)]
    seeds = np.random.SeedSequence(3).spawn(6)
    tasks = [((i % 2, 1 - i % 2), s) for i, s in enumerate(seeds)]
    ticks: list[int] = []
    with LocalPool(2) as pool:
        assert isinstance(pool, WorkerPool)
        weights = net_weights(spec.build())
        samples, report = run_self_play(
            GameSpec(name="tictactoe"), game, spec, weights, params, pool, seed=0
        )
        jobs = [
            DuelGames(Table(game, agents), tasks[:3]),
            DuelGames(Table(game, agents), tasks[3:]),
        ]
        in_workers = pool.run(jobs, on_game_end=ticks.append)
    assert report.num_games == 4 and len(samples) > 0
    assert ticks == [1, 2, 3, 4, 5, 6]  # every game reported, in this process
    in_process = LocalPool(1).run(jobs)  # the caller's own agents, no processes
    flat = [[r for out in outs for r in out] for outs in (in_workers, in_process)]
    for a, b in zip(*flat, strict=True):
        assert a.moves == b.moves and np.array_equal(a.returns, b.returns)


def test_evaluate_runs_on_the_pool_and_results_do_not_depend_on_processes() -> None:
    args = (OneStepLookaheadAgent(), RandomAgent(), "tictactoe", 9)
    one, three = evaluate(*args, seed=2, num_processes=1), evaluate(*args, seed=2, num_processes=3)
    assert one.to_dict() == three.to_dict()


def test_the_ray_pool_has_the_pool_shape() -> None:
    from az_gym.training.ray_backend import RayPool  # Ray itself is not needed to check

    for name in ("parallelism", "run", "close"):
        assert hasattr(RayPool, name) and hasattr(LocalPool, name)
