"""Agent specs: the names the command line gives agents, listed once and parsed here.

A spec is a short string such as ``alphabeta:4`` or ``runs/connect_four:400``. The table
:data:`AGENT_SPECS` is the one list of them: ``az-gym list``, every ``--help`` that takes an
agent and the README's pointer all come from it, and :func:`make_agent` builds each kind.
This module belongs to the command-line layer (beside ``cli.py``): it imports the agents,
nothing below imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from az_gym._suggest import did_you_mean
from az_gym.game import Game
from az_gym.mcts_params import MAX_SIMULATIONS, PLAY_LEAVES_PER_CALL


class SpecError(ValueError):
    """An agent spec that names no agent, or one that cannot be built for the game."""


class AgentSpec(NamedTuple):
    """One kind of agent spec: its syntax and what it builds."""

    syntax: str
    """How it is written, e.g. ``alphabeta[:DEPTH]``."""
    meaning: str
    """What it builds, one line."""
    analyses: bool = True
    """Whether ``az-gym analyse`` can show its view of a position."""


AGENT_SPECS: tuple[AgentSpec, ...] = (
    AgentSpec("random", "a uniformly random legal move"),
    AgentSpec("one_step", "wins at once when it can, else avoids moves that lose at once"),
    AgentSpec("alphabeta[:DEPTH]", "alpha-beta, DEPTH plies (default 5; tictactoe: solved)"),
    AgentSpec("mcts[:SIMS]", "MCTS with random rollouts, SIMS simulations a move (default 1000)"),
    AgentSpec("human", "you, at the terminal", analyses=False),
    AgentSpec(
        "RUN_DIR[:SIMS][:sym]",
        "AlphaZero: a run's best network (SIMS: simulations a move; sym: averaged over "
        "the game's symmetries, nosym: not, where the file stores sym)",
    ),
    AgentSpec("FILE.pt[:SIMS][:sym]", "AlphaZero: an agent checkpoint (AlphaZeroAgent.save)"),
    AgentSpec("pretrained[:SIMS][:sym]", "AlphaZero: the agent shipped for the game, if any"),
    AgentSpec(
        "network:RUN_DIR|FILE.pt|pretrained", "an AlphaZero network's policy head alone, no search"
    ),
    AgentSpec("dqn:FILE.pt", "a DQN agent (DQNAgent.save)", analyses=False),
)
"""Every agent spec the command line understands (one list; keep :func:`make_agent` in step)."""


def offered_specs(*, analyses: bool = False, human: bool = True) -> list[str]:
    """The syntaxes of the specs a command takes: with ``analyses``, those ``az-gym
    analyse`` can show; without ``human``, no ``human`` (where the user is the human)."""
    return [
        s.syntax
        for s in AGENT_SPECS
        if (s.analyses or not analyses) and (human or s.syntax != "human")
    ]


def agent_help(*, analyses: bool = False, human: bool = True) -> str:
    """The one-line ``--help`` text of an agent argument: the specs a command takes (see
    :func:`offered_specs`)."""
    kinds = offered_specs(analyses=analyses, human=human)
    return "agent spec: " + " | ".join(kinds) + " (see `az-gym list`)"


AGENT_HELP = agent_help()
"""The help of an agent argument that takes every spec (``evaluate``, ``tournament``)."""


def shipped_agents() -> list[str]:
    """The games that ship a pre-trained agent in the package (``pretrained`` spec), those
    with agents for other options named with them: ``othello (also -o size=6)``."""
    from az_gym.agents.shipped import available_pretrained, shipped_variants

    out = []
    for name in available_pretrained():
        extra = [v.partition("@")[2] for v in shipped_variants() if v.startswith(f"{name}@")]
        also = " or ".join(" ".join(f"-o {o}" for o in e.split(",")) for e in extra)
        out.append(f"{name} (also {also})" if also else name)
    return out


def _pretrained_path(game: Game) -> Path:
    from az_gym.agents.shipped import pretrained_path_for
    from az_gym.checkpoint_format import read_checkpoint
    from az_gym.envs.registry import same_game

    ships = f"(games with one: {', '.join(shipped_agents())}); pass a run directory or a .pt file"
    try:
        path = pretrained_path_for(game)
    except ValueError:
        raise SpecError(f"no pre-trained agent ships for {game.name} {ships}") from None
    trained = read_checkpoint(path)["game_id"]
    if not same_game(trained, game):  # the game's main file, made for other options
        raise SpecError(
            f"no pre-trained agent ships for {game.game_id[:80]}: the shipped {game.name} "
            f"agent plays {trained} only {ships}"
        )
    return path


_PLAY = {"leaves_per_call": PLAY_LEAVES_PER_CALL}
"""How the AlphaZero agents of the specs search: each plays one game at a time, so it gathers
leaves per network call (:data:`~az_gym.mcts_params.PLAY_LEAVES_PER_CALL`)."""


def _run_agent(run_dir: Path, game: Game, symmetry_averaging: bool | None = None) -> Any:
    """The AlphaZero agent of a run directory's best network.

    A training run (it has ``state.json``) is read through its reader
    (:meth:`~az_gym.training.run_dir.RunDir.load_artifact`): the ``best.pt`` of the committed
    iteration, else the previous iteration's copy with a warning naming the files, never the
    top-level copies, which a crash or a careless hand may have left behind (reads never
    write). A directory without ``state.json`` (agent files put in a folder) gives its
    ``best_agent.pt`` or ``best.pt``. ``symmetry_averaging`` replaces the stored setting
    (``None``: keep it).
    """
    from az_gym.agents import AlphaZeroAgent  # torch: only once the directory is known

    play = {**_PLAY, "symmetry_averaging": symmetry_averaging}

    if (run_dir / "state.json").exists():
        from az_gym.checkpoint_format import read_checkpoint
        from az_gym.training.run_dir import RunDir

        run = RunDir(run_dir)
        state = run.read_state()
        if state is not None:
            ckpt = run.load_artifact("best.pt", read_checkpoint, state)
            return AlphaZeroAgent.from_checkpoint(ckpt, run_dir / "best.pt", game, **play)
    for name in ("best_agent.pt", "best.pt"):
        if (run_dir / name).exists():
            return AlphaZeroAgent.load(run_dir / name, game, **play)
    raise SpecError(
        f"{str(run_dir)!r} holds no network (no best_agent.pt nor best.pt): "
        "not a training run, or one that has not finished its first iteration"
    )


def _count(
    spec: str,
    arg: str,
    what: str,
    top: int | None = None,
    why: str = "on the command line (a move could take hours); a larger search is built in Python",
) -> int:
    """The positive integer after the colon of ``spec``, at most ``top`` (``why``: the
    reason for the bound, in the message)."""
    if not arg.isdigit() or int(arg) < 1:
        raise SpecError(f"agent {spec!r}: {what} must be a whole number >= 1, not {arg!r}")
    if top is not None and int(arg) > top:
        raise SpecError(f"agent {spec!r}: {what} is at most {top} {why}")
    return int(arg)


_KINDS = ("random", "one_step", "alphabeta", "mcts", "human", "pretrained", "network", "dqn")
"""The spec keywords, for "did you mean" on a misspelt one."""


def canonical_spec(spec: str) -> str:
    """``spec`` as :func:`make_agent` reads it, for telling specs apart: keyword kinds in
    lower case under their main name (``RANDOM``, ``Alpha-Beta:3`` and ``rollout_mcts`` are
    ``random``, ``alphabeta:3`` and ``mcts``); paths as written (file names are
    case-sensitive), the one after ``network:`` or ``dqn:`` too."""
    kind, colon, arg = spec.partition(":")
    key = kind.lower().replace("-", "_")
    key = {"alpha_beta": "alphabeta", "rollout_mcts": "mcts"}.get(key, key)
    if key not in _KINDS:
        return spec
    return f"{key}{colon}{arg if key in ('network', 'dqn') else arg.lower()}"


def check_distinct(specs: list[str]) -> None:
    """Refuse a list of specs that names one agent twice (``random RANDOM``), as a
    tournament or a server would hold two copies of it under two names.

    Raises:
        SpecError: names the specs.
    """
    keys = [canonical_spec(spec) for spec in specs]
    twice = sorted({s for s, k in zip(specs, keys, strict=True) if keys.count(k) > 1})
    if twice:
        raise SpecError(f"each agent once, please: {', '.join(twice)} (one agent named twice)")


def _unknown(spec: str, offered: list[str]) -> SpecError:
    kinds = ", ".join(offered)
    kind, colon, rest = spec.partition(":")
    words = [k for k in _KINDS if any(o.startswith(k) for o in offered)]
    close = did_you_mean(kind, words) if "/" not in kind else None
    if close == kind.lower():  # the keyword is right (network:nope): its path is what is wrong
        close = None
    guess = f"did you mean {close + colon + rest!r}? " if close else ""
    return SpecError(
        f"unknown agent {spec!r}: not an agent name nor an existing file or directory "
        f"({guess}agent specs: {kinds})"
    )


_SYM = ("sym", "nosym")
"""The spec words that turn symmetry averaging on or off."""


def _alphazero(
    spec: str, target: str, game: Game, offered: list[str], network: bool = False
) -> Any:
    """The AlphaZero agent of ``target`` (``PATH[:SIMS][:sym]`` or ``pretrained[:SIMS][:sym]``).

    A trailing ``:400`` is a budget and a trailing ``:sym`` turns on
    :attr:`~az_gym.mcts_params.MctsParams.symmetry_averaging` (``:nosym`` turns it off
    where the file stores it on; either order); other colons belong to the path.
    """
    sims: int | None = None
    sym: bool | None = None
    while not Path(target).exists():  # strip the trailing ':SIMS' and ':sym' / ':nosym'
        head, sep, tail = target.rpartition(":")
        word = tail.lower()
        if not sep or not (tail.lstrip("+-").isdigit() or word in _SYM):
            break
        if (sims if tail.lstrip("+-").isdigit() else sym) is not None:
            what = "':SIMS'" if tail.lstrip("+-").isdigit() else "':sym' or ':nosym'"
            raise SpecError(f"agent {spec!r}: {what} given twice (e.g. pretrained:400:sym)")
        if word in _SYM:
            target, sym = head, word == "sym"
        else:
            bound = "(MctsParams.num_iters_per_turn's bound)"
            target, sims = head, _count(spec, tail, "SIMS", MAX_SIMULATIONS, bound)
    tail = target.rpartition(":")[2]
    close = did_you_mean(tail.lower(), _SYM) if ":" in target else None
    if close and not Path(target).exists():
        raise SpecError(f"agent {spec!r}: no option {tail!r} (did you mean ':{close}'?)")
    head = target.partition(":")[0]
    named = head.lower() == "pretrained" or Path(head).exists()  # the part before the options
    if named and target != head and not Path(target).exists():
        raise SpecError(
            f"agent {spec!r}: {head} takes ':SIMS' and ':sym' or ':nosym' "
            f"(e.g. {head}:400:sym), not {target[len(head) + 1 :]!r}"
        )
    path = _pretrained_path(game) if target.lower() == "pretrained" else Path(target)
    if path.is_dir():
        agent = _run_agent(path, game, sym)
    elif not path.exists() and network:  # network:PATH
        raise SpecError(f"agent {spec!r}: no run directory or .pt file {target!r}")
    elif not path.exists():
        raise _unknown(spec, offered)
    else:
        from az_gym.agents import AlphaZeroAgent  # torch: only once the file is known to exist

        agent = AlphaZeroAgent.load(path, game, **_PLAY, symmetry_averaging=sym)
    return agent if sims is None else agent.with_simulations(sims)


_NO_SEARCH = frozenset(
    {"random", "one_step", "human", "alphabeta", "alpha_beta", "mcts", "rollout_mcts", "dqn"}
)
"""The spec kinds with no AlphaZero search, so no ``:sym``."""


def make_agent(
    spec: str,
    game: Game,
    *,
    seed: int | None = None,
    analyses: bool = False,
    human: bool = True,
) -> Any:
    """Build the agent that ``spec`` names (see :data:`AGENT_SPECS`) to play ``game``.

    Args:
        spec: the spec as typed (keyword kinds are case-insensitive).
        game: the game it will play; agents made for another game are refused here.
        seed: seed of the agent's random stream.
        analyses: only agents that can analyse a position (``az-gym analyse``).
        human: whether ``human`` is taken (not where the user already is the human:
            ``play``, ``serve``). Errors list the specs these two leave.

    Raises:
        SpecError: an unknown spec or a bad number in it; ``ValueError`` (from the loaders)
            for an unreadable or foreign checkpoint.
    """
    from az_gym import agents

    offered = offered_specs(analyses=analyses, human=human)
    if not spec.strip():  # Path("") is ".", which would be read as a run directory
        raise SpecError(f"agent {spec!r} is empty; agent specs: {', '.join(offered)}")
    kind, colon, arg = spec.partition(":")
    kind = kind.lower().replace("-", "_")
    if analyses and kind in ("human", "dqn"):
        raise SpecError(
            f"agent {spec!r} cannot analyse a position; these can: {', '.join(offered)}"
        )
    if kind == "human" and not human:
        raise SpecError(
            f"agent {spec!r}: you are the human here; name an agent to play against "
            f"({', '.join(offered)})"
        )
    if kind in _NO_SEARCH and any(part.lower() in _SYM for part in arg.split(":")):
        raise SpecError(
            f"agent {spec!r}: ':sym' averages an AlphaZero search over the game's symmetries "
            f"(pretrained, RUN_DIR, FILE.pt); {kind} runs no such search"
        )
    simple = {"random": agents.RandomAgent, "one_step": agents.OneStepLookaheadAgent}
    if kind in simple or kind == "human":
        if colon:
            raise SpecError(f"agent {spec!r}: {kind} takes no ':' argument")
        return agents.HumanAgent() if kind == "human" else simple[kind](seed=seed)
    if kind in ("alphabeta", "alpha_beta"):
        from az_gym.agents.alphabeta import MAX_UNTRUSTED_DEPTH

        depth = _count(spec, arg, "DEPTH", MAX_UNTRUSTED_DEPTH) if colon else 5
        return agents.AlphaBetaAgent(depth=depth, seed=seed)
    if kind in ("mcts", "rollout_mcts"):
        from az_gym.agents.rollout_mcts import MAX_UNTRUSTED_SIMULATIONS

        sims = _count(spec, arg, "SIMS", MAX_UNTRUSTED_SIMULATIONS) if colon else 1000
        return agents.MctsRolloutAgent(num_simulations=sims, seed=seed)
    if kind == "dqn" and colon:
        if not Path(arg).is_file():
            is_dir = Path(arg).is_dir()
            what = f"{arg!r} is a directory, not a DQN file" if is_dir else f"no file {arg!r}"
            raise SpecError(f"agent {spec!r}: {what}")
        try:
            agent = agents.DQNAgent.load(arg, game)
        except ValueError as e:  # the loader's messages name the method, not the spec
            why = str(e).removeprefix("DQNAgent.load: ")
            if "AlphaZeroAgent.load reads it" in why:
                why += f"; as an agent spec: {arg} without 'dqn:'"
            raise SpecError(f"agent {spec!r}: {why}") from None
    elif kind == "network" and colon:
        if any(part.lower() in _SYM for part in arg.split(":")[1:]):
            raise SpecError(
                f"agent {spec!r}: ':sym' averages a search's network; the network agent "
                "plays its policy head alone, without search"
            )
        head, sep, tail = arg.rpartition(":")
        if sep and tail.isdigit() and not Path(arg).exists():
            raise SpecError(
                f"agent {spec!r}: the network agent runs no search, so it takes no "
                f"simulations (network:{head})"
            )
        if not arg or arg in (".", "./"):
            raise SpecError(f"agent {spec!r}: name a run directory or a .pt file after network:")
        agent = agents.NetworkOnlyAgent(
            _alphazero(spec, arg, game, offered, network=True), seed=seed
        )
    else:
        agent = _alphazero(spec, spec, game, offered)
    agent.check_game(game)
    return agent
