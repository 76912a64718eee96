"""Self-play throughput: samples per second on Connect Four, and the share of time spent
inside the network.

Setup (AlphaZero.jl's connect-four scale, shortened): ResNet 5 blocks x 64 filters,
100 simulations per move, ``--workers`` games in lockstep per process, one process per
core (``--processes``). The weights are random: the speed of a search does not depend on
their values. The first ``--warmup`` games of each process start the workers (imports,
spawn) and are not timed: the pool is persistent, so a second round is timed alone.

    python bench/selfplay.py                      # all cores
    python bench/selfplay.py --processes 1 --games 16 --gpu
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import torch

from az_gym.envs.registry import make_game
from az_gym.mcts import MctsParams
from az_gym.networks import NetworkConfig
from az_gym.training.params import SelfPlayParams, SimParams
from az_gym.training.selfplay import GameSpec, NetSpec, net_weights, run_self_play
from az_gym.workers import LocalPool, default_num_processes


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=64, help="games in the timed round")
    ap.add_argument("--workers", type=int, default=32, help="games in lockstep per process")
    ap.add_argument("--processes", type=int, default=None, help="default: one per core")
    ap.add_argument("--sims", type=int, default=100, help="simulations per move")
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--filters", type=int, default=64)
    ap.add_argument("--gpu", action="store_true", help="network on the GPU when present")
    ap.add_argument("--warmup", type=int, default=1, help="untimed games per process first")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    game = make_game("connect_four")
    config = NetworkConfig(kind="resnet", num_blocks=args.blocks, num_filters=args.filters)
    net_spec = NetSpec(game.observation_shape, game.num_actions, config)
    weights = net_weights(net_spec.build())
    procs = default_num_processes() if args.processes is None else args.processes

    def params(num_games: int) -> SelfPlayParams:
        workers = min(args.workers, num_games)
        sim = SimParams(num_games=num_games, num_workers=workers, batch_size=workers,
                        num_processes=max(1, procs), use_gpu=args.gpu)  # fmt: skip
        return SelfPlayParams(mcts=MctsParams(num_iters_per_turn=args.sims), sim=sim)

    spec = GameSpec(name="connect_four")
    with LocalPool(procs) as pool:
        t = time.perf_counter()
        if args.warmup > 0:
            run_self_play(spec, game, net_spec, weights, params(args.warmup * pool.parallelism),
                          pool, seed=0)  # fmt: skip
        warm = time.perf_counter() - t
        _, rep = run_self_play(spec, game, net_spec, weights, params(args.games), pool,
                                     seed=1)  # fmt: skip
    lockstep = min(args.workers, -(-args.games // pool.parallelism))
    device = "GPU" if args.gpu and torch.cuda.is_available() else "CPU"
    print(
        f"connect_four self-play: ResNet {args.blocks}x{args.filters}, {args.sims} sims/move, "
        f"{pool.parallelism} process(es) x up to {lockstep} games in lockstep, "
        f"network on {device}\n"
        f"  {rep.num_games} games, {rep.num_samples} samples in {rep.seconds:.1f} s: "
        f"{rep.samples_per_second:.1f} samples/s ({rep.num_samples * args.sims / rep.seconds:,.0f}"
        f" simulations/s); {100 * rep.network_share:.0f}% of worker time inside the network; "
        f"mean game length {rep.average_length:.1f}; warm-up {warm:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
