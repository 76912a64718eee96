"""CPU inference engines side by side: positions/s of the shipped networks, and what the
fastest gains in self-play and in one move of the shipped agent.

Prints, for each shipped network and batch size (1, 8, 64, 256), the positions per second
of :class:`~az_gym.networks.NetworkEvaluator` (what the search calls, numpy in and out)
under torch eager on 1 and 2 threads, ``torch.compile`` and ONNX Runtime (one thread, as
the inference rule of :mod:`az_gym.threads` says), each engine's largest difference from
eager (priors and values; must be <= 1e-4), and its speed relative to eager on one thread.
Then self-play samples/s on Connect Four with the shipped network (eager vs the fastest
engine, in-process) and the shipped agent's move time from the empty board.

Every alternative is measured in the same run, interleaved round by round (the median of
``--rounds`` is shown), since the machine may be shared; the load average is printed
before and after.

    python bench/inference.py                         # everything (compile: minutes)
    python bench/inference.py --engines eager1,onnx --games connect_four --no-selfplay
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from az_gym.agents.shipped import available_pretrained, pretrained
from az_gym.inference import MAX_ABS_DIFF, onnx_available
from az_gym.networks import NetworkEvaluator, PolicyValueNet

ENGINES: dict[str, tuple[str, int]] = {
    "eager1": ("eager", 1),
    "eager2": ("eager", 2),
    "compile": ("compile", 1),
    "onnx": ("onnx", 1),
}
"""Bench name -> (``inference``, intra-op threads)."""


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _inputs(net: PolicyValueNet, batch: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    obs = (rng.random((batch, *net.observation_shape)) < 0.3).astype(np.float32)
    masks = rng.random((batch, net.num_actions)) < 0.8
    masks[:, 0] = True
    return obs, masks


def _rate(ev: NetworkEvaluator, obs: np.ndarray, masks: np.ndarray, seconds: float) -> float:
    """Positions per second over about ``seconds`` of repeated calls."""
    n, t0 = 0, time.perf_counter()
    while True:
        ev(obs, masks)
        n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return n * len(obs) / dt


def bench_network(
    name: str, engines: Sequence[str], batches: Sequence[int], rounds: int, seconds: float
) -> dict[str, dict[int, float]]:
    """Print and return ``{engine: {batch: positions/s}}`` for the shipped ``name`` net."""
    net = pretrained(name).network.eval()
    evs = {e: NetworkEvaluator(net, num_threads=ENGINES[e][1], inference=ENGINES[e][0])
           for e in engines}  # fmt: skip
    ref = NetworkEvaluator(net, num_threads=1, inference="eager")
    cfg = net.config
    shape = f"{cfg.num_blocks}x{cfg.num_filters}" if net.kind == "resnet" else str(cfg.hidden)
    print(f"\n{name}: {net.kind} {shape}, obs {net.observation_shape}")
    print(f"  {'batch':>5}  " + "  ".join(f"{e:>16}" for e in engines))
    out: dict[str, dict[int, float]] = {e: {} for e in engines}
    for b in batches:
        obs, masks = _inputs(net, b, seed=b)
        p_ref, v_ref = ref(obs, masks)
        diffs = {}
        for e, ev in evs.items():
            t0 = time.perf_counter()
            p, v = ev(obs, masks)  # warm-up: compiles, builds the session
            warm = time.perf_counter() - t0
            diffs[e] = float(max(np.abs(p - p_ref).max(), np.abs(v - v_ref).max()))
            if warm > 5:
                print(f"    ({e} warm-up at batch {b}: {warm:.0f} s)")
        rates: dict[str, list[float]] = {e: [] for e in engines}
        for _ in range(rounds):
            for e, ev in evs.items():
                rates[e].append(_rate(ev, obs, masks, seconds))
        base = float(np.median(rates[engines[0]]))
        cells = []
        for e in engines:
            r = float(np.median(rates[e]))
            out[e][b] = r
            flag = "" if diffs[e] <= MAX_ABS_DIFF else "!"
            cells.append(f"{r:>8,.0f} {r / base:4.2f}x{flag:1}")
        print(f"  {b:>5}  " + "  ".join(f"{c:>16}" for c in cells))
        bad = {e: d for e, d in diffs.items() if d > MAX_ABS_DIFF}
        print(f"         max |diff| vs eager: {max(diffs.values()):.1e}" +
              (f"  OVER {MAX_ABS_DIFF}: {bad}" if bad else ""))  # fmt: skip
    return out


def _interleaved(
    runs: dict[str, Callable[[], float]], rounds: int
) -> dict[str, float]:  # fmt: skip
    vals: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds):
        for k, f in runs.items():
            vals[k].append(f())
    return {k: float(np.median(v)) for k, v in vals.items()}


def bench_selfplay(
    engine: str, sims: int, lockstep: Sequence[int], games: int, rounds: int
) -> None:
    """Self-play samples/s of the shipped Connect Four net, eager vs ``engine``, in-process."""
    from az_gym.training.params import SelfPlayParams, SimParams
    from az_gym.training.selfplay import GameSpec, NetSpec, net_weights, run_self_play
    from az_gym.workers import LocalPool

    agent = pretrained("connect_four", symmetry_averaging=False)  # plain PUCT, as first measured
    net, game = agent.network, agent.game
    spec = NetSpec(game.observation_shape, game.num_actions, net.config)
    weights = net_weights(net)
    mcts = dataclasses.replace(agent.params, num_iters_per_turn=sims)
    print(f"\nself-play, connect_four, shipped net, {sims} sims/move, {games} games, in-process")
    with LocalPool(1) as pool:
        for k in lockstep:

            def run(inference: str, k: int = k) -> float:
                sim = SimParams(num_games=games, num_workers=k, batch_size=k, num_processes=1,
                                inference=inference)  # fmt: skip
                params = SelfPlayParams(mcts=mcts, sim=sim)
                _, rep = run_self_play(GameSpec(name="connect_four"), game, spec, weights, params,
                                       pool, seed=1)  # fmt: skip
                return rep.samples_per_second

            res = _interleaved({"eager": lambda: run("eager"), engine: lambda: run(engine)}, rounds)
            print(f"  {k:>3} games in lockstep: eager {res['eager']:,.1f} samples/s, {engine} "
                  f"{res[engine]:,.1f} samples/s: {res[engine] / res['eager']:.2f}x")  # fmt: skip


def bench_move(engine: str, rounds: int) -> None:
    """Moves of the shipped Connect Four agent from the empty board, eager vs ``engine``, at
    one leaf per network call and at the play default (:data:`PLAY_LEAVES_PER_CALL`), with
    no evaluation cache: a fresh agent's first move (the ONNX export included) and a later
    move of the same agent (its tree dropped)."""
    from az_gym.agents.alphazero import AlphaZeroAgent
    from az_gym.agents.shipped import pretrained_path
    from az_gym.mcts_params import PLAY_LEAVES_PER_CALL

    def agent(e: str, k: int) -> AlphaZeroAgent:
        path = pretrained_path("connect_four")
        return AlphaZeroAgent.load(  # plain PUCT at 400, as first measured
            path, inference=e, cache_size=0, leaves_per_call=k, symmetry_averaging=False
        ).with_simulations(400)

    def timed(a: AlphaZeroAgent) -> float:
        t0 = time.perf_counter()
        a.act_state(a.game, a.game.initial_state())
        return time.perf_counter() - t0

    for e in ("eager", engine):  # imports and first exports, untimed
        timed(agent(e, 1))
    sims = agent("eager", 1).params.num_iters_per_turn
    print(f"\nshipped connect_four agent, one {sims}-simulation move from the empty board, s:")
    for k in sorted({1, PLAY_LEAVES_PER_CALL}):
        first: dict[str, list[float]] = {"eager": [], engine: []}
        later: dict[str, list[float]] = {"eager": [], engine: []}
        for _ in range(rounds):
            for e in first:
                a = agent(e, k)
                first[e].append(timed(a))
                a.reset()
                later[e].append(timed(a))
        f = {e: float(np.median(v)) for e, v in first.items()}
        m = {e: float(np.median(v)) for e, v in later.items()}
        print(f"  {k} leaves per call: first move eager {f['eager']:.3f}, {engine} {f[engine]:.3f}"
              f" ({f['eager'] / f[engine]:.2f}x); later moves eager {m['eager']:.3f}, {engine} "
              f"{m[engine]:.3f} ({m['eager'] / m[engine]:.2f}x)")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    ap = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    ap.add_argument("--engines", default=",".join(ENGINES), help=f"of {list(ENGINES)}")
    ap.add_argument("--games", default=",".join(available_pretrained()))
    ap.add_argument("--batches", default="1,8,64,256")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median shown)")
    ap.add_argument("--seconds", type=float, default=0.3, help="per engine, batch and round")
    ap.add_argument("--no-selfplay", action="store_true", help="skip self-play and the move")
    ap.add_argument("--sims", type=int, default=100, help="self-play simulations per move")
    ap.add_argument("--lockstep", default="1,32", help="self-play games in lockstep")
    ap.add_argument("--selfplay-games", type=int, default=32)
    args = ap.parse_args(argv)
    engines = [e for e in args.engines.split(",") if e]
    if unknown := set(engines) - set(ENGINES):
        ap.error(f"unknown engines {sorted(unknown)}; choose among {list(ENGINES)}")
    if "onnx" in engines and not onnx_available():
        print("onnxruntime/onnx not installed (pip install az-gym[fast]): onnx skipped")
        engines.remove("onnx")
    # Dynamo keeps its graphs per code object: four networks of three batch ranges each
    # would pass its default limit of 8 and run eager unnoticed.
    torch._dynamo.config.recompile_limit = 64
    print(f"torch {torch.__version__}; load average before: {_load()}")
    fastest: dict[str, float] = {}
    for name in args.games.split(","):
        res = bench_network(name, engines, [int(b) for b in args.batches.split(",")],
                            args.rounds, args.seconds)  # fmt: skip
        for e, by_batch in res.items():
            fastest[e] = fastest.get(e, 0.0) + float(np.mean(np.log(list(by_batch.values()))))
    best = max(fastest, key=fastest.__getitem__)
    print(f"\nfastest engine (geometric mean over networks and batches): {best}")
    if not args.no_selfplay and ENGINES[best][0] != "eager":
        lockstep = [int(k) for k in args.lockstep.split(",")]
        bench_selfplay(ENGINES[best][0], args.sims, lockstep, args.selfplay_games, args.rounds)
        bench_move(ENGINES[best][0], args.rounds)
    print(f"load average after: {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
