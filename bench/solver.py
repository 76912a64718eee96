"""What the MCTS solver (``MctsParams.solver``) buys the shipped Connect Four agent
(run: ``python bench/solver.py [--sims 32,200] [--positions N] [--seed S]``).

On the strength yardstick's labelled positions (:mod:`bench.strength`, the committed cache
by default) the shipped agent searches every position once with the solver off and once
with it on, at each simulation budget, and the script prints per stage (begin, middle, end)
the error rate (the move played is worse than the best move), the share of positions whose
root the solver proved, the simulations actually run against those asked, and the
seconds. Both runs search the same positions with the same network in the same process.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import strength

from az_gym.agent_specs import make_agent
from az_gym.envs.connect_four import ConnectFour
from az_gym.mcts import BatchedMcts, play_policy


def measure(agent, rows: list[dict], game: ConnectFour, solver: bool) -> dict[str, dict]:
    """Per stage: positions, errors, proven roots, simulations run and asked, seconds."""
    params = dataclasses.replace(agent.params, solver=solver)
    out = {}
    for stage in strength.STAGES:
        picked = [r for r in rows if r["solved"] and r["stage"] == stage]
        states = []
        for r in picked:
            s = game.initial_state()
            for ch in r["moves"]:
                s = game.next_state(s, int(ch) - 1)
            states.append(s)
        errors = proven = run = 0
        t0 = time.perf_counter()
        for i in range(0, len(states), 64):  # one batched search per chunk, fresh trees
            mcts = BatchedMcts(game, agent.evaluator, params, rng=np.random.default_rng(0))
            res = mcts.search(states[i : i + 64])
            chosen = play_policy(res, np.zeros(len(res.visits))).argmax(1)
            run += int(res.simulations.sum())
            if res.proven_value is not None:
                proven += int((~np.isnan(res.proven_value)).sum())
            for k, a in enumerate(chosen.tolist()):
                vals = [v for v in picked[i + k]["values"] if v is not None]
                errors += picked[i + k]["values"][a] < max(vals)
        n = len(states)
        out[stage] = {
            "positions": n,
            "error": errors / n if n else float("nan"),
            "proven": proven / n if n else float("nan"),
            "simulations": run / max(n * params.num_iters_per_turn, 1),
            "seconds": time.perf_counter() - t0,
        }
    return out


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and print the table."""
    ap = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    ap.add_argument("--sims", default="32,200", help="comma-separated simulation budgets")
    ap.add_argument("--positions", type=int, default=200, help="positions per stage")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=int, default=20_000_000, help="solver nodes per position")
    args = ap.parse_args(argv)
    try:
        budgets = [int(x) for x in args.sims.split(",")]
    except ValueError:
        ap.error(f"--sims {args.sims!r}: integers separated by commas")
    if not budgets or min(budgets) < 1:
        ap.error("--sims: every budget must be >= 1")
    game = ConnectFour()
    rows = strength.positions(args.positions, args.seed, args.budget)
    print(f"{'sims':>5} {'solver':>6} {'stage':>6} {'positions':>9} {'error':>6} {'proven':>6} "
          f"{'sims run':>8} {'seconds':>7}")  # fmt: skip
    for sims in budgets:
        agent = make_agent(f"pretrained:{sims}:nosym", game, seed=args.seed)
        for solver in (False, True):
            for stage, r in measure(agent, rows, game, solver).items():
                print(
                    f"{sims:5d} {'on' if solver else 'off':>6} {stage:>6} {r['positions']:9d} "
                    f"{r['error']:6.1%} "
                    f"{r['proven']:6.1%} {r['simulations']:8.1%} {r['seconds']:7.1f}"
                )


if __name__ == "__main__":
    main()
