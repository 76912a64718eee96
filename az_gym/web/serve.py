"""``az-gym serve``: the local web app (play, analyse, watch a run) from the command line.

:func:`add_serve_command` registers the subcommand on ``az-gym``'s parser; :func:`cmd_serve`
builds the games and agents the user named (and nothing else: requests only pick among
them), then serves the app with uvicorn until Ctrl-C. FastAPI and uvicorn are the ``web``
extra; without them the command says so in one ``az-gym: error:`` line.

Defaults, chosen for a first look on a laptop: the four native games on their default boards
(each has a shipped agent for it); agents ``pretrained``, ``alphabeta:4``, ``mcts:400``
and ``random`` (each answers within about two seconds on one core). The server binds the
loopback address unless ``--host`` says otherwise: it runs the agents the user named for
anyone who can reach it, so another address is a deliberate choice, and warned about.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_GAMES = ("tictactoe", "connect_four", "othello", "gomoku")
DEFAULT_AGENTS = ("pretrained", "alphabeta:4", "mcts:400", "random")
WEB_EXTRA = "pip install 'az-gym[web]'"


def add_serve_command(
    sub: Any, agent_help: str, at_least: Callable[[float, type], Any]
) -> argparse.ArgumentParser:
    """Add ``serve`` to the subparsers ``sub`` of ``az-gym`` (``agent_help``: the agent
    argument's help text; ``at_least(low, int)``: the command line's argparse type of an
    integer ``>= low``, so that serve words its number errors as every command does)."""
    help_ = "play, analyse and watch training in the browser (a local web app)"
    sp = sub.add_parser("serve", help=help_, description=help_)
    sp.add_argument(
        "games",
        nargs="*",
        metavar="GAME",
        help="games to offer: a name (see `az-gym list`) or MODULE:FACTORY of a PettingZoo env, "
        "options after commas (othello,size=6); default: " + " ".join(DEFAULT_GAMES),
    )
    sp.add_argument(
        "--agent",
        action="append",
        default=None,
        metavar="SPEC",
        help=f"an opponent to offer (repeatable; default: {' '.join(DEFAULT_AGENTS)}); "
        + agent_help,
    )
    sp.add_argument(
        "--run",
        default=None,
        metavar="RUN_DIR",
        help="a training run: adds a page with its live curves and its best network as an agent",
    )
    sp.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sp.add_argument(
        "--port", type=at_least(0, int), default=8000, help="port (default 8000; 0: a free one)"
    )
    sp.add_argument(
        "--max-games",
        type=at_least(1, int),
        default=200,
        help="games kept in memory (the oldest go first; default 200)",
    )
    sp.add_argument(
        "--seed",
        type=at_least(0, int),
        default=None,
        help="seed of the agents' random streams, an integer >= 0 (default: fresh entropy)",
    )
    sp.set_defaults(func=cmd_serve)
    return sp


def _web_modules() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ImportError(
            f"az-gym serve needs FastAPI and uvicorn ({e.name} is missing): {WEB_EXTRA}"
        ) from None


def _games(texts: list[str]) -> list[Any]:
    """The offered games, ``NAME[,KEY=VALUE...]`` each, built as every command builds one."""
    from az_gym.cli_commands import _game_from_args
    from az_gym.web.players import GameChoice

    out: list[Any] = []
    for text in texts:
        name, *options = text.split(",")
        choice = GameChoice(text, _game_from_args(name, options))
        twice = next((c.label for c in out if c.game.game_id == choice.game.game_id), None)
        if twice is not None:
            raise ValueError(f"game {text!r}: offered twice (as {twice!r} too); name it once")
        out.append(choice)
    return out


def _run_game(run_dir: Path, games: list[Any]) -> int:
    """Index of the run's game in ``games``, appended when it is not offered yet."""
    from az_gym.envs.registry import make_game
    from az_gym.training.run_dir import RunDir
    from az_gym.web.players import GameChoice

    if not run_dir.is_dir():
        what = "is a file, not a run directory" if run_dir.exists() else "no such run directory"
        raise ValueError(f"--run {run_dir}: {what}")
    spec = RunDir(run_dir).stored_game()
    game = make_game(spec.name, **spec.options)
    for i, choice in enumerate(games):
        if choice.game.game_id == game.game_id:
            return i
    label = ",".join([spec.name, *(f"{k}={v}" for k, v in sorted(spec.options.items()))])
    games.append(GameChoice(label, game))
    return len(games) - 1


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the web app until Ctrl-C, the normal way to stop it (exit 0, not 130)."""
    _web_modules()
    import uvicorn

    from az_gym.web.app import ServerConfig, create_app
    from az_gym.web.players import Offer

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port}: must be in 0..65535")
    if args.max_games < 1:
        raise ValueError(f"--max-games {args.max_games}: must be >= 1")
    games = _games(args.games or list(DEFAULT_GAMES))
    specs = list(args.agent or DEFAULT_AGENTS)
    from az_gym.agent_specs import check_distinct

    check_distinct(specs)
    run_dir = Path(args.run) if args.run else None
    run_game = run_agent = None
    if run_dir is not None:
        run_game = _run_game(run_dir, games)
        if args.run not in specs:
            specs.append(args.run)
        run_agent = specs.index(args.run)
    offer = Offer(games, specs, seed=args.seed)
    config = ServerConfig(
        offer=offer, max_sessions=args.max_games, run_dir=run_dir,
        run_game=run_game, run_agent=run_agent,
    )  # fmt: skip
    app = create_app(config)
    if not _loopback(args.host):
        print(
            f"az-gym: warning: serving on {args.host}, not the loopback address: anyone who "
            "can reach it can play and run searches on this machine",
            file=sys.stderr,
        )
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
        sock.listen(2048)  # before the URL is printed: a client that connects at once waits
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}") from None
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    print(f"az-gym serve: http://{shown}:{port}/ (Ctrl-C to stop)", flush=True)
    if run_dir is not None:
        print(f"run page: http://{shown}:{port}/run", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down cleanly, then passes Ctrl-C on
        pass
    print("az-gym serve: stopped")
    return 0
