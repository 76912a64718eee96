"""Speed of the native games against pettingzoo's Connect Four, measured in one run.

Usage::

    python bench/games.py [--seconds 2] [--seed 0]

For every native game (and the PettingZoo adapter over ``connect_four_v3``, when
``az_gym.envs.adapter`` is importable):

* playout steps/s: ``initial_state`` then random legal moves (``legal_mask`` + ``next_state``
  + ``is_terminal`` per step) until the game ends, over and over;
* clone+step: microseconds per ``next_state`` call on random reachable positions (native
  states are immutable, so the clone is free: ``next_state`` leaves its input alone).

Reference: ``pettingzoo.classic`` ``connect_four_v3`` raw env, time spent inside
``env.step`` only (random legal moves, reset when done). The ratios compare each row with
that rate; the target is native Connect Four clone+step >= 20x the reference step rate.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from az_gym.envs.connect_four import ConnectFour
from az_gym.envs.gomoku import Gomoku
from az_gym.envs.othello import Othello
from az_gym.envs.tictactoe import TicTacToe
from az_gym.game import Game, State


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    name: str
    playout_steps_per_s: float
    step_us: float
    """Microseconds per clone+step (``next_state``)."""


def playout_rate(game: Game, seconds: float, rng: np.random.Generator) -> float:
    """Steps per second of random playouts from the start position."""
    steps, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        s = game.initial_state()
        us = rng.random(1000)  # one uniform per move, drawn in a batch
        i = 0
        while not game.is_terminal(s):
            legal = np.flatnonzero(game.legal_mask(s))
            s = game.next_state(s, int(legal[int(us[i] * len(legal))]))
            i, steps = i + 1, steps + 1
    return steps / (time.perf_counter() - start)


def random_positions(game: Game, count: int, rng: np.random.Generator) -> list[tuple[State, int]]:
    """``count`` (non-terminal state, legal action) pairs from random playouts."""
    pairs: list[tuple[State, int]] = []
    while len(pairs) < count:
        s = game.initial_state()
        while not game.is_terminal(s) and len(pairs) < count:
            a = int(rng.choice(np.flatnonzero(game.legal_mask(s))))
            pairs.append((s, a))
            s = game.next_state(s, a)
    return pairs


def step_time_us(game: Game, seconds: float, rng: np.random.Generator, count: int = 2000) -> float:
    """Microseconds per ``next_state`` on random reachable positions."""
    pairs = random_positions(game, count, rng)
    step = game.next_state
    calls, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for s, a in pairs:
            step(s, a)
        calls += len(pairs)
    return (time.perf_counter() - start) / calls * 1e6


def pettingzoo_reference(seconds: float, rng: np.random.Generator) -> float:
    """Steps per second inside ``connect_four_v3`` raw ``env.step`` (random legal moves)."""
    from pettingzoo.classic.connect_four.connect_four import raw_env

    env = raw_env()
    env.reset(seed=0)
    steps, inside, start = 0, 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        if any(env.terminations.values()):
            env.reset()
        legal = [c for c in range(7) if env.board[c] == 0]
        action = legal[int(rng.integers(len(legal)))]
        t0 = time.perf_counter()
        env.step(action)
        inside += time.perf_counter() - t0
        steps += 1
    return steps / inside


def measure(name: str, game: Game, seconds: float, seed: int) -> Row:
    """Both measurements for one game."""
    rng = np.random.default_rng(seed)
    return Row(name, playout_rate(game, seconds, rng), step_time_us(game, seconds, rng))


def adapter_game() -> tuple[str, Callable[[], Game]] | None:
    """The adapter over ``connect_four_v3``, if ``az_gym.envs.adapter`` exists."""
    try:
        from pettingzoo.classic.connect_four import connect_four

        from az_gym.envs.adapter import PettingZooGame
    except ImportError as err:
        print(f"(adapter row skipped: {err})")
        return None
    return "adapter(connect_four_v3)", lambda: PettingZooGame(connect_four.env)


def main(argv: list[str] | None = None) -> None:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per measurement")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random moves")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error(f"--seconds={args.seconds} must be positive")

    ref = pettingzoo_reference(args.seconds, np.random.default_rng(args.seed))
    games: list[tuple[str, Callable[[], Game]]] = [
        ("tictactoe", TicTacToe),
        ("connect_four", ConnectFour),
        ("othello(size=6)", lambda: Othello(6)),
        ("othello(size=8)", Othello),
        ("gomoku(size=9)", Gomoku),
        ("gomoku(size=15)", lambda: Gomoku(15)),
    ]
    extra = adapter_game()
    rows = []
    for name, make in [*games, *([extra] if extra else [])]:
        try:
            rows.append(measure(name, make(), args.seconds, args.seed))
        except Exception as err:  # the adapter is another helper's work in progress
            print(f"({name} skipped: {type(err).__name__}: {err})")

    print(
        f"\nreference: pettingzoo connect_four_v3 raw env.step: {ref:,.0f} steps/s "
        f"({1e6 / ref:.1f} us/step)\n"
    )
    head = f"{'game':<26}{'playout steps/s':>16}{'x ref':>8}{'clone+step us':>15}{'x ref':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.name:<26}{r.playout_steps_per_s:>16,.0f}{r.playout_steps_per_s / ref:>8.1f}"
            f"{r.step_us:>15.2f}{1e6 / r.step_us / ref:>8.1f}"
        )
    c4 = next((r for r in rows if r.name == "connect_four"), None)
    if c4 is not None:
        ratio = 1e6 / c4.step_us / ref
        verdict = "met" if ratio >= 20 else "NOT met"
        print(
            f"\ntarget: native connect_four clone+step >= 20x reference: {ratio:.1f}x ({verdict})"
        )


if __name__ == "__main__":
    main()
