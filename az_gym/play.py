"""Playing games: one between agents seated by player index (:func:`play_game`), and many
on a worker pool (:func:`run_games`), for :mod:`az_gym.evaluation`'s duels and tournaments.

:func:`run_games` splits the games into a few jobs per worker (:class:`DuelGames`, a
:class:`~az_gym.workers.SharedJob`) on a :class:`~az_gym.workers.LocalPool` of
``num_processes`` processes of the ``spawn`` context, or on the pool it is given (a trainer's
Ray actors). Locally the game and the agents are pickled with each job, so they must be
picklable (every az_gym agent is, except :class:`~az_gym.agents.HumanAgent` with the default
``input``); a Ray pool puts them in its object store once. Workers run torch on one thread
(:mod:`az_gym.threads`) and start as :mod:`az_gym._procs` describes (an agent class defined
in a notebook or on stdin makes the games run in this process, with a warning). Each game's
seed is fixed by the caller, so results do not depend on the pool.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from az_gym._procs import MAX_PROCESSES_PER_CORE, available_cores, main_references, max_processes
from az_gym._seeds import check_seed
from az_gym.agents.base import Agent
from az_gym.game import Game, State, random_moves
from az_gym.workers import LocalPool, WorkerPool

Seed = int | np.random.SeedSequence | None
"""A root seed: an int, a ``SeedSequence``, or ``None`` (fresh entropy)."""


class Task(NamedTuple):
    """One game to play: ``seats[p]`` is the index of player ``p``'s agent, ``seed`` the
    root of the agents' seeds, ``opening`` moves played from the start before the agents
    take over (a plain ``(seats, seed)`` pair is a task without opening)."""

    seats: tuple[int, ...]
    seed: np.random.SeedSequence
    opening: tuple[int, ...] = ()


def seed_sequence(seed: Seed) -> np.random.SeedSequence:
    """``seed`` as a SeedSequence (``None``: fresh entropy).

    Raises:
        ValueError: a negative or non-integer seed (see :func:`check_seed`).
    """
    check_seed(seed)
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)


class GameRecord(NamedTuple):
    """A finished game: ``float[num_players]`` returns and the actions played."""

    returns: np.ndarray
    moves: list[int]


def play_game(
    game: Game,
    agents: Sequence[Agent],
    seed: Seed = None,
    state: State | None = None,
    opening: Sequence[int] = (),
    *,
    verbose: bool = False,
    output_fn: Callable[[str], object] = print,
) -> GameRecord:
    """Play one game; ``agents[p]`` moves for player ``p``.

    Every agent is ``reset()``, then ``reseed``-ed from ``seed`` (one child seed per seat)
    when ``seed`` is not ``None``. Each move is validated with :meth:`Game.step`.

    Args:
        game: the rules.
        agents: one agent per player.
        seed: root of the agents' seeds (``None``: leave their streams as they are).
        state: start position (default ``game.initial_state()``).
        opening: moves played from ``state`` before the agents move (each validated); they
            start the record's ``moves``.
        verbose: report each move and the final position through ``output_fn``.
        output_fn: where ``verbose`` messages go.

    Returns:
        :class:`GameRecord` ``(returns, moves)``; unpacks as a tuple.

    Raises:
        ValueError: not one agent per player.
        IllegalActionError: an agent returned an illegal move, or an opening move is.
    """
    if len(agents) != game.num_players:
        raise ValueError(f"{game.name} needs {game.num_players} agents, got {len(agents)}")
    children = seed_sequence(seed).spawn(len(agents)) if seed is not None else None
    for p, agent in enumerate(agents):
        agent.reset()
        if children is not None:
            agent.reseed(children[p])
    s = game.initial_state() if state is None else state
    moves: list[int] = []
    for a in opening:
        s = game.step(s, int(a))
        moves.append(int(a))
    while not game.is_terminal(s):
        player = game.to_play(s)
        a = agents[player].act_state(game, s)
        s = game.step(s, a)
        moves.append(int(a))
        if verbose:
            output_fn(f"player {player} ({agents[player].name}) plays {game.action_to_string(a)}")
    if verbose:
        output_fn(game.render(s))
        output_fn(f"game over: returns {game.returns(s).tolist()}")
    return GameRecord(np.asarray(game.returns(s), dtype=np.float64), moves)


def opening_moves(
    game: Game, plies: int, count: int, rng: np.random.Generator, tries: int = 100
) -> list[tuple[int, ...]]:
    """``count`` openings of ``plies`` uniformly random legal moves from the start, each
    leaving the game running, distinct while the game has enough of them (each opening is
    drawn up to ``tries`` times to find a new one, then a repeat is kept).

    Raises:
        ValueError: ``plies < 0``, or no running position after ``plies`` moves in
            ``tries`` draws (the games end sooner).
    """
    if isinstance(plies, bool) or not isinstance(plies, int) or plies < 0:
        raise ValueError(f"opening_plies={plies!r} must be an int >= 0")
    seen: set[tuple[int, ...]] = set()
    out: list[tuple[int, ...]] = []
    for _ in range(count):
        found = None
        for _ in range(tries):
            s, moves = random_moves(game, plies, rng)
            if game.is_terminal(s):
                continue
            found = tuple(moves)
            if found not in seen:
                break
        if found is None:
            raise ValueError(
                f"{game.name} has no running position after {plies} random moves "
                f"in {tries} tries: choose fewer opening plies"
            )
        seen.add(found)
        out.append(found)
    return out


@dataclass(frozen=True)
class Table:
    """The game and agents of an evaluation: what all its jobs share (a pool with an object
    store sends it once, however many jobs)."""

    game: Game
    agents: list[Agent]


@dataclass(frozen=True)
class DuelGames:
    """A :class:`~az_gym.workers.SharedJob` of evaluation: play each :class:`Task`
    (``seats[p]`` indexes the table's agents) in order. In a worker process the game and
    agents are the job's unpickled copies; in this process they are the caller's objects."""

    table: Table | None
    tasks: list[Task]

    @property
    def num_games(self) -> int:
        return len(self.tasks)

    def run(self, on_game_end: Callable[[int], None] | None = None) -> list[GameRecord]:
        assert self.table is not None, "a job without its table"
        game, agents = self.table.game, self.table.agents
        records = []
        for task in self.tasks:
            seats, seed, opening = Task(*task)
            records.append(play_game(game, [agents[i] for i in seats], seed, opening=opening))
            if on_game_end is not None:
                on_game_end(1)
        return records

    def main_references(self) -> list[str]:
        return main_references(self.table)

    def shared(self) -> tuple[Table | None, ...]:
        return (self.table,)

    def with_shared(self, parts: tuple[Any, ...]) -> DuelGames:
        # What an object store returns is read-only (numpy arrays are views of its shared
        # memory) and common to every job of the node, while agents keep state (search
        # trees, generators): each job plays on its own copy, as a local worker does.
        return dataclasses.replace(self, table=copy.deepcopy(parts[0]) if parts else None)


def run_games(
    game: Game,
    agents: list[Agent],
    tasks: list[Task],
    num_processes: int,
    progress: bool | None = False,
    pool: WorkerPool | None = None,
) -> list[GameRecord]:
    """Play each :class:`Task` (``seats[p]`` indexes ``agents``), in order, on
    ``pool``, or else on a :class:`~az_gym.workers.LocalPool` of ``num_processes`` (in this
    process for 1 or a single task).

    ``progress``: ``False`` is silent; ``True`` or ``None`` report games on stderr, as a bar
    on a terminal and as periodic log lines otherwise (:mod:`az_gym.progress`).
    """
    if isinstance(num_processes, bool) or not isinstance(num_processes, int) or num_processes < 1:
        raise ValueError(f"num_processes={num_processes!r} must be an int >= 1")
    from az_gym.progress import progress as progress_bar

    procs = min(num_processes if pool is None else pool.parallelism, len(tasks))
    if pool is None and procs > max_processes():
        raise ValueError(
            f"{num_processes} worker processes (--processes, num_processes) would start "
            f"{procs} for {len(tasks)} games, more than {max_processes()} "
            f"({MAX_PROCESSES_PER_CORE} per core, {available_cores()} cores here); each loads "
            f"torch, and past one per core they only share the cores: use {available_cores()}"
        )
    # A few jobs per worker balance games of unequal length; a local process unpickles
    # each job's copy of the game and agents (after its watchdog started), a Ray actor
    # fetches the one copy in the object store.
    parts = 1 if procs <= 1 else min(len(tasks), 4 * procs)
    bounds = [len(tasks) * i // parts for i in range(parts + 1)]
    table = Table(game, agents)
    jobs = [DuelGames(table, tasks[lo:hi]) for lo, hi in itertools.pairwise(bounds)]
    bar = progress_bar(len(tasks), "evaluate", unit="games", enabled=progress is not False)
    with bar, contextlib.ExitStack() as stack:
        if pool is None:
            pool = stack.enter_context(LocalPool(procs, what="evaluation"))
        outs = pool.run(jobs, on_game_end=lambda _n: bar.update(1))
    return [record for out in outs for record in out]
