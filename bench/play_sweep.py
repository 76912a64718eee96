"""Play-time search settings of one AlphaZero agent against one opponent, in one run
(run: ``python bench/play_sweep.py GAME AGENT OPPONENT [--try KEY=VALUE,...]...``).

Each ``--try`` is a set of :class:`~az_gym.mcts_params.MctsParams` changes applied to the
agent's own search (``cpuct=1.5``, ``fpu_reduction=none``, ``root_policy=gumbel``,
``leaves_per_call=1,gamma=0.98``); the agent as loaded is always played first, as the
reference. Every setting plays the same games (same seed, same random openings, colours
alternating), so the differences are the settings', and a deterministic search gives the
same figure on every run. Prints one line per setting: wins / draws / losses, the score
with its 95% Wilson interval, the score by colour, and the seconds.

Example (the sweep in the README's Results)::

    python bench/play_sweep.py gomoku pretrained:400:sym alphabeta:3 --games 100 \\
        --seed 41 --opening-plies 2 --processes 2 --try cpuct=1.5 --try fpu_reduction=0.0
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Any

from az_gym._suggest import did_you_mean
from az_gym.agent_specs import make_agent
from az_gym.agents import AlphaZeroAgent
from az_gym.envs.registry import make_game
from az_gym.evaluation import evaluate
from az_gym.mcts_params import MctsParams
from az_gym.threads import use_inference_threads

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def parse_try(text: str) -> dict[str, Any]:
    """``"cpuct=1.5,fpu_reduction=none"`` as ``{"cpuct": 1.5, "fpu_reduction": None}``
    (TOML values; ``none`` is ``None``; bare words are strings, ``root_policy=gumbel``).

    Raises:
        ValueError: not ``KEY=VALUE`` pairs, or a key that ``MctsParams`` lacks.
    """
    fields = {f.name for f in dataclasses.fields(MctsParams)}
    out: dict[str, Any] = {}
    for item in text.split(","):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key:
            raise ValueError(f"--try {text!r}: {item!r} is not KEY=VALUE")
        if key not in fields:
            close = did_you_mean(key, fields)
            raise ValueError(
                f"--try {text!r}: MctsParams has no field {key!r}"
                + (f" (did you mean {close!r}?)" if close else f"; fields: {sorted(fields)}")
            )
        if value.lower() == "none":
            out[key] = None
            continue
        try:
            out[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = value  # a bare word
    return out


def main(argv: list[str] | None = None) -> int:
    """Play every setting and print its line; 2 with one error line on bad input."""
    p = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    p.add_argument("game", help="registry name, e.g. gomoku")
    p.add_argument("agent", help="an AlphaZero agent spec, e.g. pretrained:400:sym")
    p.add_argument("opponent", help="any agent spec, e.g. alphabeta:3")
    p.add_argument(
        "--try",
        dest="tries",
        action="append",
        default=[],
        metavar="K=V,...",
        help="a setting to play (repeatable); the agent as loaded is always first",
    )
    p.add_argument("--games", type=int, default=100, help="games per setting (default 100)")
    p.add_argument("--seed", type=int, default=41, help="seed of the games (default 41)")
    p.add_argument("--opening-plies", type=int, default=2, help="random plies (default 2)")
    p.add_argument("--processes", type=int, default=2, help="worker processes (default 2)")
    args = p.parse_args(argv)  # fmt: skip
    use_inference_threads()
    try:
        game = make_game(args.game)
        base = make_agent(args.agent, game)
        if not isinstance(base, AlphaZeroAgent):
            raise ValueError(f"{args.agent!r} is not an AlphaZero agent (no search to change)")
        opponent = make_agent(args.opponent, game)
        for name in ("games", "processes"):
            if getattr(args, name) < 1:
                raise ValueError(f"--{name} must be >= 1, not {getattr(args, name)}")
        if args.opening_plies < 0:
            raise ValueError(f"--opening-plies must be >= 0, not {args.opening_plies}")
        settings = [{}] + [parse_try(t) for t in args.tries]
        agents = [
            AlphaZeroAgent(game, base.network, dataclasses.replace(base.params, **s))
            for s in settings
        ]
    except (ValueError, TypeError, OSError) as e:
        print(f"play_sweep: error: {e}", file=sys.stderr)
        return 2
    print(f"{args.agent} vs {args.opponent}, {args.games} games, seed {args.seed}, "
          f"{args.opening_plies}-ply openings")  # fmt: skip
    for setting, agent in zip(settings, agents):
        t0 = time.perf_counter()
        r = evaluate(agent, opponent, game, args.games, seed=args.seed,
                     num_processes=args.processes, opening_plies=args.opening_plies)  # fmt: skip
        lo, hi = r.interval
        first, second = r.per_color
        name = ",".join(f"{k}={v}" for k, v in setting.items()) or "as loaded"
        print(f"{name:40s} +{r.wins} ={r.draws} -{r.losses}  score {r.score:.3f} "
              f"[{lo:.3f}, {hi:.3f}]  first {tuple(first)} second {tuple(second)}  "
              f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
