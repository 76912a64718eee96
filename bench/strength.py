"""Connect Four strength against the exact solver: the share of moves that throw away value
(run: ``python bench/strength.py RUN_OR_AGENT [--positions N] [--seed S] [--sims K]``).

Positions: ``N`` per stage, half from uniformly random games and half from games of the
shipped agent (``pretrained:64`` with each move replaced by a random one with probability
0.25, so its games do not all repeat), one position per stage per game, duplicates dropped.
Stages by stones played: begin 8-10, middle 11-24, end 25+. The begin stage starts at 8
stones (N = 8) because positions with fewer take the solver 10^8 nodes and more (tens of
seconds each on this machine's cores; the opening itself, whose answer is known, minutes).

Labels: the win/draw/loss value of every legal move for the mover, by
:mod:`bench.c4_solver` (weak solve), at most ``--budget`` negamax nodes per position. A
position with a move left unsolved is skipped (printed as ``skipped``): on this machine
that happens only at the begin stage. Labelled positions are cached in
``bench/data/c4_positions-seed{S}-n{N}.json`` (the default one and ``--positions 600
--seed 1``, three times the size, are committed), so every agent is measured on the same
positions and a second run is quick.

Error: the agent's move has a lower value than the best legal move. ``error`` is the rate
over all solved positions, ``error (choice)`` over those where some move is worse than
another (elsewhere no move can be an error).

``RUN_OR_AGENT`` is any agent spec of the CLI (``pretrained``, ``alphabeta:5``,
``one_step``, ``FILE.pt``, a run directory); ``--sims K`` sets an AlphaZero agent's
simulations. For a run directory, the best network of each iteration is measured too
(``networks/best-N.pt``, kept by the trainer unless ``keep_best_networks = false``; else the
two iterations whose files are kept, ``iter-N/best.pt``; ``--every K``: every K-th
iteration and the last), against the training seconds up to that iteration (sum of each
``report.jsonl`` record's self-play, learning and arena seconds), ending with one line per
measured iteration: minutes of training and the error rates.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import c4_solver

from az_gym.agent_specs import SpecError, make_agent
from az_gym.envs.connect_four import ConnectFour
from az_gym.training.report import load_reports

STAGES = {"begin": (8, 10), "middle": (11, 24), "end": (25, 41)}
DATA = Path(__file__).resolve().parent / "data"
EPSILON = 0.25
"""Probability that a move of the generating agent's games is random (diversity)."""


def _stage(moves: int) -> str | None:
    return next((k for k, (lo, hi) in STAGES.items() if lo <= moves <= hi), None)


def _play_games(game: ConnectFour, agent, n: int, rng: np.random.Generator) -> list[list[int]]:
    """``n`` games in lockstep, each a list of columns; ``agent`` None: random moves."""
    states = [game.initial_state() for _ in range(n)]
    histories: list[list[int]] = [[] for _ in range(n)]
    while True:
        live = [i for i, s in enumerate(states) if not game.is_terminal(s)]
        if not live:
            return histories
        chosen = agent.act_states(game, [states[i] for i in live]) if agent else None
        for j, i in enumerate(live):
            legal = np.flatnonzero(game.legal_mask(states[i]))
            a = int(rng.choice(legal))
            if chosen is not None and rng.random() >= EPSILON:
                a = chosen[j]
            states[i] = game.next_state(states[i], a)
            histories[i].append(a)


def _pick(histories: list[list[int]], per_stage: int, rng, seen: set, out: dict) -> None:
    """Add to ``out[stage]`` one non-terminal position per stage of each game (as a
    column string counted from 1), until ``per_stage`` each."""
    for h in histories:
        for stage, (lo, hi) in STAGES.items():
            hi = min(hi, len(h) - 1)  # the last position of a game is over
            if hi < lo or len(out[stage]) >= per_stage:
                continue
            moves = "".join(str(a + 1) for a in h[: int(rng.integers(lo, hi + 1))])
            key = c4_solver.position(moves)
            if key not in seen:
                seen.add(key)
                out[stage].append(moves)


def _label(args: tuple[str, int]) -> tuple[list[int | None], bool]:
    """Win/draw/loss of each column after ``moves`` (None: a full column), and whether
    every legal column was solved within ``budget`` nodes."""
    moves, budget = args
    cur, mask = c4_solver.position(moves)
    scores = c4_solver.move_scores(cur, mask, weak=True, budget=budget)
    legal = [not (mask >> (7 * c + 5)) & 1 for c in range(7)]
    solved = all(s != c4_solver.UNSOLVED for s, ok in zip(scores, legal, strict=True) if ok)
    return [int(s) if ok and solved else None for s, ok in zip(scores, legal, strict=True)], solved


def positions(n: int, seed: int, budget: int) -> list[dict]:
    """The labelled positions for ``(n, seed)``, from the cache or generated and cached."""
    path = DATA / f"c4_positions-seed{seed}-n{n}.json"
    if path.exists():
        data = json.loads(path.read_text())
        if data.get("budget") == budget and data.get("stages") == {
            k: list(v) for k, v in STAGES.items()
        }:
            return data["positions"]
    game, rng = ConnectFour(), np.random.default_rng(seed)
    # plain PUCT, whatever the file stores: the committed labels came from these games
    generator = make_agent("pretrained:64:nosym", game, seed=seed)
    picked = {}
    for source, agent in (("random", None), ("pretrained", generator)):
        out: dict[str, list[str]] = {k: [] for k in STAGES}
        seen: set = set()
        target = n - n // 2 if agent else n // 2
        for _ in range(50):  # random games rarely reach the end stage: play more
            if all(len(v) >= target for v in out.values()):
                break
            _pick(_play_games(game, agent, 64, rng), target, rng, seen, out)
        picked[source] = out
    todo = [(m, st, src) for src, out in picked.items() for st, ms in out.items() for m in ms]
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:  # labelling is the slow part
        labels = list(pool.map(_label, [(m, budget) for m, _, _ in todo], chunksize=4))
    rows = [
        {"moves": m, "stage": st, "source": src, "values": v, "solved": ok}
        for (m, st, src), (v, ok) in zip(todo, labels, strict=True)
    ]
    DATA.mkdir(exist_ok=True)
    path.write_text(
        json.dumps({"seed": seed, "budget": budget, "stages": STAGES, "positions": rows}, indent=0)
    )
    return rows


