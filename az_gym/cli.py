"""The ``az-gym`` command: train, play, evaluate, tournament, analyse, bench, list, export,
serve (the web app, :mod:`az_gym.web.serve`).

Agents are named on the command line by spec strings (``alphabeta:4``, ``runs/x:400``...),
listed once in :data:`az_gym.agent_specs.AGENT_SPECS` (``az-gym list`` prints them).
Every user mistake or environment problem ends as one ``az-gym: error: ...`` line on stderr
with exit status 2, never a traceback (see :func:`main`). This module holds the parser and
:func:`main`; the subcommands' handlers live in :mod:`az_gym.cli_commands`.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from az_gym._suggest import did_you_mean
from az_gym.agent_specs import AGENT_HELP, agent_help, make_agent
from az_gym.agents.human import HumanQuit
from az_gym.cli_commands import (
    CliError,
    cmd_analyse,
    cmd_bench,
    cmd_evaluate,
    cmd_export,
    cmd_list,
    cmd_play,
    cmd_tournament,
    cmd_train,
)
from az_gym.training.events import Terminated

__all__ = ["CliError", "build_parser", "main", "make_agent"]


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one ``az-gym: error:`` line, like every other error."""

    commands: dict[str, argparse.ArgumentParser]
    """The top-level parser's subcommand parsers, by name (set by :func:`build_parser`)."""
    words: Sequence[str] = ()
    """What was typed after the command (set by :func:`main` on the command's parser)."""

    def unknown_flags(self) -> list[str]:
        """The ``--flags`` of :attr:`words` that this parser does not take (nor abbreviate)."""
        flags = [s for a in self._actions for s in a.option_strings]
        out = []
        for word in self.words:
            if word == "--":
                break
            name = word.partition("=")[0]
            if word.startswith("--") and not any(f.startswith(name) for f in flags):
                out.append(name)
        return out

    def flag_guesses(self, unknown: Sequence[str]) -> str:
        """``"; did you mean '--resume' for '--reusme'?"`` for each close flag."""
        flags = [s for a in self._actions for s in a.option_strings if s.startswith("--")]
        meant = [(x, did_you_mean(x, flags)) for x in unknown if x.startswith("-")]
        return "".join(f"; did you mean {m!r} for {x!r}?" for x, m in meant if m)

    def error(self, message: str) -> NoReturn:
        """Print ``message`` as one line and exit with status 2 (argparse's hook)."""
        required = "the following arguments are required: "
        unknown = self.unknown_flags()
        if message.startswith(required) and unknown:  # `evaluate --help-me`: the typo first
            message = f"unrecognized arguments: {' '.join(unknown)}{self.flag_guesses(unknown)}"
        elif message.startswith(required):  # argparse names optional lists (moves) there too
            lists = {a.dest for a in self._actions if a.nargs == "*" and not a.option_strings}
            names = [n for n in message.removeprefix(required).split(", ") if n not in lists]
            message = required + ", ".join(names)
        self.exit(2, f"az-gym: error: {message} (see `{self.prog} --help`)\n")


OPENING_HELP = (
    "start each pair of games (colours swapped) after the same N random legal moves, "
    "so that deterministic searches play different games (default 0: the initial position)"
)


def _at_least(low: float, kind: type) -> Any:
    """An argparse type: a ``kind`` number ``>= low`` (ints) or ``> low`` (floats)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if kind is float and not math.isfinite(value):  # inf would run forever
            raise argparse.ArgumentTypeError(f"{text} must be a finite number")
        ok = value >= low if kind is int else value > low
        if not ok:
            rule = f">= {low}" if kind is int else f"> {low}"
            raise argparse.ArgumentTypeError(f"{text} must be {rule}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _version() -> str:
    """``az-gym X (torch Y, pettingzoo Z, Python W)``: what a bug report needs, read from the
    installed packages' metadata (nothing is imported)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from az_gym import __version__

    def installed(dist: str) -> str:
        try:
            return f"{dist} {version(dist)}"
        except PackageNotFoundError:
            return f"no {dist}"

    deps = ", ".join(installed(d) for d in ("torch", "pettingzoo", "gymnasium"))
    return f"az-gym {__version__} ({deps}, Python {platform.python_version()})"


