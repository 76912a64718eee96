"""The handlers of the ``az-gym`` subcommands (train, play, evaluate, tournament, analyse,
bench, list, export) and what they share: the GAME argument with its ``-o`` options, the
``--out`` checks, move replay.

Each handler takes the parsed :class:`argparse.Namespace` and returns the exit status; a
user mistake is a :class:`CliError` (or another ``ValueError``), which :func:`az_gym.cli.main`
prints as one ``az-gym: error:`` line. The parser and ``main`` live in :mod:`az_gym.cli`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from az_gym._suggest import did_you_mean
from az_gym.agent_specs import AGENT_SPECS, check_distinct, make_agent, shipped_agents


class CliError(ValueError):
    """A user mistake the command reports as one ``az-gym: error:`` line (exit 2)."""


def _options(options: Sequence[str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for opt in options:
        key, sep, value = opt.partition("=")
        if not sep or not key:
            raise ValueError(f"game option {opt!r} must look like KEY=VALUE (e.g. size=6)")
        if key in kwargs:  # the last one would win, silently
            raise ValueError(f"game option {key} given twice ({opt} too); give it once")
        kwargs[key] = int(value) if value.lstrip("-").isdigit() else value
    return kwargs


def _game_and_options(name: str, options: Sequence[str]) -> tuple[Any, dict[str, Any]]:
    """What the GAME argument names, with its ``-o KEY=VALUE`` options: a registry name and
    the options, or for ``MODULE:FACTORY`` the imported factory (only what the user typed is
    imported) with the options bound as its keyword arguments."""
    kwargs = _options(options)
    if ":" in name:
        from az_gym.envs.registry import as_game
        from az_gym.training.run_game import import_factory

        factory = import_factory(name, kwargs)
        try:  # built once here: a bad -o or a factory of no env is the user's to fix
            as_game(factory)
        except (TypeError, ValueError) as e:  # no env, or the env refused an option value
            opts = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
            what = "gave no game" if isinstance(e, TypeError) else "failed"
            raise CliError(f"game {name!r}: {name.partition(':')[2]}({opts}) {what}: {e}") from None
        return factory, {}
    from az_gym.envs.registry import available_games

    if name not in available_games():
        hint = _pettingzoo_classic_factory(name)
        close = did_you_mean(name, available_games())
        if "." in name and not hint:  # a module path without its factory
            raise CliError(
                f"unknown game {name!r}: a PettingZoo env is named MODULE:FACTORY, e.g. {name}:env"
            )
        raise CliError(
            f"unknown game {name!r}"
            + (f" (did you mean {close!r}?)" if close else "")
            + f": the native games are {', '.join(available_games())}; "
            "any other PettingZoo board game is named MODULE:FACTORY"
            + (
                f" ({hint} for pettingzoo.classic's {name})"
                if hint
                else " (e.g. pettingzoo.classic.chess_v6:env)"
            )
        )
    return name, kwargs


def _pettingzoo_classic_factory(name: str) -> str | None:
    """``pettingzoo.classic.NAME_vN:env`` when pettingzoo.classic has a module for ``name``
    (``chess``, ``go_v5``), the newest version; found on disk, nothing imported."""
    import importlib.util
    import pkgutil
    import re

    try:
        spec = importlib.util.find_spec("pettingzoo.classic")
    except ImportError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    base = re.sub(r"_v\d+$", "", name.lower())
    versions = [
        (int(m.group(1)), mod.name)
        for mod in pkgutil.iter_modules(spec.submodule_search_locations)
        if (m := re.fullmatch(re.escape(base) + r"_v(\d+)", mod.name))
    ]
    return f"pettingzoo.classic.{max(versions)[1]}:env" if versions else None


def _game_from_args(name: str, options: Sequence[str]) -> Any:
    """The game ``name`` (a registry name or ``MODULE:FACTORY``) with the ``-o KEY=VALUE``
    options (:func:`as_game`: a bad option is a one-line ``ValueError`` naming the game's
    options)."""
    from az_gym.envs.registry import as_game

    game, kwargs = _game_and_options(name, options)
    return as_game(game, **kwargs)


def cmd_train(args: argparse.Namespace) -> int:
    """Train (or resume) a run.

    The game is a registry name or ``MODULE:FACTORY`` (a PettingZoo or Gymnasium env
    factory, imported because the user typed it; ``-o`` options become its keyword
    arguments). On ``--resume`` the game, options and ``--config`` must be the run's (a
    difference is refused, naming both), and ``--set`` changes parameters deliberately.
    """
    from az_gym.training.run_state import RunExistsError

    if args.run_dir is not None and not args.run_dir.strip():  # "" would be "." (new) but
        # the default runs/GAME (resume): refused, as --out '' is
        raise CliError(f"--run-dir {args.run_dir!r}: give a directory name, e.g. runs/mine")
    game, options = _game_and_options(args.game, args.option)
    _check_set_once(args.set)
    if args.seed is not None:
        if any(item.partition("=")[0].strip() == "seed" for item in args.set):
            raise CliError(f"--seed {args.seed} and --set seed=...: give the seed once")
        args.set = [f"seed={args.seed}", *args.set]
    if args.init_from is not None and args.resume:
        raise CliError(
            "--init-from starts a new run; a resumed run continues from its own networks "
            "(drop --resume, or --init-from)"
        )
    try:
        trainer = _train_or_resume(args, game, options)
    except RunExistsError as e:  # the library's advice names Python calls; give the flags
        again = _resume_command(args, e.path)
        if e.iteration >= _recorded_num_iters(e.path):  # complete: --resume alone does nothing
            again += f" --set num_iters={e.iteration + 10}"
        raise CliError(
            f"{e.path} already holds a run at iteration {e.iteration}"
            + ("; --init-from starts a new run only" if args.init_from is not None else "")
            + f": continue it with `{again}`, or choose another --run-dir"
        ) from None
    print(f"run directory: {trainer.run.path}")
    return 0


def _check_set_once(items: Sequence[str]) -> None:
    """Refuse a ``--set`` key given twice (the last would win, silently), as a repeated
    ``-o`` is. The Python API's ``overrides`` keep their documented order instead."""
    seen: dict[str, str] = {}
    for item in items:
        key = item.partition("=")[0].strip()
        if key in seen:
            raise CliError(f"--set {key} given twice ({seen[key]} and {item}); give it once")
        seen[key] = item


