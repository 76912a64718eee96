"""Self-play throughput on 1 and on 2 worker processes, in one run: samples per second on
Connect Four, the share of time spent inside the network, and the scaling ratio.

Setup (AlphaZero.jl's connect-four scale, shortened): ResNet 5 blocks x 64 filters,
100 simulations per move, ``--workers`` games in lockstep per process. Each process count
``P`` of ``--processes`` (default ``1,2``) plays ``P x --games`` games, so every process
does the same work whatever ``P`` (weak scaling: with a fixed total, two processes would
each play half as many games in lockstep and lose more time to the half-empty batches at
the end of their games, which is not what scaling measures). The weights are random: the
speed of a search does not depend on their values.

What is timed is the self-play phase as the trainer runs it, on a warm pool: the pool's
processes are started, and their first job run (imports, spawn, compiled kernels), before
the clock starts (``--warmup`` games per process), since the trainer keeps its pool across
iterations. Each process runs torch on one thread (:mod:`az_gym.threads`), and the weights
travel once per job, one job per process. ``--repeats`` alternates the process counts that
many times and keeps each one's best round, to see through other programs' load; the load
average is printed with the figures.

On a busy machine the wall-clock ratio says how many cores the workers got, not what az_gym
costs. So each line also gives the workers' *samples per CPU second* (their process CPU
time, every thread) and the share of their job's wall time they spent on a core: equal
samples per CPU second for 1 and 2 processes means running two costs nothing of its own
(no shared lock, no oversubscribed threads, no transfer), and the ratio then reaches 2x
on a machine whose two cores are free.

    python bench/selfplay.py                      # 1 vs 2 processes, the ratio
    python bench/selfplay.py --processes 1,2,4 --games 16 --repeats 2
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from az_gym.envs.registry import make_game
from az_gym.mcts import MctsParams
from az_gym.networks import NetworkConfig
from az_gym.training.params import SelfPlayParams, SimParams
from az_gym.training.selfplay import (
    GameSpec,
    NetSpec,
    SelfPlayReport,
    WorkerOutput,
    net_weights,
    self_play_jobs,
    self_play_results,
)
from az_gym.workers import LocalPool, WorkerPool


def load() -> str:
    """The machine's load average, printed next to every figure."""
    try:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load average unknown"


@dataclass(frozen=True)
class Round:
    """One timed self-play phase: its report and its jobs' outputs."""

    report: SelfPlayReport
    outs: list[WorkerOutput]
    driver_cpu: float
    """CPU seconds of this (the trainer's) process during the phase: the jobs' own when
    they run in it, else what waiting on the workers costs."""

    @property
    def rate(self) -> float:
        """Samples per second of wall time."""
        return self.report.samples_per_second

    @property
    def cpu_rate(self) -> float:
        """Samples per CPU second of the workers (contention-free efficiency)."""
        return self.report.num_samples / max(sum(o.cpu_seconds for o in self.outs), 1e-9)

    @property
    def on_core(self) -> float:
        """The workers' CPU time over their jobs' wall time (1: a core all along)."""
        return sum(o.cpu_seconds for o in self.outs) / max(sum(o.seconds for o in self.outs), 1e-9)

    @property
    def overhead(self) -> float:
        """Phase seconds not spent playing in the slowest job (transfer, set-up, merge)."""
        return self.report.seconds - max(o.seconds for o in self.outs)

    def describe(self, label: str, sims: int) -> str:
        """One line of figures for ``label`` (e.g. ``"2 process(es)"``)."""
        rep = self.report
        return (
            f"  {label}: {rep.num_games} games, {rep.num_samples} samples in "
            f"{rep.seconds:.1f} s: {self.rate:.1f} samples/s "
            f"({rep.num_samples * sims / rep.seconds:,.0f} simulations/s); "
            f"{100 * rep.network_share:.0f}% of worker time inside the network; per worker "
            f"{self.cpu_rate:.1f} samples per CPU second, on a core {100 * self.on_core:.0f}% "
            f"of its job; {self.overhead:.2f} s of the phase outside the jobs' games, "
            f"{self.driver_cpu:.2f} CPU s in the driver"
        )


