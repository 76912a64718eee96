"""What the server offers: the games and agents named at start, and one shared agent of each.

Requests name a game or an agent by its *index* in these lists, never by a spec, path or
module: only what the person who started the server typed is ever built (agent specs go
through :func:`az_gym.agent_specs.make_agent`, the command line's one parser of them).

An agent is built once per (game, agent) and shared by every session; its lock makes the
searches of two tabs take turns (an agent keeps search trees and a random stream, which two
threads must not touch at once). An agent spec that names a training run directory plays
that run's *current* best network: before each use the run's committed iteration is read
again (``state.json``, read only) and the agent rebuilt when training has moved on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from az_gym.game import Game


class RequestError(ValueError):
    """A request the server refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class GameChoice:
    """One game the server offers."""

    label: str
    """How the page names it (``"othello,size=6"``: the text typed at start)."""
    game: Game
    """The rules."""


def run_directory(spec: str) -> Path | None:
    """The training run directory an agent spec names (``RUN_DIR`` or ``RUN_DIR:SIMS``),
    else ``None``."""
    head, sep, tail = spec.rpartition(":")
    path = Path(head if sep and tail.isdigit() else spec)
    return path if (path / "state.json").is_file() else None


def _run_iteration(path: Path) -> int | None:
    from az_gym.training.run_dir import RunDir

    state = RunDir(path).read_state()
    return None if state is None else int(state["iteration"])