def error_rates(agent, rows: list[dict], game: ConnectFour) -> dict[str, dict]:
    """Per stage: positions, skipped, errors, the error rate and the rate where a choice
    matters (see the module docstring)."""
    solved = [r for r in rows if r["solved"]]
    states = []
    for r in solved:
        s = game.initial_state()
        for ch in r["moves"]:
            s = game.next_state(s, int(ch) - 1)
        states.append(s)
    chosen: list[int] = []
    for i in range(0, len(states), 64):  # one batched search per chunk, fresh trees
        agent.reset()
        chosen += agent.act_states(game, states[i : i + 64])
    out = {}
    for stage in STAGES:
        errors = choice = errors_choice = 0
        idx = [i for i, r in enumerate(solved) if r["stage"] == stage]
        for i in idx:
            vals = [v for v in solved[i]["values"] if v is not None]
            wrong = solved[i]["values"][chosen[i]] < max(vals)
            errors += wrong
            if min(vals) < max(vals):
                choice += 1
                errors_choice += wrong
        n = len(idx)
        out[stage] = {
            "positions": n,
            "skipped": sum(r["stage"] == stage for r in rows) - n,
            "errors": errors,
            "error": errors / n if n else float("nan"),
            "error_choice": errors_choice / choice if choice else float("nan"),
        }
    return out


def _print(name: str, rates: dict[str, dict]) -> None:
    print(f"{name}:")
    for stage, r in rates.items():
        print(
            f"  {stage:6s} error {r['error']:6.1%}  error (choice) {r['error_choice']:6.1%}  "
            f"({r['errors']}/{r['positions']} positions, {r['skipped']} skipped)"
        )


def _networks(run: Path) -> dict[int, Path]:
    """``{iteration: best network file}``: the run's ``networks/`` if it has any, else the
    kept iteration directories."""
    kept = {int(p.stem.split("-")[1]): p for p in run.glob("networks/best-*.pt")}
    if kept:
        return dict(sorted(kept.items()))
    dirs = {int(d.name.split("-")[1]): d / "best.pt" for d in run.glob("iter-*")}
    return {it: p for it, p in sorted(dirs.items()) if p.is_file()}


def _iterations(
    run: Path, sims: str, game: ConnectFour, rows: list[dict], seed: int, every: int = 1
) -> None:
    """Error rates of the best network of the iterations (``every``-th and the last)
    against training seconds, then one summary line per iteration."""
    spent, elapsed = 0.0, {}
    for r in load_reports(run):
        spent += r["self_play"]["seconds"] + r["learning"]["seconds"] + r["arena"]["seconds"]
        elapsed[r["iteration"]] = spent
    nets = _networks(run)
    last = max(nets, default=None)
    summary = []
    for it, path in nets.items():
        if it % every and it != last:
            continue
        rates = error_rates(make_agent(f"{path}{sims}", game, seed=seed), rows, game)
        when = elapsed.get(it)
        _print(f"iteration {it}" + (f" ({when:.1f} s of training)" if when else ""), rates)
        errors = " / ".join(f"{100 * rates[s]['error']:.1f}" for s in STAGES)
        minutes = f"{when / 60:6.1f} min" if when else "       ?   "
        summary.append(f"  iteration {it:4d}  {minutes}  {errors}")
    if summary:
        print("training time, error % begin / middle / end of each iteration's best network:")
        print("\n".join(summary))


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, build the positions, print the error rates."""
    ap = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    ap.add_argument("agent", help="agent spec or run directory (see `az-gym list`)")
    ap.add_argument("--positions", type=int, default=200, help="positions per stage")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sims", type=int, default=None, help="simulations of an AlphaZero agent")
    ap.add_argument("--budget", type=int, default=20_000_000, help="solver nodes per position")
    ap.add_argument("--every", type=int, default=1, metavar="K",
                    help="run directory: measure every K-th iteration (and the last)")  # fmt: skip
    args = ap.parse_args(argv)
    if args.positions < 2 or min(args.budget, args.every, args.sims or 1) < 1:
        ap.error("--positions must be >= 2, --budget, --every and --sims >= 1")
    game = ConnectFour()
    sims = f":{args.sims}" if args.sims else ""
    bare = args.agent[:-4] if args.agent.lower().endswith(":sym") else args.agent
    alphazero = Path(bare).exists() or bare.lower().startswith("pretrained")
    try:
        agent = make_agent(args.agent + (sims if alphazero else ""), game, seed=args.seed)
    except (SpecError, ValueError) as exc:
        ap.exit(2, f"strength.py: error: {exc}\n")
    rows = positions(args.positions, args.seed, args.budget)
    _print(args.agent + (sims if alphazero else ""), error_rates(agent, rows, game))
    if Path(bare).is_dir():  # each iteration's network searched as the spec says (:sym too)
        suffix = sims + (":sym" if bare != args.agent else "")
        _iterations(Path(bare), suffix, game, rows, args.seed, args.every)


if __name__ == "__main__":
    main()
