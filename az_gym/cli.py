"""The ``az-gym`` command: train, play, evaluate, tournament, analyse, bench, list, export.

Agents are named on the command line by a spec string (see :func:`make_agent`):
``random``, ``one_step``, ``alphabeta[:DEPTH]``, ``mcts[:SIMS]``, ``human``, a training run
directory or an ``.pt`` checkpoint of an AlphaZero agent (``RUN[:SIMS]``), ``dqn:PATH``,
``network:RUN`` (policy head only) and ``pretrained`` (the agent shipped in the package).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

AGENT_HELP = (
    "agent spec: random | one_step | alphabeta[:DEPTH] | mcts[:SIMS] | human | "
    "RUN_DIR or FILE.pt (AlphaZero, optional :SIMS) | network:RUN | dqn:FILE.pt | pretrained"
)


def _split_spec(spec: str) -> tuple[str, str | None]:
    # "C:\\x" never happens here; split on the last colon only when a number follows.
    head, sep, tail = spec.rpartition(":")
    if sep and tail.isdigit():
        return head, tail
    return spec, None


def _pretrained_path(game_name: str) -> Path:
    from importlib import resources

    path = Path(str(resources.files("az_gym") / "pretrained" / f"{game_name}.pt"))
    if not path.exists():
        raise SystemExit(f"no pre-trained agent ships for {game_name!r} (looked for {path})")
    return path


def make_agent(spec: str, game: Any, *, seed: int | None = None) -> Any:
    """Build an agent for ``game`` from a command-line spec (see the module docstring)."""
    from az_gym import agents

    low = spec.lower()
    if low == "random":
        return agents.RandomAgent(seed=seed)
    if low in ("one_step", "onestep", "one-step"):
        return agents.OneStepLookaheadAgent(seed=seed)
    if low == "human":
        return agents.HumanAgent()
    name, arg = _split_spec(spec)
    if name.lower() in ("alphabeta", "alpha_beta", "alpha-beta"):
        return agents.AlphaBetaAgent(depth=int(arg or 5), seed=seed)
    if name.lower() in ("mcts", "rollout", "rollout_mcts"):
        return agents.MctsRolloutAgent(num_simulations=int(arg or 1000), seed=seed)
    if name.lower().startswith("dqn:"):
        return agents.DQNAgent.load(name[4:])
    network_only = name.lower().startswith("network:")
    if network_only:
        name = name[len("network:") :]
    path = _pretrained_path(game.name) if name.lower() == "pretrained" else Path(name)
    if path.is_dir():
        path = _checkpoint_in_run(path)
    if not path.exists():
        raise SystemExit(
            f"unknown agent {spec!r}: not a known name nor an existing path.\n{AGENT_HELP}"
        )
    agent = agents.AlphaZeroAgent.load(path, game)
    if network_only:
        return agents.NetworkOnlyAgent(agent, seed=seed)
    if arg is not None:
        agent = agent.with_simulations(int(arg))
    return agent


def _checkpoint_in_run(run_dir: Path) -> Path:
    """The best network of a run directory (an agent file, or the run's best.pt)."""
    for name in ("best_agent.pt", "best.pt"):
        if (run_dir / name).exists():
            return run_dir / name
    raise SystemExit(f"{run_dir} holds no best_agent.pt nor best.pt")


def _options(options: Sequence[str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for opt in options:
        key, sep, value = opt.partition("=")
        if not sep or not key:
            raise ValueError(f"game option {opt!r} must look like KEY=VALUE (e.g. size=6)")
        kwargs[key] = int(value) if value.lstrip("-").isdigit() else value
    return kwargs


def _game_from_args(name: str, options: Sequence[str]) -> Any:
    from az_gym.envs.registry import make_game

    return make_game(name, **_options(options))


# ---------------------------------------------------------------------------- commands
def cmd_train(args: argparse.Namespace) -> int:
    """Train (or resume) a run."""
    from az_gym.training.trainer import Trainer

    run_dir = Path(args.run_dir or f"runs/{args.game}")
    if args.seed is not None:
        args.set = [f"seed={args.seed}", *args.set]
    if args.resume:
        trainer = Trainer.from_run_dir(run_dir, overrides=args.set, quiet=args.quiet)
        trainer.resume()
    else:
        trainer = Trainer(
            args.game,
            args.config,
            run_dir,
            overrides=args.set,
            quiet=args.quiet,
            game_options=_options(args.option),
        )
        trainer.train()
    print(f"run directory: {run_dir}")
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    """A human against an agent in the terminal."""
    from az_gym.agents import HumanAgent
    from az_gym.evaluation import play_game

    game = _game_from_args(args.game, args.option)
    opponent = make_agent(args.opponent, game, seed=args.seed)
    human = HumanAgent()
    seats = [human, opponent] if not args.second else [opponent, human]
    returns, _ = play_game(game, seats, seed=args.seed, verbose=True)
    me = 0 if not args.second else 1
    r = returns[me]
    print("You win!" if r > 0 else "You lose." if r < 0 else "Draw.")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """A duel between two agents."""
    from az_gym.evaluation import evaluate

    game = _game_from_args(args.game, args.option)
    a = make_agent(args.agent_a, game, seed=args.seed)
    b = make_agent(args.agent_b, game, seed=None if args.seed is None else args.seed + 1)
    t0 = time.perf_counter()
    result = evaluate(
        a,
        b,
        game,
        args.games,
        seed=args.seed,
        num_processes=args.processes,
        progress=False if args.quiet else None,
    )
    print(result)
    print(f"({time.perf_counter() - t0:.1f} s)")
    if args.out:
        import json

        Path(args.out).write_text(json.dumps(result.to_dict(), indent=2))
    return 0


def cmd_tournament(args: argparse.Namespace) -> int:
    """A round robin with an Elo table."""
    from az_gym.evaluation import tournament

    game = _game_from_args(args.game, args.option)
    players = {spec: make_agent(spec, game, seed=args.seed) for spec in args.agents}
    result = tournament(
        players,
        game,
        args.games_per_pair,
        seed=args.seed,
        num_processes=args.processes,
        progress=False if args.quiet else None,
    )
    print(result)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        result.to_json(out / "tournament.json")
        result.to_csv(out / "tournament.csv")
        result.plot(out / "elo.png")
        print(f"saved to {out}/")
    return 0


def cmd_analyse(args: argparse.Namespace) -> int:
    """Show an agent's view of a position."""
    game = _game_from_args(args.game, args.option)
    agent = make_agent(args.agent, game, seed=args.seed)
    state = game.initial_state()
    for move in args.moves:
        state = game.step(state, game.string_to_action(move))
    print(game.render(state))
    print(agent.analyse((game, state)))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Quick speed figures of this install (the full benchmarks live in bench/)."""
    import numpy as np

    from az_gym.envs.registry import available_games, make_game
    from az_gym.evaluators import UniformEvaluator
    from az_gym.mcts import BatchedMcts, MctsParams

    rng = np.random.default_rng(0)
    print(f"{'game':<14}{'random steps/s':>16}{'uniform sims/s (B=64)':>24}")
    for name in available_games():
        game = make_game(name)
        steps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            s = game.initial_state()
            while not game.is_terminal(s):
                s = game.next_state(s, int(rng.choice(np.flatnonzero(game.legal_mask(s)))))
                steps += 1
        rate = steps / (time.perf_counter() - t0)
        mcts = BatchedMcts(game, UniformEvaluator(), MctsParams(num_iters_per_turn=64), rng=rng)
        mcts.search([game.initial_state()] * 64, num_simulations=8)  # warm-up (numba cache)
        mcts.reset()
        t0 = time.perf_counter()
        mcts.search([game.initial_state()] * 64)
        sims = 64 * 64 / (time.perf_counter() - t0)
        print(f"{name:<14}{rate:>16,.0f}{sims:>24,.0f}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List games and agent specs."""
    from az_gym.envs.registry import available_games

    print("games:  " + ", ".join(available_games()))
    print("agents: " + AGENT_HELP.removeprefix("agent spec: "))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export an agent's network to ONNX."""
    game = _game_from_args(args.game, args.option)
    agent = make_agent(args.agent, game)
    agent.export_onnx(args.out)
    print(f"wrote {args.out}")
    return 0


# ------------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``az-gym`` (every option has help)."""
    p = argparse.ArgumentParser(
        prog="az-gym", description="AlphaZero for PettingZoo / Gymnasium board games."
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def game_cmd(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("game", help="game name (see `az-gym list`)")
        sp.add_argument(
            "-o",
            "--option",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="game option, e.g. size=6 for othello (repeatable)",
        )
        sp.add_argument("--seed", type=int, default=None, help="random seed")
        return sp

    t = game_cmd("train", "train (or resume) an AlphaZero agent")
    t.add_argument(
        "--config", default=None, help="parameter file (TOML); default: the game's tuned file"
    )
    t.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter, e.g. --set self_play.sim.num_games=100 (repeatable)",
    )
    t.add_argument("--run-dir", default=None, help="run directory (default runs/GAME)")
    t.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.set_defaults(func=cmd_train)

    pl = game_cmd("play", "play against an agent in the terminal")
    pl.add_argument("--opponent", default="pretrained", help=AGENT_HELP)
    side = pl.add_mutually_exclusive_group()
    side.add_argument("--first", action="store_true", help="you move first (default)")
    side.add_argument("--second", action="store_true", help="the agent moves first")
    pl.set_defaults(func=cmd_play)

    ev = game_cmd("evaluate", "duel two agents: wins/draws/losses, score, 95% interval")
    ev.add_argument("agent_a", help=AGENT_HELP)
    ev.add_argument("agent_b", help=AGENT_HELP)
    ev.add_argument("--games", type=int, default=100, help="number of games (colours alternate)")
    ev.add_argument("--processes", type=int, default=1, help="parallel processes")
    ev.add_argument("--out", default=None, help="write the result as JSON here")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_evaluate)

    to = game_cmd("tournament", "round robin with an Elo table")
    to.add_argument("agents", nargs="+", help=AGENT_HELP)
    to.add_argument("--games-per-pair", type=int, default=20, help="games per pair of agents")
    to.add_argument("--processes", type=int, default=1, help="parallel processes")
    to.add_argument("--out", default=None, help="directory for JSON, CSV and the Elo plot")
    to.add_argument("--quiet", action="store_true", help="no progress bar")
    to.set_defaults(func=cmd_tournament)

    an = game_cmd("analyse", "show an agent's view of a position: visits, Q, priors, value")
    an.add_argument("agent", help=AGENT_HELP)
    an.add_argument("moves", nargs="*", help="moves from the start, by name (e.g. 4 4 3)")
    an.set_defaults(func=cmd_analyse)

    be = sub.add_parser("bench", help="quick speed figures (full benchmarks: bench/*.py)")
    be.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    be.set_defaults(func=cmd_bench)

    li = sub.add_parser("list", help="list games and agent specs")
    li.set_defaults(func=cmd_list)

    ex = game_cmd("export", "export an agent's network as ONNX")
    ex.add_argument("agent", help=AGENT_HELP)
    ex.add_argument("--out", default="model.onnx", help="output file")
    ex.set_defaults(func=cmd_export)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``az-gym`` command."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as exc:
        print(f"az-gym: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