@dataclass
class _Pooled:
    """One built agent with its lock, and the run iteration it was built from."""

    agent: Any
    iteration: int | None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Offer:
    """The games and agent specs the server was started with, and their shared agents.

    Args:
        games: the games offered (at least one).
        specs: the agent specs offered (at least one), as typed.
        seed: seed of every agent's random stream (``None``: fresh entropy).

    Raises:
        ValueError: an agent spec that builds for none of the games, or a game that none
            of the agents plays (the message gives each reason), or empty lists.
    """

    def __init__(self, games: Sequence[GameChoice], specs: Sequence[str], seed: int | None) -> None:
        from az_gym.agent_specs import make_agent

        if not games or not specs:
            raise ValueError("serve needs at least one game and one agent")
        self.games = list(games)
        self.specs = list(specs)
        self._make = make_agent
        self._seed = seed
        self._pool: dict[tuple[int, int], _Pooled] = {}
        self._refused: dict[tuple[int, int], str] = {}
        self._build_lock = threading.Lock()
        for a, spec in enumerate(self.specs):
            for g in range(len(self.games)):
                try:
                    self._pool[g, a] = self._build(g, a)
                except (ValueError, OSError) as e:  # SpecError, CheckpointError, a foreign net
                    self._refused[g, a] = str(e).splitlines()[0]
            missing = all((g, a) in self._refused for g in range(len(self.games)))
            if missing and run_directory(spec) is None:  # a run may not have a network yet
                reasons: dict[str, list[str]] = {}  # one reason (a bad spec) once, not per game
                for g, c in enumerate(games):
                    reasons.setdefault(self._refused[g, a], []).append(c.label)
                if len(reasons) == 1:
                    raise ValueError(next(iter(reasons)))
                why = "; ".join(f"{', '.join(labels)}: {r}" for r, labels in reasons.items())
                raise ValueError(f"agent {spec!r} plays none of the games ({why})")
        for g, choice in enumerate(self.games):
            pending = any(
                run_directory(s) for a, s in enumerate(self.specs) if (g, a) in self._refused
            )
            if all((g, a) in self._refused for a in range(len(self.specs))) and not pending:
                why = "; ".join(f"{s}: {self._refused[g, a]}" for a, s in enumerate(self.specs))
                raise ValueError(f"no agent offered plays {choice.label} ({why})")

    def _build(self, g: int, a: int) -> _Pooled:
        spec, game = self.specs[a], self.games[g].game
        run = run_directory(spec)
        iteration = _run_iteration(run) if run is not None else None
        return _Pooled(self._make(spec, game, seed=self._seed, human=False), iteration)

    # ----------------------------------------------------------------- lookups
    def game(self, index: Any) -> GameChoice:
        """The offered game of ``index``; a ``RequestError`` (400) for anything else."""
        if isinstance(index, bool) or not isinstance(index, int):
            raise RequestError(f"game must be an index (0..{len(self.games) - 1}), not {index!r}")
        if not 0 <= index < len(self.games):
            raise RequestError(
                f"no game {index}: this server offers games 0..{len(self.games) - 1} "
                f"({', '.join(c.label for c in self.games)})"
            )
        return self.games[index]

    def check_agent(self, game: int, agent: Any) -> str:
        """The spec of agent ``agent`` for game ``game``; ``RequestError`` (400) when the
        index is not an offered agent or the agent cannot play that game."""
        if (
            isinstance(agent, bool)
            or not isinstance(agent, int)
            or not (0 <= agent < len(self.specs))
        ):
            raise RequestError(
                f"no agent {agent!r}: this server offers agents 0..{len(self.specs) - 1} "
                f"({', '.join(self.specs)})"
            )
        if (game, agent) in self._refused and run_directory(self.specs[agent]) is not None:
            with self._build_lock:  # the run may have committed its first network since
                try:
                    self._pool[game, agent] = self._build(game, agent)
                    self._refused.pop((game, agent), None)
                except (ValueError, OSError) as e:
                    self._refused[game, agent] = str(e).splitlines()[0]
        if (game, agent) in self._refused:
            raise RequestError(
                f"agent {self.specs[agent]!r} cannot play {self.games[game].label}: "
                f"{self._refused[game, agent]}"
            )
        return self.specs[agent]

    def describe(self) -> list[dict[str, Any]]:
        """Per game: its label and, per agent, whether it plays it (and why not) and whether
        it can analyse a position (JSON-ready, for the page's menus)."""
        out = []
        for g, choice in enumerate(self.games):
            agents = []
            for a, spec in enumerate(self.specs):
                pooled = self._pool.get((g, a))
                agents.append({
                    "index": a,
                    "label": spec,
                    "available": pooled is not None,
                    "reason": self._refused.get((g, a)),
                    "analyses": pooled is not None and callable(
                        getattr(pooled.agent, "analyse", None)
                    ),
                    "simulations": takes_simulations(pooled.agent) if pooled else False,
                })  # fmt: skip
            out.append({"index": g, "label": choice.label, "agents": agents})
        return out

    # ------------------------------------------------------------------ use
    @contextmanager
    def using(self, game: int, agent: int) -> Iterator[Any]:
        """Hold the shared agent of (``game``, ``agent``) for one search (blocking while
        another session uses it); an agent of a run directory is first brought up to the
        run's committed iteration."""
        self.check_agent(game, agent)
        with self._build_lock:
            pooled = self._pool[game, agent]
            run = run_directory(self.specs[agent])
            try:
                if run is not None and _run_iteration(run) != pooled.iteration:
                    pooled = self._pool[game, agent] = self._build(game, agent)
            except (ValueError, OSError) as e:  # a damaged state.json or checkpoint
                first = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise RequestError(f"the run {run} cannot be read now: {first}", 503) from None
        with pooled.lock:
            yield pooled.agent


def takes_simulations(agent: Any) -> bool:
    """Whether ``agent.analyse`` takes ``num_simulations`` (the tree searches do)."""
    import inspect

    fn = getattr(agent, "analyse", None)
    return callable(fn) and "num_simulations" in inspect.signature(fn).parameters


def timed_move(offer: Offer, game: int, agent: int, state: Any) -> tuple[int, float]:
    """The move the agent chooses in ``state`` and the seconds it thought (lock wait
    excluded)."""
    with offer.using(game, agent) as player:
        t0 = time.perf_counter()
        action = int(player.act_state(offer.games[game].game, state))
        return action, time.perf_counter() - t0
