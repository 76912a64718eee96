"""Train tic-tac-toe from scratch until the agent never loses against perfect play.

After each iteration the best agent (arena search, temperature 0, no noise) plays
``--games`` games as each colour against an exact minimax player that picks uniformly among
its optimal moves; training stops at the first iteration with no loss. Prints the wall time.

    python bench/train_tictactoe.py                   # tuned config (az_gym/configs)
    python bench/train_tictactoe.py --set self_play.sim.num_games=200 --run-dir /tmp/ttt

Target: <= 3 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from az_gym.game import Game, State
from az_gym.networks import NetworkEvaluator
from az_gym.schedules import ConstSchedule
from az_gym.training.simulation import MctsPlayer, simulate
from az_gym.training.trainer import IterationReport, StopTraining, Trainer


class PerfectPlayer:
    """Exact minimax over tic-tac-toe (memoised), uniform among the optimal moves."""

    def __init__(self, game: Game) -> None:
        self.game = game
        self._memo: dict[Any, float] = {}

    def value(self, state: State) -> float:
        """Value of a non-terminal position for its mover (+1 win, 0 draw, -1 loss)."""
        key = self.game.key(state)
        if key not in self._memo:
            legal = self.game.legal_actions(state)
            self._memo[key] = max(self._child_value(state, a) for a in legal)
        return self._memo[key]

    def _child_value(self, state: State, action: int) -> float:
        """Value of playing ``action`` for the mover of ``state``."""
        child = self.game.next_state(state, action)
        if self.game.is_terminal(child):
            return float(self.game.returns(child)[self.game.to_play(state)])
        return -self.value(child)

    def optimal(self, state: State) -> np.ndarray:
        """``bool[A]``: the optimal moves of ``state``."""
        acts = self.game.legal_actions(state)
        vals = np.array([self._child_value(state, a) for a in acts])
        out = np.zeros(self.game.num_actions, bool)
        out[np.asarray(acts)[vals == vals.max()]] = True
        return out

    def decide(self, slots: Sequence[int], states: Sequence[State], move_numbers: Any) -> Any:
        """Uniform distribution over the optimal moves of each state."""
        dist = np.stack([self.optimal(s) for s in states]).astype(np.float64)
        dist /= dist.sum(axis=1, keepdims=True)
        return dist, dist

    def reset(self, slot: int | None = None) -> None:
        """Nothing to forget."""


def losses_against_perfect(trainer: Trainer, games: int, seed: int) -> tuple[int, int]:
    """Games lost by the best agent against perfect play: ``(as X, as O)``."""
    game = trainer.game
    p = trainer.params
    mcts = dataclasses.replace(
        p.arena.mcts if p.arena else p.self_play.mcts,
        temperature=ConstSchedule(0.0),
        dirichlet_noise_epsilon=0.0,
    )
    net = trainer.best_agent().network.eval()
    rng = np.random.default_rng(seed)
    agent = MctsPlayer(game, NetworkEvaluator(net), mcts, add_noise=False, rng=rng)
    perfect = PerfectPlayer(game)
    with torch.inference_mode():
        res = simulate(game, [agent, perfect], 2 * games, num_concurrent=2 * games, rng=rng,
                       record=False, alternate_colors=True)  # fmt: skip
    lost = res.returns[:, 0] < 0
    return int(lost[0::2].sum()), int(lost[1::2].sum())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    ap = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--games", type=int, default=100, help="games per colour vs perfect play")
    ap.add_argument("--run-dir", default=None, help="default: a temporary folder")
    ap.add_argument("--max-iters", type=int, default=30)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    run_dir = args.run_dir or tempfile.mkdtemp(prefix="az_ttt_")
    shutil.rmtree(run_dir, ignore_errors=True)
    start = time.perf_counter()
    eval_seconds = 0.0

    def check(report: IterationReport) -> None:
        nonlocal eval_seconds
        t = time.perf_counter()
        as_x, as_o = losses_against_perfect(trainer, args.games, seed=report.iteration)
        eval_seconds += time.perf_counter() - t
        print(f"iteration {report.iteration}: {report.record['summary']}; vs perfect play "
              f"lost {as_x}/{args.games} as X, {as_o}/{args.games} as O "
              f"({time.perf_counter() - start:.0f} s)", flush=True)  # fmt: skip
        if as_x == as_o == 0:
            raise StopTraining("never loses against perfect play")

    trainer = Trainer("tictactoe", None, run_dir, overrides=[f"num_iters={args.max_iters}",
                      *args.set], callbacks={"on_iteration_end": check}, quiet=True)  # fmt: skip
    reports = trainer.train()
    wall = time.perf_counter() - start
    last = reports[-1].iteration if reports else 0
    print(f"wall time {wall:.1f} s for {last} iterations ({eval_seconds:.1f} s of it spent "
          f"testing against perfect play); run directory {run_dir}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