def ratio_line(label: str, many: Round, one: Round, ideal: int) -> str:
    """The scaling line of ``many`` workers against ``one``."""
    return (
        f"  {label}: {many.rate / one.rate:.2f}x samples/s (ideal {ideal}x; target for 2: "
        f">= 1.8x); per CPU second {many.cpu_rate / one.cpu_rate:.2f}x (1.00x: no cost of "
        f"its own to running {ideal}, the rest is cores held by other programs); {load()}"
    )


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The setup's options (shared with ``bench/ray_scaling.py``)."""
    ap.add_argument("--games", type=int, default=32, help="games per worker in a timed round")
    ap.add_argument("--workers", type=int, default=32, help="games in lockstep per worker")
    ap.add_argument("--sims", type=int, default=100, help="simulations per move")
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--filters", type=int, default=64)
    ap.add_argument("--gpu", action="store_true", help="network on the GPU when present")
    ap.add_argument("--warmup", type=int, default=1, help="untimed games per worker first")
    ap.add_argument("--repeats", type=int, default=1, help="rounds per worker count (best kept)")


class Setup:
    """Connect Four, the ResNet of ``args`` with random weights, and timed rounds."""

    def __init__(self, args: argparse.Namespace) -> None:
        torch.set_num_threads(1)
        self.args = args
        self.game = make_game("connect_four")
        config = NetworkConfig(kind="resnet", num_blocks=args.blocks, num_filters=args.filters)
        self.net_spec = NetSpec(self.game.observation_shape, self.game.num_actions, config)
        self.weights = net_weights(self.net_spec.build())
        self.spec = GameSpec(name="connect_four")

    def params(self, num_games: int, parts: int) -> SelfPlayParams:
        """``num_games`` games over ``parts`` workers."""
        workers = min(self.args.workers, max(1, num_games // parts))
        sim = SimParams(num_games=num_games, num_workers=workers, batch_size=workers,
                        num_processes=parts, use_gpu=self.args.gpu)  # fmt: skip
        return SelfPlayParams(mcts=MctsParams(num_iters_per_turn=self.args.sims), sim=sim)

    def warm_up(self, pool: WorkerPool) -> None:
        """An untimed round: starts the workers and their first job (imports, kernels)."""
        if self.args.warmup > 0:
            parts = pool.parallelism
            sp = self.params(self.args.warmup * parts, parts)
            pool.run(self_play_jobs(self.spec, self.net_spec, self.weights, sp, parts, 0))

    def timed(self, pool: WorkerPool, seed: int) -> Round:
        """One self-play phase of ``--games`` games per worker, as the trainer runs it."""
        n = self.args.games * pool.parallelism
        sp = self.params(n, pool.parallelism)
        jobs = self_play_jobs(self.spec, self.net_spec, self.weights, sp, pool.parallelism, seed)
        t, cpu = time.perf_counter(), time.process_time()
        outs = pool.run(jobs)
        report = self_play_results(self.game, outs, time.perf_counter() - t)[1]
        return Round(report, outs, time.process_time() - cpu)

    def title(self, what: str) -> str:
        """The first line of the summary."""
        a = self.args
        device = "GPU" if a.gpu and torch.cuda.is_available() else "CPU"
        return (
            f"connect_four self-play {what}: ResNet {a.blocks}x{a.filters}, {a.sims} sims/move, "
            f"{a.games} games per worker, up to {a.workers} in lockstep, network on {device}, "
            f"{os.cpu_count()} cores"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    ap = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    add_arguments(ap)
    ap.add_argument("--processes", default="1,2", help="process counts to compare (1: in-process)")
    args = ap.parse_args(argv)
    counts = [int(p) for p in args.processes.split(",")]
    setup = Setup(args)
    pools = {p: LocalPool(p) for p in counts}
    best: dict[int, Round] = {}
    try:
        for pool in pools.values():  # start every pool first: the timed rounds are warm
            setup.warm_up(pool)
        for r in range(args.repeats):
            for p, pool in pools.items():
                rnd = setup.timed(pool, seed=1 + r)
                if p not in best or rnd.rate > best[p].rate:
                    best[p] = rnd
                print(f"  round {r + 1}, {p} process(es): {rnd.rate:.1f} samples/s ({load()})",
                      flush=True)  # fmt: skip
    finally:
        for pool in pools.values():
            pool.close()
    print(setup.title("on worker processes"))
    for p, rnd in best.items():
        print(rnd.describe(f"{p} process(es)", args.sims))
    for p in (q for q in best if q > 1 and 1 in best):
        print(ratio_line(f"{p} vs 1 process(es)", best[p], best[1], p))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