class _PrintVersion(argparse.Action):
    """``--version``: :func:`_version` on one line (argparse's own action wraps it)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        print(_version())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``az-gym`` (every option has help)."""
    p = _Parser(prog="az-gym", description="AlphaZero for PettingZoo / Gymnasium board games.")
    p.add_argument("--version", action=_PrintVersion, help="print the versions and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p.commands = sub.choices  # each command's parser, for errors that name its help
    positive = _at_least(1, int)

    def game_cmd(
        name: str,
        help_: str,
        game_help: str = "game name (see `az-gym list`) or MODULE:FACTORY of a PettingZoo env",
        seed_help: str | None = "random seed, an integer >= 0 (default: fresh entropy each time)",
    ) -> argparse.ArgumentParser:
        """A command taking a game and its options, and ``--seed`` unless ``seed_help`` is
        ``None`` (a command with nothing random)."""
        sp = sub.add_parser(name, help=help_, description=help_.replace("%%", "%"))
        sp.add_argument("game", help=game_help)
        sp.add_argument(
            "-o",
            "--option",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="game option, e.g. size=6 for othello (repeatable)",
        )
        if seed_help is not None:
            sp.add_argument("--seed", type=_at_least(0, int), default=None, help=seed_help)
        return sp

    t = game_cmd(
        "train",
        "train (or resume) an AlphaZero agent",
        "game name (see `az-gym list`) or MODULE:FACTORY of a PettingZoo env "
        "(e.g. pettingzoo.classic.connect_four_v3:env; -o options are its keyword arguments)",
        "seed of the run, an integer >= 0 (default: the parameter file's seed, 0 in the tuned "
        "files; --seed N is --set seed=N)",
    )
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
    t.add_argument(
        "--init-from",
        default=None,
        metavar="AGENT",
        help="start a new run from this network instead of random weights (fine-tuning): "
        "pretrained | RUN_DIR | FILE.pt; it must be the run's network (--set network.*)",
    )
    t.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars nor a line per iteration (errors, warnings, the end of the run "
        "and the run directory still print)",
    )
    t.set_defaults(func=cmd_train)

    pl = game_cmd("play", "play against an agent in the terminal (type 'quit' to stop)")
    pl.add_argument(
        "--opponent",
        default="pretrained",
        help=agent_help(human=False) + " (default: pretrained)",
    )
    side = pl.add_mutually_exclusive_group()
    side.add_argument("--first", action="store_true", help="you move first (default)")
    side.add_argument("--second", action="store_true", help="the agent moves first")
    pl.set_defaults(func=cmd_play)

    ev = game_cmd("evaluate", "duel two agents: wins/draws/losses, score, 95%% interval")
    ev.add_argument("agent_a", help=AGENT_HELP)
    ev.add_argument("agent_b", help=AGENT_HELP)
    ev.add_argument(
        "--games",
        type=positive,
        default=100,
        help="number of games (colours alternate; default 100)",
    )
    ev.add_argument("--processes", type=positive, default=1, help="parallel processes (default 1)")
    ev.add_argument("--opening-plies", type=_at_least(0, int), default=0, metavar="N",
                    help=OPENING_HELP)  # fmt: skip
    ev.add_argument("--out", default=None, help="write the result as JSON to this file")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_evaluate)

    to = game_cmd("tournament", "round robin with an Elo table")
    to.add_argument("agents", nargs="+", help=AGENT_HELP)
    to.add_argument(
        "--games-per-pair", type=positive, default=20, help="games per pair of agents (default 20)"
    )
    to.add_argument("--processes", type=positive, default=1, help="parallel processes (default 1)")
    to.add_argument("--opening-plies", type=_at_least(0, int), default=0, metavar="N",
                    help=OPENING_HELP)  # fmt: skip
    to.add_argument("--out", default=None, help="directory for JSON, CSV and the Elo plot")
    to.add_argument("--quiet", action="store_true", help="no progress bar")
    to.set_defaults(func=cmd_tournament)

    an = game_cmd("analyse", "show an agent's view of a position (AlphaZero: visits, Q, priors)")
    an.add_argument("agent", help=agent_help(analyses=True))
    an.add_argument(
        "moves",
        nargs="*",
        help="moves from the start, by name (e.g. b2 a1) or, where no move has that name, "
        "by action index (as play takes them)",
    )
    an.set_defaults(func=cmd_analyse)

    be_help = "quick speed figures (full benchmarks: bench/*.py)"
    be = sub.add_parser("bench", help=be_help, description=be_help)
    be.add_argument(
        "--seconds", type=_at_least(0, float), default=1.0, help="time per measurement (default 1)"
    )
    be.set_defaults(func=cmd_bench)

    li = sub.add_parser(
        "list", help="list games and agent specs", description="list games and agent specs"
    )
    li.set_defaults(func=cmd_list)

    ex = game_cmd(
        "export",
        "export an agent's network as ONNX (averaged over the symmetries where the agent "
        "averages: ':sym', or a file that stores it)",
        seed_help=None,  # the network's weights, no draw: a --seed would change nothing
    )
    ex.add_argument(
        "agent",
        help="an agent with a network: pretrained[:sym|:nosym] | RUN_DIR[:sym|:nosym] | "
        "FILE.pt[:sym|:nosym] | "
        "network:RUN_DIR|FILE.pt|pretrained",
    )
    ex.add_argument("--out", default="model.onnx", help="output file (default model.onnx)")
    ex.set_defaults(func=cmd_export)

    from az_gym.web.serve import add_serve_command

    add_serve_command(sub, agent_help(human=False), _at_least)
    return p


