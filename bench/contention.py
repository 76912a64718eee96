"""Speed under contention: az_gym's thread rule against torch's default threads
(run: ``python bench/contention.py [--quick]``).

Measures, with 0, 2 and 4 busy processes (pure-Python loops started here) competing for the
cores:

(a) one 400-simulation move of the shipped Connect Four agent (``pretrained/connect_four.pt``);
(b) one 1600-simulation move of the shipped gomoku agent (``pretrained/gomoku.pt``);

and with 0 and 1 busy process:

(c) a learning phase: ``--updates`` updates (batch 256) of the Connect Four tuned network
    (``configs/connect_four.toml``) on random positions, through :class:`Learner`.

Each is run the old way (torch's default thread count, what az_gym did before
:mod:`az_gym.threads`) and by az_gym's rule (inference on one thread; the learner on
``LearningParams.num_threads``, default: the cores but one), interleaved under the same
load. Prints seconds (median of ``--repeats``) and the ratio loaded / idle of each.

Targets (issue 12): loaded / idle <= 1.5x for moves (with 2 busy processes), <= 2x for
learning, by the rule. No thread count beats the CPU's fair share: beside ``n`` busy
processes a ``t``-thread job on ``c`` cores gets at best ``c / (n + t)`` of what it wants,
printed as the bound (4 busy processes on 2 cores: 2.5x even for one thread). Timings mean
something only on an otherwise quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from az_gym.agents.alphazero import AlphaZeroAgent
from az_gym.envs.registry import make_game
from az_gym.threads import available_cores, learner_threads, set_inference_threads
from az_gym.training.learning import Learner
from az_gym.training.memory import LearningSet, MemoryBuffer
from az_gym.training.params import LearningParams
from az_gym.training.params_io import default_params

# A busy loop that ends with this script, even if it is killed.
BUSY = "import os\np = os.getppid()\nwhile os.getppid() == p:\n    for _ in range(100000): pass\n"


class Busy:
    """``n`` busy processes while the block runs."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> Busy:
        self.procs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(self.n)]
        time.sleep(0.5 if self.n else 0.0)  # let them get going
        return self

    def __exit__(self, *exc: object) -> None:
        for p in self.procs:
            p.kill()
            p.wait()


def _pretrained(name: str) -> AlphaZeroAgent:
    """The shipped ``name`` network with plain PUCT (no symmetry averaging, whatever the
    file stores), the search these figures have measured since they were first taken."""
    path = Path(str(resources.files("az_gym") / "pretrained" / f"{name}.pt"))
    return AlphaZeroAgent.load(path, symmetry_averaging=False)


def move_timer(name: str, sims: int) -> Callable[[], float]:
    """A function timing one fresh ``sims``-simulation move from the opening."""
    agent = _pretrained(name).with_simulations(sims)
    game = agent.game
    state = game.initial_state()
    agent.with_simulations(8).act_state(game, state)  # warm-up

    def run() -> float:
        agent.reset()
        t = time.perf_counter()
        agent.act_state(game, state)
        return time.perf_counter() - t

    return run


def random_positions(num_games: int, seed: int = 0) -> LearningSet:
    """Connect Four positions of random games, uniform policy targets."""
    game = make_game("connect_four")
    rng = np.random.default_rng(seed)
    buf = MemoryBuffer(100_000)
    for _ in range(num_games):
        s, obs, masks, players = game.initial_state(), [], [], []
        while not game.is_terminal(s):
            m = game.legal_mask(s)
            obs.append(game.observation(s))
            masks.append(m)
            players.append(game.to_play(s))
            s = game.next_state(s, int(rng.choice(np.flatnonzero(m))))
        pis = np.stack(masks) / np.stack(masks).sum(1, keepdims=True)
        buf.add_game(np.stack(obs), pis, np.stack(masks), players, game.returns(s))
    return buf.training_data(False, default_params("connect_four").learning.samples_weighing_policy)


def learning_timer(updates: int, threads: int | None) -> Callable[[], float]:
    """A function timing ``updates`` updates of the tuned Connect Four network."""
    from az_gym.networks import PolicyValueNet

    tuned = default_params("connect_four")
    game = make_game("connect_four")
    data = random_positions(200)
    params = LearningParams(
        batch_size=tuned.learning.batch_size,
        max_batches_per_checkpoint=updates,
        min_checkpoints_per_epoch=0,
        loss_computation_max_samples=256,
        num_threads=threads,
    )
    net = PolicyValueNet(game.observation_shape, game.num_actions, tuned.network)
    learner = Learner(net, params)
    rng = np.random.default_rng(0)

    def run() -> float:
        return learner.train(data, 0, rng).seconds

    return run


def median_seconds(run: Callable[[], float], repeats: int) -> float:
    return statistics.median(run() for _ in range(repeats))


def table(
    title: str, loads: list[int], rows: dict[str, list[float]], target: float, threads: int
) -> None:
    """Print seconds and loaded / idle ratios; the bound is what a fair scheduler allows a
    ``threads``-thread job beside ``n`` busy processes: ``max(1, (n + threads) / cores)``."""
    heads = "".join(f"{f'{n} busy':>18}" for n in loads)
    print(f"\n{title}\n{'':38}{heads}")
    bound = "".join(f"{max(1.0, (n + threads) / available_cores()):16.1f}x " for n in loads)
    print(f"  {'fair-share bound of the rule':36}{bound}")
    for label, secs in rows.items():
        cells = "".join(f"{s:8.2f} s ({s / secs[0]:4.1f}x)" for s in secs)
        worst = max(s / secs[0] for s in secs)
        print(f"  {label:36}{cells}   worst {worst:.1f}x (target <= {target}x)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    parser.add_argument("--quick", action="store_true", help="tiny budgets: checks it runs")
    parser.add_argument("--repeats", type=int, default=3, help="timings per cell (median)")
    parser.add_argument("--updates", type=int, default=300, help="learning updates")
    args = parser.parse_args()
    default = torch.get_num_threads()  # torch's own choice, before az_gym sets anything
    repeats = 1 if args.quick else args.repeats
    c4_sims, gomoku_sims, updates = (50, 100, 5) if args.quick else (400, 1600, args.updates)
    print(f"torch default threads: {default}; cores in this process's affinity: "
          f"{available_cores()}; learner threads by the rule: {learner_threads()}")  # fmt: skip

    modes = {f"old (torch default: {default} threads)": default, "az_gym rule": None}
    moves = {
        f"connect_four, one {c4_sims}-simulation move": move_timer("connect_four", c4_sims),
        f"gomoku 9x9, one {gomoku_sims}-simulation move": move_timer("gomoku", gomoku_sims),
    }
    loads = [0, 2, 4]
    results = {(m, k): [] for m in moves for k in modes}
    for n in loads:
        with Busy(n):
            for m, run in moves.items():
                for k, threads in modes.items():
                    set_inference_threads(threads)  # None: back to the rule (one thread)
                    results[m, k].append(median_seconds(run, repeats))
    set_inference_threads(None)
    for m in moves:
        table(m, loads, {k: results[m, k] for k in modes}, 1.5, 1)

    learners = {k: learning_timer(updates, threads) for k, threads in modes.items()}
    for run in learners.values():
        run()  # warm-up (and Adam's state)
    learn = {k: [] for k in modes}
    for n in (0, 1):
        with Busy(n):
            for k, run in learners.items():
                learn[k].append(median_seconds(run, repeats))
    title = f"learning, {updates} updates of batch 256 (tuned Connect Four net)"
    table(title, [0, 1], learn, 2.0, learner_threads())


if __name__ == "__main__":
    main()