def _recorded_num_iters(run_dir: Any) -> float:
    """The ``num_iters`` of a run's ``params.toml`` (read as data), ``inf`` if unreadable."""
    from az_gym.training.params_io import load_params

    try:
        return int(load_params(Path(run_dir) / "params.toml").num_iters)
    except (OSError, ValueError, TypeError):
        return float("inf")


def _resume_command(args: argparse.Namespace, run_dir: Any) -> str:
    """The ``az-gym train`` line that resumes ``run_dir``: the game and ``-o`` options as
    typed, ``--config`` if one was given (a resumed run must have the same), quoted for the
    shell; ``--set`` overrides are left out (the run's parameters are in its directory)."""
    line = ["az-gym", "train", args.game]
    line += [arg for opt in args.option for arg in ("-o", opt)]
    line += ["--config", args.config] if args.config else []
    return shlex.join([*line, "--resume", "--run-dir", str(run_dir)])


def _train_or_resume(args: argparse.Namespace, game: Any, options: dict[str, Any]) -> Any:
    """The trainer of ``cmd_train`` once it has trained or resumed (its Ctrl-C message
    names the command line that resumes it)."""
    from az_gym.training.run_game import resolve_game
    from az_gym.training.trainer import Trainer

    if args.resume:
        # The default is Trainer's: runs/<the game's name>.
        run_dir = args.run_dir or Path("runs") / resolve_game(game, options)[1].name
        trainer = Trainer.from_run_dir(
            run_dir,
            env_or_name=game,
            game_options=options,
            params=args.config,
            overrides=args.set,
            quiet=args.quiet,
        )
        trainer.resume_command = _resume_command(args, trainer.run.path)
        trainer.resume()
    else:
        from az_gym.training.run_dir import RunDir, RunDirError
        from az_gym.training.run_state import RunExistsError

        run_dir = args.run_dir or Path("runs") / resolve_game(game, options)[1].name
        try:  # a started run is refused as such before its parameters are compared with
            done = RunDir(Path(run_dir)).last_iteration()  # these (another network.*, ...)
        except (RunDirError, OSError, ValueError):
            done = 0  # unreadable: Trainer says what is wrong with it
        if done > 0:
            raise RunExistsError("", Path(run_dir), done)
        trainer = Trainer(
            game,
            args.config,
            args.run_dir,
            overrides=args.set,
            quiet=args.quiet,
            game_options=options,
            init_from=args.init_from,
        )
        trainer.resume_command = _resume_command(args, trainer.run.path)
        trainer.train()
    return trainer


