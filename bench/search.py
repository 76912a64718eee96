"""Speed of the batched search (run: ``python bench/search.py [--sims N]``).

Prints:

(a) simulations per second on Connect Four with the free :class:`UniformEvaluator`, one
    tree (sequential, and 8 leaves per call) vs 256 trees in lockstep (targets: >= 200k
    sims/s at batch 256, >= mctx's ~41k at batch 1; references on the 2-core dev machine:
    alpha-zero-general's MCTS ~2.7k sims/s, mctx+pgx ~170k at 256);
(b) a ResNet (5 blocks x 64 filters) on CPU at batch 64: sims/s and the share of wall time
    spent inside the network (target >= 65%);
(c) unmodified ``pettingzoo.classic`` ``connect_four_v3`` through the adapter: sims/s next to
    the adapter's raw clone+step rate (target: >= half of it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from az_gym.envs.connect_four import ConnectFour
from az_gym.evaluators import UniformEvaluator
from az_gym.mcts import BatchedMcts, MctsParams


def _opening(game, rng: np.random.Generator, plies: int):
    s = game.initial_state()
    for _ in range(plies):
        if game.is_terminal(s):
            break
        s = game.next_state(s, int(rng.choice(np.flatnonzero(game.legal_mask(s)))))
    return s


def sims_per_second(
    game, evaluator, batch: int, sims: int, seed: int = 0, leaves_per_call: int = 1
) -> tuple[float, float]:
    """Run one search of ``sims`` simulations on ``batch`` distinct openings; return
    ``(simulations per second, share of wall time in the evaluator)``."""
    rng = np.random.default_rng(seed)
    states = [_opening(game, rng, int(rng.integers(0, 6))) for _ in range(batch)]
    params = MctsParams(num_iters_per_turn=sims, leaves_per_call=leaves_per_call)
    mcts = BatchedMcts(game, evaluator, params)
    t0 = time.perf_counter()
    mcts.search(states)
    wall = time.perf_counter() - t0
    return batch * sims / wall, mcts.evaluator_seconds / wall


def game_call_rate(game, n: int = 20000, seed: int = 0) -> float:
    """Reference in the same process: leaves per second of the bare per-leaf game calls the
    search must make (``next_state``, ``is_terminal``, ``legal_mask``, ``to_play``)."""
    rng = np.random.default_rng(seed)
    pairs = []
    while len(pairs) < n:
        s = _opening(game, rng, int(rng.integers(0, 10)))
        if not game.is_terminal(s):
            pairs += [(s, a) for a in np.flatnonzero(game.legal_mask(s)).tolist()]
    t0 = time.perf_counter()
    for s, a in pairs[:n]:
        c = game.next_state(s, a)
        if not game.is_terminal(c):
            game.legal_mask(c)
            game.to_play(c)
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    parser.add_argument("--sims", type=int, default=200, help="simulations per tree")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    game = ConnectFour()

    sims_per_second(game, UniformEvaluator(), 2, 20)  # warm-up: load the compiled kernels
    ref = game_call_rate(game)
    print(f"(a) connect_four, UniformEvaluator (reference: bare game calls {ref:,.0f} leaves/s)")
    for batch, sims, k in ((1, 4 * args.sims, 1), (1, 4 * args.sims, 8), (256, args.sims, 1)):
        rate, _ = sims_per_second(game, UniformEvaluator(), batch, sims, leaves_per_call=k)
        print(
            f"    batch {batch:4d}, {sims} sims/tree, leaves_per_call {k}: {rate:10,.0f} sims/s "
            f"({rate / ref:.2f} x ref)"
        )

    from az_gym.networks import NetworkConfig, NetworkEvaluator, PolicyValueNet, resolve_device

    dev = resolve_device(torch.cuda.is_available())
    net = PolicyValueNet(game.observation_shape, game.num_actions,
                         NetworkConfig(num_blocks=5, num_filters=64))  # fmt: skip
    ev = NetworkEvaluator(net, dev)
    ev(np.zeros((64, *game.observation_shape), np.float32), np.ones((64, 7), bool))  # warm-up
    rate, share = sims_per_second(game, ev, 64, max(args.sims // 4, 10))
    print(f"(b) connect_four, ResNet 5x64 on {dev}, batch 64: {rate:10,.0f} sims/s, "
          f"{100 * share:.0f}% of wall time in the network")  # fmt: skip

    from pettingzoo.classic import connect_four_v3

    from az_gym.envs.adapter import PettingZooGame

    pz = PettingZooGame(connect_four_v3.env)
    rng = np.random.default_rng(1)
    states = [_opening(pz, rng, int(rng.integers(0, 6))) for _ in range(50)]
    t0, n = time.perf_counter(), 0
    for s in states:
        for a in np.flatnonzero(pz.legal_mask(s)).tolist():
            pz.next_state(s, a)
            n += 1
    raw = n / (time.perf_counter() - t0)
    rate, _ = sims_per_second(pz, UniformEvaluator(), 64, max(args.sims // 4, 10))
    print(f"(c) pettingzoo connect_four_v3 via adapter, batch 64: {rate:10,.0f} sims/s; "
          f"raw clone+step {raw:,.0f}/s (ratio {rate / raw:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
