"""Leaf-parallel search for the shipped agents: time per move and strength
(run: ``python bench/leaf_parallel.py [--ks 1,4,8,16] [--moves N] [--games G] [--solver]``).

Prints, in one run and interleaved (each position searched by every ``k`` in turn, fresh
trees, no evaluation cache, one torch thread; eager torch and the default inference
engine), the seconds per move of the shipped Connect Four network (400 simulations) and
gomoku network (1600), both plain PUCT (:data:`SIMULATIONS`), at each ``MctsParams.leaves_per_call``
``k``, and the ratios to ``k = 1`` (the sequential search, one position per network call)
on eager torch (the search before this option and before ONNX Runtime) and on the same
engine. Target: >= 3x faster than eager ``k = 1`` at the default the loaded agents play
with (:data:`az_gym.mcts_params.PLAY_LEAVES_PER_CALL`).

``--games G``: the shipped Connect Four agent at ``--new-k`` (default: the play default)
plays ``G`` games against itself at ``k = 1``, greedy, from ``G / 2`` distinct random
3-ply openings each played with both colours (greedy agents would otherwise repeat two
games); prints the new agent's score with a 95% Wilson interval (target: >= 0.48).
``--solver``: error rates of both on ``bench/strength.py``'s solved positions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from az_gym import AlphaZeroAgent, pretrained
from az_gym.agents.shipped import pretrained_path
from az_gym.evaluation import play_game, wilson_interval
from az_gym.mcts_params import PLAY_LEAVES_PER_CALL
from az_gym.play import opening_moves
from az_gym.testing import random_openings


def time_moves(name: str, ks: list[int], moves: int, seed: int) -> None:
    """Print seconds per move of the shipped ``name`` agent at each ``k`` (interleaved), on
    the default inference engine and on eager torch (the issue's reference: ``k = 1`` on
    eager torch, one position per network call, was the search before leaf parallelism)."""
    path = pretrained_path(name)  # no evaluation cache: each move's time its own search's
    agents = {
        (engine, k): AlphaZeroAgent.load(
            path, leaves_per_call=k, cache_size=0, inference=engine, symmetry_averaging=False
        ).with_simulations(SIMULATIONS[name])
        for engine in ("eager", "auto")
        for k in ks
    }
    game = next(iter(agents.values())).game
    for a in agents.values():  # warm-up: compiled kernels, torch's first calls
        a.act_state(game, game.initial_state())
    times: dict[tuple[str, int], list[float]] = {key: [] for key in agents}
    for s in random_openings(game, seed, moves, 8):
        for key, agent in agents.items():
            agent.reset()
            t0 = time.perf_counter()
            agent.act_state(game, s)
            times[key].append(time.perf_counter() - t0)
    sims = agents["auto", ks[0]].params.num_iters_per_turn
    mean = {key: statistics.mean(t) for key, t in times.items()}
    old = mean["eager", ks[0]]
    print(f"{name}, {sims} simulations a move, {moves} positions (mean s/move):")
    for (engine, k), agent in agents.items():
        mark = "  <- play default" if k == PLAY_LEAVES_PER_CALL and engine == "auto" else ""
        print(
            f"  {agent.evaluator.engine:6s} k = {k:3d}: {mean[engine, k]:7.3f} s/move  "
            f"{old / mean[engine, k]:5.2f}x vs eager k = {ks[0]}, "
            f"{mean[engine, ks[0]] / mean[engine, k]:5.2f}x vs k = {ks[0]} on {engine}{mark}"
        )


_WORKER: dict = {}

SIMULATIONS = {"connect_four": 400, "gomoku": 1600}
"""Simulations per move of the shipped networks here, with plain PUCT (no symmetry
averaging, whatever the files store): the settings these figures were first taken at."""


def _shipped(name: str, k: int) -> AlphaZeroAgent:
    return pretrained(name, simulations=SIMULATIONS[name], leaves_per_call=k,
                      symmetry_averaging=False)  # fmt: skip


def _init_worker(new_k: int) -> None:
    torch.set_num_threads(1)
    _WORKER["agents"] = (_shipped("connect_four", new_k), _shipped("connect_four", 1))


def _play(task: tuple[list[int], int]) -> float:
    """The new agent's score (1 win, 0.5 draw) in one game from ``opening``."""
    opening, new_seat = task
    new, old = _WORKER["agents"]
    game = new.game
    s = game.initial_state()
    for a in opening:
        s = game.next_state(s, a)
    seats = [new, old] if new_seat == 0 else [old, new]
    ret = play_game(game, seats, seed=0, state=s).returns[new_seat]
    return (float(ret) + 1.0) / 2.0


def strength(games: int, new_k: int, processes: int, seed: int) -> None:
    """Print the new agent's score against ``k = 1`` (see the module docstring)."""
    game = pretrained("connect_four").game
    openings = opening_moves(game, 3, (games + 1) // 2, np.random.default_rng(seed))
    tasks = [(o, seat) for o in openings for seat in (0, 1)][:games]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(processes, initializer=_init_worker, initargs=(new_k,)) as pool:
        scores = list(pool.map(_play, tasks))
    n, total = len(scores), sum(scores)
    lo, hi = wilson_interval(total, n)
    wins, draws = sum(x == 1.0 for x in scores), sum(x == 0.5 for x in scores)
    print(f"connect_four, k = {new_k} vs k = 1: {n} games, {wins} wins, {draws} draws, "
          f"{n - wins - draws} losses; score {total / n:.3f} (95% {lo:.3f}-{hi:.3f}); "
          f"{time.perf_counter() - t0:.0f} s on {processes} processes")  # fmt: skip


def solver_errors(new_k: int, seed: int, extra: tuple[int, ...] = ()) -> None:
    """Error rates of the new and the old agent on ``bench/strength.py``'s positions."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import strength as yardstick

    rows = yardstick.positions(200, seed, 20_000_000)  # strength.py's defaults: its cached file
    for k in sorted({1, new_k, *extra}):
        agent = _shipped("connect_four", k)
        yardstick._print(f"pretrained, k = {k}", yardstick.error_rates(agent, rows, agent.game))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    ap.add_argument("--ks", default="1,4,8,16", help="leaves per call to time, first = base")
    ap.add_argument("--moves", type=int, default=10, help="positions timed per game")
    ap.add_argument("--games", type=int, default=0, help="strength games (0: none)")
    ap.add_argument("--new-k", type=int, default=PLAY_LEAVES_PER_CALL, help="k of the duel")
    ap.add_argument("--processes", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--solver", action="store_true", help="solver error rates, both agents")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"load: {os.getloadavg()[0]:.2f} (1-minute average, {os.cpu_count()} CPUs)")
    ks = [int(x) for x in args.ks.split(",")]
    if args.moves:
        for name in ("connect_four", "gomoku"):
            time_moves(name, ks, args.moves, args.seed)
    if args.games:
        strength(args.games, args.new_k, args.processes, args.seed)
    if args.solver:
        solver_errors(args.new_k, args.seed)


if __name__ == "__main__":
    main()