def cmd_play(args: argparse.Namespace) -> int:
    """A human against an agent in the terminal; ``quit`` or Ctrl-D leaves (exit 0)."""
    from az_gym.agents import play_against

    game = _game_from_args(args.game, args.option)
    opponent = make_agent(args.opponent, game, seed=args.seed, human=False)
    seat = 1 if args.second else 0
    play_against(game, opponent, seat, opponent_name=args.opponent, seed=args.seed)
    return 0


def _output_file(path: str, example: str = "duel.json") -> Path:
    """Check that ``--out`` can take a file, before any game is played (parents created);
    ``example`` is the file name an error suggests."""
    if not path.strip():
        raise CliError(f"--out {path!r}: give a file name, e.g. {example}")
    out = Path(path)
    if out.is_dir():
        raise CliError(f"--out {path}: is a directory; give a file name, e.g. {out / example}")
    _check_writable(path, out.parent)
    if out.exists() and not os.access(out, os.W_OK):
        raise CliError(f"--out {path}: cannot write there (permission denied)")
    return out


def _output_dir(path: str) -> Path:
    """Check (and create) the ``--out`` directory of a tournament before playing."""
    if not path.strip():
        raise CliError(f"--out {path!r}: give a directory name, e.g. results")
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {path}: exists and is not a directory")
    _check_writable(path, out)
    return out


def _check_writable(path: str, directory: Path) -> None:
    """Make ``directory`` (and its parents) and write and remove a probe file in it, so
    that an ``--out`` that cannot be written is refused before any game is played
    (``os.access`` says yes to root on ``/proc``)."""
    import tempfile

    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".az-gym-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        file = next((p for p in (directory, *directory.parents) if p.is_file()), None)
        why = f"{file} is a file, not a directory" if file is not None else e.strerror or e
        raise CliError(f"--out {path}: cannot write there ({why})") from None


def cmd_evaluate(args: argparse.Namespace) -> int:
    """A duel between two agents, named in the result by their specs."""
    import dataclasses

    from az_gym.evaluation import evaluate

    out = _output_file(args.out) if args.out is not None else None
    game = _game_from_args(args.game, args.option)
    # Without --seed, one is drawn, so that --out records what reproduces the duel.
    seed = args.seed if args.seed is not None else secrets.randbits(31)
    a = make_agent(args.agent_a, game, seed=seed)
    b = make_agent(args.agent_b, game, seed=seed + 1)
    t0 = time.perf_counter()
    result = evaluate(
        a,
        b,
        game,
        args.games,
        seed=seed,
        num_processes=args.processes,
        progress=False if args.quiet else None,
        opening_plies=args.opening_plies,
    )
    result = dataclasses.replace(result, names=(args.agent_a, args.agent_b))
    print(result)
    distinct = result.distinct_games or 0
    if 2 * distinct < result.num_games:
        print(f"note: {result.num_games} games, only {distinct} of them distinct: the players "
              "repeat a few lines, and the score counts those; --opening-plies N starts "
              "each pair of games from its own random opening", file=sys.stderr)  # fmt: skip
    print(f"({time.perf_counter() - t0:.1f} s)")
    if out is not None:
        import json

        record = {"game": game.game_id, "seed": seed, "seconds": time.perf_counter() - t0}
        out.write_text(json.dumps({**record, **result.to_dict()}, indent=2))
    return 0


def cmd_tournament(args: argparse.Namespace) -> int:
    """A round robin with an Elo table (agents named by their specs)."""
    from az_gym.evaluation import tournament

    check_distinct(args.agents)
    out = _output_dir(args.out) if args.out is not None else None
    game = _game_from_args(args.game, args.option)
    players = {spec: make_agent(spec, game, seed=args.seed) for spec in args.agents}
    result = tournament(
        players,
        game,
        args.games_per_pair,
        seed=args.seed,
        num_processes=args.processes,
        progress=False if args.quiet else None,
        opening_plies=args.opening_plies,
    )
    print(result)
    if out is not None:
        result.to_json(out / "tournament.json")
        result.to_csv(out / "tournament.csv")
        result.plot(out / "elo.png")
        print(f"saved to {out}/")
    return 0