def _one_line(exc: BaseException) -> str:
    """What a user should read about ``exc``: its message on one line (never empty)."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}"
    elif isinstance(exc, KeyError):
        text = f"no entry named {exc.args[0]!r}" if exc.args else "missing entry"
    elif isinstance(exc, MemoryError):
        text = f"out of memory {exc}".strip()
    else:
        text = str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines) or type(exc).__name__


USER_ERRORS = (ValueError, OSError, KeyError, ImportError, MemoryError)
"""Errors that mean a user mistake or an environment problem (bad spec, file, option,
permission, missing package, no Ray cluster...): one line, exit 2. ``ValueError`` covers the
library's own errors (``GameError``, ``ParamsError``, ``RunDirError``, ``CheckpointError``,
``SpecError``...)."""


def _check_first_word(parser: _Parser, words: list[str]) -> None:
    """Refuse a first word that is neither a command nor a top-level option, saying what was
    meant: the command it misspells, or the command whose option it is (``az-gym --games 3
    evaluate ...``). argparse alone says "invalid choice" or "COMMAND is required"."""
    first = words[0] if words else None
    if first is None or first in (*parser.commands, "-h", "--help", "--version"):
        return
    later = next((w for w in words if w in parser.commands), None)
    if first.startswith("-") and later:
        parser.commands[later].error(
            f"unknown option {first!r}: a command's options go after it "
            f"(az-gym {later} ... {first})"
        )
    from az_gym.envs.registry import available_games

    if first in available_games():  # `az-gym tictactoe`
        parser.error(
            f"unknown command {first!r}: a game comes after a command, e.g. `az-gym play "
            f"{first}` or `az-gym train {first}`"
        )
    options = ("--help", "--version")
    close = did_you_mean(first, options if first.startswith("-") else parser.commands)
    parser.error(
        f"unknown {'option' if first.startswith('-') else 'command'} {first!r}"
        + (f": did you mean {close!r}?" if close else "")
        + f" (the commands: {', '.join(parser.commands)})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``az-gym``: 0 on success, 2 on an error, 130 on Ctrl-C, 143 when
    SIGTERM stops a training (141 when the reader of the output closes the pipe).

    Nothing a user types ends in a traceback: every error is one ``az-gym: error:`` line
    on stderr (anything unexpected is reported as an internal error). ``AZ_GYM_DEBUG=1``
    re-raises instead, for the traceback.
    """
    parser = build_parser()
    words = sys.argv[1:] if argv is None else list(argv)
    try:  # argparse exits (2 on an error, 0 after --help): return that code instead
        _check_first_word(parser, words)
        if words and words[0] in parser.commands:
            parser.commands[words[0]].words = words[1:]  # for its errors (see _Parser.error)
        args, extra = parser.parse_known_args(words)
        if any(not x.startswith("-") for x in extra):  # a list after an option: `analyse
            # GAME AGENT --seed 1 b2 a1` (argparse closes `moves` at the option), reread
            command = parser.commands[args.command]
            args, extra = command.parse_known_intermixed_args(words[1:])
            args.command = words[0]
        if extra:  # name the subcommand's help, which lists what it takes
            command = parser.commands[args.command]
            flags = [x for x in extra if x.startswith("-")]  # `b2 --bogus a1`: a1 is a move
            extra = flags or extra
            command.error(f"unrecognized arguments: {' '.join(extra)}{command.flag_guesses(extra)}")
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 2
    debug = os.environ.get("AZ_GYM_DEBUG", "") not in ("", "0")
    shown = warnings.showwarning
    if not debug:  # one line, as errors are: no source file, line number or code excerpt
        warnings.showwarning = _one_line_warning
    try:
        return int(args.func(args) or 0)
    except HumanQuit:  # 'quit' or Ctrl-D at a human's prompt (play, evaluate human ...)
        print("\ngoodbye (game abandoned)")
        return 0
    except Terminated:  # SIGTERM during training: saved and unlocked, as after Ctrl-C
        if debug:
            raise
        print("\naz-gym: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt as interrupt:
        if debug:
            raise
        if not getattr(interrupt, "reported", False):  # a trainer said what its run kept
            print("\naz-gym: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of the output left (`az-gym list | head -1`): stop quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except USER_ERRORS as exc:
        if debug:
            raise
        print(f"az-gym: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # last resort: an internal error, still one line
        if debug:
            raise
        print(
            f"az-gym: error: internal error: {type(exc).__name__}: {_one_line(exc)} "
            "(set AZ_GYM_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 2
    finally:
        warnings.showwarning = shown


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` for the command line: ``az-gym: warning: MESSAGE``."""
    text = "; ".join(part.strip() for part in str(message).splitlines() if part.strip())
    print(f"az-gym: warning: {text or category.__name__}", file=file or sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
