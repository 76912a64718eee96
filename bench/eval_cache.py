"""Self-play samples per second with the evaluation cache against without it, same run.

Connect Four self-play as the tuned file plays it (``az_gym/configs/connect_four.toml``:
its search parameters and network), ``--workers`` games in lockstep, run as a self-play
worker runs it (:meth:`~az_gym.training.selfplay.WorkerJob.run`, in this process: the
cache lives inside each worker, so one worker shows its effect). The timed rounds alternate
without / with the cache (``SimParams.cache_size``), ``--rounds`` each, with the same seeds,
so that both play the same games; the ratio is of the summed figures. Samples per second
are given per wall-clock second and per CPU second of this process: on a shared machine the
CPU figure is the steadier one (the load average is printed before and after).
``--pretrained`` plays with the shipped agent's network (a trained net's visits
concentrate, so it meets more transpositions than random weights do).

    python bench/eval_cache.py                     # random weights of the tuned network
    python bench/eval_cache.py --pretrained --games 32 --rounds 2
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Sequence

import torch

from az_gym.envs.registry import make_game
from az_gym.training.params import SimParams, default_params
from az_gym.training.selfplay import GameSpec, NetSpec, WorkerJob, net_weights


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    ap = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    ap.add_argument("--games", type=int, default=32, help="games per timed round")
    ap.add_argument("--workers", type=int, default=32, help="games in lockstep")
    ap.add_argument("--sims", type=int, default=None, help="default: the tuned file's")
    ap.add_argument("--cache", type=int, default=SimParams().cache_size, help="cache entries")
    ap.add_argument("--rounds", type=int, default=1, help="timed rounds of each setting")
    ap.add_argument("--pretrained", action="store_true", help="the shipped agent's network")
    ap.add_argument("--inference", default=SimParams().inference, help="network engine")
    args = ap.parse_args(argv)
    if min(args.games, args.workers, args.cache, args.rounds) < 1:
        ap.error("--games, --workers, --cache and --rounds must be >= 1")
    torch.set_num_threads(1)

    game = make_game("connect_four")
    tuned = default_params("connect_four")
    mcts = tuned.self_play.mcts
    if args.sims is not None:
        mcts = dataclasses.replace(mcts, num_iters_per_turn=args.sims)
    if args.pretrained:
        from az_gym import pretrained

        net = pretrained("connect_four").network
    else:
        net = NetSpec(game.observation_shape, game.num_actions, tuned.network).build()
    net_spec = NetSpec(game.observation_shape, game.num_actions, net.config)

    def job(num_games: int, cache: int, seed: int) -> WorkerJob:
        return WorkerJob(game=GameSpec(name="connect_four"), net=net_spec,
                         weights=(net_weights(net),), mcts=mcts, num_games=num_games,
                         num_concurrent=min(args.workers, num_games), seed=seed,
                         batch_size=args.workers, cache_size=cache,
                         inference=args.inference)  # fmt: skip

    print(_load(), "(before)")
    job(2, args.cache, 0).run()  # compiles the search, warms torch
    totals = {0: [0, 0.0, 0.0], args.cache: [0, 0.0, 0.0]}  # samples, wall s, CPU s
    hits = lookups = 0
    for r in range(args.rounds):
        for cache in (0, args.cache):
            wall, cpu = time.perf_counter(), time.process_time()
            out = job(args.games, cache, 1 + r).run()
            totals[cache][0] += len(out.samples)
            totals[cache][1] += time.perf_counter() - wall
            totals[cache][2] += time.process_time() - cpu
            hits, lookups = hits + out.cache_hits, lookups + out.cache_lookups
    kind = "shipped network" if args.pretrained else "random weights"
    print(
        f"connect_four self-play, {kind} ({net.config.num_blocks} blocks x "
        f"{net.config.num_filters} filters, inference {args.inference!r}), "
        f"{mcts.num_iters_per_turn} sims/move, one worker x "
        f"{min(args.workers, args.games)} games in lockstep, {args.rounds} round(s) of "
        f"{args.games} games per setting"
    )
    for cache, (n, wall, cpu) in totals.items():
        label = f"with cache ({cache} entries)" if cache else "without cache"
        print(f"  {label:30s} {n / wall:7.1f} samples/s wall, {n / cpu:7.1f} per CPU second")
    (n0, w0, c0), (n1, w1, c1) = totals[0], totals[args.cache]
    print(
        f"  hit rate {hits / max(lookups, 1):.1%}; ratio with/without: "
        f"{(n1 / w1) / (n0 / w0):.2f} (wall), {(n1 / c1) / (n0 / c0):.2f} (CPU)"
    )
    print(_load(), "(after)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