def _replay(game: Any, moves: Sequence[str]) -> Any:
    """The position after ``moves`` (names, or indices as ``play`` takes them) from the
    start; a bad move is one clear error."""
    from az_gym.agents.human import text_to_action

    state = game.initial_state()
    for i, text in enumerate(moves):
        before = f"after {' '.join(moves[:i])}" if i else "at the start"
        legal = " ".join(game.action_to_string(a) for a in game.legal_actions(state))
        if game.is_terminal(state):
            raise CliError(f"move {i + 1} {text!r}: the game is already over {before}")
        try:
            action = text_to_action(game, text)
        except ValueError:
            raise CliError(
                f"move {i + 1} {text!r} is not a move of {game.name}; legal moves {before}: {legal}"
            ) from None
        if not game.legal_mask(state)[action]:
            raise CliError(f"move {i + 1} {text!r} is illegal {before}; legal moves: {legal}")
        state = game.next_state(state, action)
    return state


def cmd_analyse(args: argparse.Namespace) -> int:
    """Show an agent's view of a position (the board once, then one row per move)."""
    game = _game_from_args(args.game, args.option)
    state = _replay(game, args.moves)
    if game.is_terminal(state):
        raise CliError(f"the game is over after {' '.join(args.moves)}: nothing to analyse")
    agent = make_agent(args.agent, game, seed=args.seed, analyses=True, human=False)
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
    """List games, agent specs and the games that ship a pre-trained agent."""
    from az_gym.envs.registry import available_games

    print("games: " + ", ".join(available_games()))
    print("agent specs:")
    width = max(len(s.syntax) for s in AGENT_SPECS)
    for spec in AGENT_SPECS:
        print(f"  {spec.syntax:<{width}}  {spec.meaning}")
    print("pre-trained agents ship for: " + ", ".join(shipped_agents()))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export an agent's policy-value network to ONNX."""
    game = _game_from_args(args.game, args.option)
    agent = make_agent(args.agent, game)
    net = getattr(agent, "network", None)  # AlphaZero and network-only agents have one
    if net is None:
        raise CliError(
            f"agent {args.agent!r} has no policy-value network to export; export takes a run "
            "directory, an AlphaZero .pt file, pretrained or network:RUN"
        )
    sims = [p for p in args.agent.split(":")[1:] if p.isdigit()]
    if sims and not Path(args.agent).exists():  # ONNX holds the network; no search to size
        raise CliError(
            f"agent {args.agent!r}: export writes the network, which runs no search, so "
            f"':{sims[0]}' (simulations) would change nothing; drop it"
        )
    out = _output_file(args.out, f"{Path(args.game).name.partition(':')[0]}.onnx")
    if out.exists() and out.suffix.lower() != ".onnx":  # a checkpoint, say: not overwritten
        raise CliError(
            f"--out {args.out}: exists and is not an .onnx file; export writes ONNX, so "
            "choose a name ending in .onnx"
        )
    from az_gym.agents.alphazero import export_onnx
    from az_gym.envs.registry import symmetries_of

    if hasattr(agent, "export_onnx"):  # an AlphaZero agent: it decides ':sym' itself
        agent.export_onnx(out)
    else:  # network-only agents run no search to average
        export_onnx(net, out)
    print(f"wrote {out}")
    params = getattr(agent, "params", None)
    images = len(symmetries_of(game)) if params is not None and params.symmetry_averaging else 1
    if images > 1:  # typed as ':sym', or stored so in the file (the shipped gomoku agent)
        why = (
            "':sym'"
            if args.agent.lower().endswith(":sym")
            else "the agent file stores symmetry averaging"
        )
        print(
            f"note: {why}: the ONNX model averages the network over the game's {images} "
            f"symmetries, as the search does ({images} times the work per position; "
            "':nosym' exports the plain network)",
            file=sys.stderr,
        )
    return 0
