"""Cost of cloning foreign envs, the adapters' inner loop (run: ``python bench/clone.py``).

Prints microseconds per call, mean of ``--calls`` calls after a warm-up, on one position
per env reached by random legal moves from ``reset(seed=0)``:

(a) :class:`~az_gym.envs.adapter.PettingZooGame` on ``pettingzoo.classic`` envs:
    ``fast`` = :func:`~az_gym.envs.adapter.clone_env`; ``replay`` =
    :meth:`PettingZooGame.clone` with ``clone="replay"`` (builds the env with the factory
    and steps the action history); ``copy.deepcopy``, which is wrong for these envs (an
    empty board, never reset; see :mod:`az_gym.envs.adapter`) and shown for scale only.
(b) :class:`~az_gym.envs.gym_adapter.GymnasiumGame` on Gymnasium toy-text and classic
    control envs: :func:`~az_gym.envs.gym_adapter.clone_gym_env`, ``next_state`` (clone +
    one step), ``replay`` and plain ``copy.deepcopy`` of the env.

Timings mean something only on an otherwise quiet machine.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np

from az_gym.envs.adapter import PettingZooGame, clone_env
from az_gym.envs.gym_adapter import GymnasiumGame, clone_gym_env


def per_call_us(calls: int, fn: Callable[..., Any], *args: Any) -> float:
    """Mean microseconds of ``fn(*args)`` over ``calls`` calls, after ``calls // 10 + 1``."""
    for _ in range(calls // 10 + 1):
        fn(*args)
    start = time.perf_counter()
    for _ in range(calls):
        fn(*args)
    return (time.perf_counter() - start) / calls * 1e6


def played(game: Any, plies: int, rng: np.random.Generator) -> Any:
    """A state ``plies`` random legal moves (fewer if the game ends) after the start."""
    state = game.initial_state()
    for _ in range(plies):
        if game.is_terminal(state):
            break
        state = game.next_state(state, int(rng.choice(np.flatnonzero(game.legal_mask(state)))))
    return state


def pettingzoo_rows(calls: int) -> None:
    """Print table (a)."""
    import pettingzoo.classic as classic

    envs = [
        ("connect_four_v3 (10 plies)", lambda: classic.connect_four_v3.env(), 10),
        ("chess_v6 (40 plies)", lambda: classic.chess_v6.env(), 40),
        ("go_v5 board_size=9 (30 plies)", lambda: classic.go_v5.env(board_size=9), 30),
    ]
    print(f"{'PettingZoo env (position)':<32}{'fast':>10}{'replay':>10}{'deepcopy*':>11}")
    for name, factory, plies in envs:
        fast, replay = PettingZooGame(factory), PettingZooGame(factory, clone="replay")
        s_fast = played(fast, plies, np.random.default_rng(0))
        s_replay = played(replay, plies, np.random.default_rng(0))
        us = (
            per_call_us(calls, clone_env, s_fast.env),
            per_call_us(max(1, calls // 10), replay.clone, s_replay),
            per_call_us(max(1, calls // 10), copy.deepcopy, s_fast.env),
        )
        print(f"{name:<32}" + "".join(f"{u:>10.0f}" for u in us))
    print("* wrong for these envs (an empty board, never reset): for scale only")


def gymnasium_rows(calls: int) -> None:
    """Print table (b)."""
    envs = [
        ("FrozenLake-v1 4x4 (6 steps)", "FrozenLake-v1", {"is_slippery": False}, 6),
        ("FrozenLake8x8-v1 (6 steps)", "FrozenLake8x8-v1", {"is_slippery": False}, 6),
        ("CliffWalking-v1 (10 steps)", "CliffWalking-v1", {}, 10),
        ("CartPole-v1 (10 steps)", "CartPole-v1", {}, 10),
    ]
    head = (
        f"{'Gymnasium env (position)':<32}{'clone':>10}{'next':>10}{'replay':>10}{'deepcopy':>10}"
    )
    print(head)
    for name, env_id, kwargs, steps in envs:
        if env_id not in gymnasium.registry:  # CliffWalking-v0 before Gymnasium 1.1
            env_id = env_id.replace("-v1", "-v0")

        def factory(env_id: str = env_id, kwargs: dict = kwargs) -> gymnasium.Env:
            return gymnasium.make(env_id, **kwargs)

        game, replay = GymnasiumGame(factory), GymnasiumGame(factory, clone="replay")
        state = played(game, steps, np.random.default_rng(0))
        s_replay = played(replay, steps, np.random.default_rng(0))
        action = (
            int(np.flatnonzero(game.legal_mask(state))[0]) if not game.is_terminal(state) else 0
        )
        us = (
            per_call_us(calls, clone_gym_env, state.env),
            per_call_us(calls, game.next_state, state, action),
            per_call_us(max(1, calls // 10), replay.clone, s_replay),
            per_call_us(max(1, calls // 10), copy.deepcopy, state.env),
        )
        print(f"{name:<32}" + "".join(f"{u:>10.0f}" for u in us))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    parser.add_argument("--calls", type=int, default=500, help="timed calls per fast cell")
    parser.add_argument("--quick", action="store_true", help="20 calls: a smoke run")
    args = parser.parse_args()
    calls = 20 if args.quick else args.calls
    print("microseconds per call\n")
    pettingzoo_rows(calls)
    print()
    gymnasium_rows(calls)


if __name__ == "__main__":
    main()
