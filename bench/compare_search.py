"""Connect Four from scratch under four searches, the same wall-clock budget each: the
solver yardstick's error rate of each run's best network against wall time, as a markdown
table (run: ``python bench/compare_search.py --minutes 40``).

Configurations are ``--set`` overrides on the tuned file (``az_gym/configs/connect_four.toml``,
its ``num_iters`` lifted so that the budget decides; each names its search settings in
full, so that they do not depend on which search the tuned file uses): ``puct``
(AlphaZero's PUCT, the tuned file until Gumbel + solver + cache won this comparison),
``gumbel`` (``root_policy = "gumbel"`` in self-play and the arena, the paper's
self-play: always the selected action), ``gumbel+opening`` (the first 12 self-play moves
drawn from the root visits, ``gumbel_opening_moves = 12``: plain ``gumbel`` repeated one
short game on Connect Four) and ``gumbel+opening+solver+cache`` (also ``solver = true``,
and the evaluation cache); the others run without the cache (``cache_size = 0``) so that
the last shows what it adds.
``--config "NAME: OVERRIDE; OVERRIDE"`` replaces the set (repeat it), ``--set`` adds an
override to every configuration (``--set self_play.sim.num_processes=2``), ``--only NAME``
keeps one of the defaults (repeat it): the runs of a long comparison can be trained in
separate calls, and a last call without ``--only`` reuses them all for the table. A configuration
whose options this az_gym does not have yet is skipped with a message.

The runs go one after the other, each alone on the machine, in ``OUT/NAME`` (default
``runs/compare_search``). After each iteration the best network is saved
(``OUT/NAME/snapshots/iter-N.pt``) with the wall time since the run started
(``timeline.json``); training stops at the first iteration that ends past the budget. Only
then, with the machine free again, is each snapshot measured: the error rate per stage
(begin, middle, end) of ``bench/strength.py``, with the run's own arena search
(``--sims`` sets the simulations of all). The table gives, at ``--points`` evenly spaced
times, the best network of the last iteration done by then. A second call reuses finished
runs and measurements (``timeline.json``, ``strength.json``): ``--fresh`` trains again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import strength

from az_gym.agent_specs import make_agent
from az_gym.envs.connect_four import ConnectFour
from az_gym.training.events import StopTraining
from az_gym.training.params import ParamsError, apply_overrides, default_params
from az_gym.training.trainer import Trainer

_GUMBEL = ['self_play.mcts.root_policy="gumbel"', 'arena.mcts.root_policy="gumbel"']
_NO_CACHE = ["self_play.sim.cache_size=0", "arena.sim.cache_size=0"]
_OPENING = ["self_play.mcts.gumbel_opening_moves=12"]
_SOLVER = ["self_play.mcts.solver=true", "arena.mcts.solver=true"]
_NO_SOLVER = ["self_play.mcts.solver=false", "arena.mcts.solver=false"]
_NO_OPENING = ["self_play.mcts.gumbel_opening_moves=0"]
_PUCT = ['self_play.mcts.root_policy="puct"', 'arena.mcts.root_policy="puct"']
CONFIGS: dict[str, list[str]] = {
    "puct": _PUCT + _NO_OPENING + _NO_SOLVER + _NO_CACHE,
    "gumbel": _GUMBEL + _NO_OPENING + _NO_SOLVER + _NO_CACHE,
    "gumbel+opening": _GUMBEL + _OPENING + _NO_SOLVER + _NO_CACHE,
    "gumbel+opening+solver+cache": _GUMBEL + _OPENING + _SOLVER,
}
"""The default configurations: overrides on the tuned Connect Four file."""


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} / {five:.2f} (1 / 5 min)"


def _parse_config(text: str) -> tuple[str, list[str]]:
    name, colon, rest = text.partition(":")
    if not colon or not name.strip():
        raise ValueError(f"--config {text!r} must look like 'NAME: OVERRIDE; OVERRIDE'")
    return name.strip(), [o.strip() for o in rest.split(";") if o.strip()]


def train(
    name: str, config: list[str], common: list[str], budget: float, run_dir: Path
) -> dict | None:
    """Train one configuration (its overrides ``config``, then ``common``) for ``budget``
    seconds in ``run_dir``; its timeline (the snapshot and wall time of each iteration), or
    ``None`` when it cannot run here."""
    timeline_path = run_dir / "timeline.json"
    if timeline_path.exists():
        done = json.loads(timeline_path.read_text())
        print(f"[{name}] reusing the finished run in {run_dir} (--fresh trains again)")
        if (done["config"], done["common"], done["budget_seconds"]) != (config, common, budget):
            print(f"[{name}] note: that run had other overrides or another budget; see below")
        return done
    overrides = [*config, *common, "num_iters=100000"]  # the budget decides when to stop
    try:
        apply_overrides(default_params("connect_four"), overrides)
    except ParamsError as e:
        print(f"[{name}] skipped: this az_gym lacks one of its options ({e})")
        return None
    snapshots = run_dir / "snapshots"
    snapshots.mkdir(parents=True)
    timeline = {"name": name, "config": config, "common": common, "budget_seconds": budget,
                "cores": os.cpu_count(), "load_before": _load(), "iterations": []}  # fmt: skip

    def on_iteration_end(report) -> None:
        wall = time.perf_counter() - start
        path = snapshots / f"iter-{report.iteration}.pt"
        trainer.best_agent().save(path)
        timeline["iterations"].append(
            {"iteration": report.iteration, "wall_seconds": wall, "snapshot": path.name}
        )
        print(f"[{name}] iteration {report.iteration} at {wall / 60:.1f} min: "
              f"{report.record['summary']}", flush=True)  # fmt: skip
        if wall >= budget:
            raise StopTraining(f"the budget of {budget / 60:g} min is spent")

    start = time.perf_counter()
    trainer = Trainer("connect_four", run_dir=run_dir / "run", overrides=overrides, quiet=True,
                      callbacks={"on_iteration_end": on_iteration_end})  # fmt: skip
    trainer.train()
    timeline["load_after"] = _load()
    timeline_path.write_text(json.dumps(timeline, indent=1))
    return timeline


def _rows(n: int, seed: int) -> list[dict]:
    """The yardstick's labelled positions, ``n`` per stage (the committed set's first ``n``
    when it holds enough, so that nothing needs labelling)."""
    base = strength.positions(max(n, 200) if seed == 0 else n, seed, 20_000_000)
    kept, count = [], dict.fromkeys(strength.STAGES, 0)
    for r in base:
        if count[r["stage"]] < n:
            count[r["stage"]] += 1
            kept.append(r)
    return kept


def measure(run_dir: Path, timeline: dict, wanted: set[str], rows, sims, seed: int) -> dict:
    """``{snapshot: {stage: error}}`` for the ``wanted`` snapshots, cached in
    ``run_dir/strength.json`` (per positions, seed and simulations)."""
    game, path = ConnectFour(), run_dir / "strength.json"
    tag = f"positions={len(rows)},seed={seed},sims={sims}"
    cache = json.loads(path.read_text()) if path.exists() else {}
    done = cache.setdefault(tag, {})
    for snap in sorted(wanted - set(done)):
        spec = str(run_dir / "snapshots" / snap) + (f":{sims}" if sims else "")
        rates = strength.error_rates(make_agent(spec, game, seed=seed), rows, game)
        done[snap] = {stage: r["error"] for stage, r in rates.items()}
        path.write_text(json.dumps(cache, indent=1))
        print(f"[{timeline['name']}] measured {snap}", flush=True)
    return done


def table(timelines: dict[str, dict], out: Path, points: int, rows, sims, seed) -> str:
    """The markdown table: one row per time point, one column per configuration, each cell
    ``begin / middle / end`` error rates in percent and the iteration they come from."""
    budget = max(t["budget_seconds"] for t in timelines.values())
    grid = [budget * k / points for k in range(1, points + 1)]
    picks: dict[str, list[dict | None]] = {}
    for name, tl in timelines.items():
        its = tl["iterations"]
        picks[name] = [next((i for i in reversed(its) if i["wall_seconds"] <= t), None)
                       for t in grid]  # fmt: skip
        wanted = {p["snapshot"] for p in picks[name] if p}
        picks[name + "/errors"] = measure(out / _slug(name), tl, wanted, rows, sims, seed)
    lines = ["| minutes | " + " | ".join(timelines) + " |",
             "|---:|" + "---|" * len(timelines)]  # fmt: skip
    for k, t in enumerate(grid):
        cells = []
        for name in timelines:
            p = picks[name][k]
            if p is None:
                cells.append("-")
                continue
            e = picks[name + "/errors"][p["snapshot"]]
            rates = " / ".join(f"{100 * e[s]:.1f}" for s in strength.STAGES)
            cells.append(f"{rates} (it {p['iteration']})")
        lines.append(f"| {t / 60:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, train what is missing, measure, print the table."""
    ap = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    ap.add_argument("--minutes", type=float, default=40.0, help="wall-clock budget per run")
    ap.add_argument("--config", action="append", default=[], metavar="'NAME: O1; O2'",
                    help="a configuration (replaces the defaults; repeatable)")  # fmt: skip
    ap.add_argument("--only", action="append", default=[], metavar="NAME", choices=CONFIGS,
                    help="train and show only this default configuration (repeatable)")  # fmt: skip
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="an override for every configuration (repeatable)")  # fmt: skip
    ap.add_argument("--out", type=Path, default=Path("runs/compare_search"))
    ap.add_argument("--points", type=int, default=8, help="time points in the table")
    ap.add_argument("--positions", type=int, default=200, help="yardstick positions per stage")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sims", type=int, default=None, help="simulations of every measurement")
    ap.add_argument("--fresh", action="store_true", help="train again over finished runs")
    args = ap.parse_args(argv)
    if args.minutes <= 0 or args.points < 1 or args.positions < 2 or (args.sims or 1) < 1:
        ap.error("--minutes must be > 0, --points >= 1, --positions >= 2, --sims >= 1")
    try:
        configs = dict(map(_parse_config, args.config)) if args.config else dict(CONFIGS)
        if args.only:
            configs = {name: configs[name] for name in CONFIGS if name in args.only}
        apply_overrides(default_params("connect_four"), args.set)
    except (ValueError, ParamsError) as e:
        ap.exit(2, f"compare_search.py: error: {e}\n")
    timelines = {}
    for name, overrides in configs.items():
        run_dir = args.out / _slug(name)
        if args.fresh and (run_dir / "timeline.json").exists():
            shutil.rmtree(run_dir)
        elif run_dir.exists() and not (run_dir / "timeline.json").exists():
            ap.exit(2, f"compare_search.py: error: {run_dir} holds an unfinished run; "
                       "remove it or choose another --out\n")  # fmt: skip
        tl = train(name, overrides, args.set, 60 * args.minutes, run_dir)
        if tl is not None:
            timelines[name] = tl
    if not timelines:
        print("nothing to compare")
        return 1
    rows = _rows(args.positions, args.seed)
    text = table(timelines, args.out, args.points, rows, args.sims, args.seed)
    print(f"\nConnect Four from scratch, {args.minutes:g} min per run on {os.cpu_count()} cores; "
          f"error rate (%) begin / middle / end of the best network by then, "
          f"{len(rows)} solved positions")  # fmt: skip
    commons = {tuple(tl["common"]) for tl in timelines.values()}  # reused runs keep theirs
    if len(commons) == 1 and commons != {()}:
        print(f"- every run: `{'; '.join(next(iter(commons)))}`")
    for name, tl in timelines.items():
        own = tl["config"] + (tl["common"] if len(commons) > 1 else [])
        print(
            f"- {name}: `{'; '.join(own) or 'the tuned file'}` "
            f"(load average {tl['load_before']} before, {tl.get('load_after')} after)"
        )
    print("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
