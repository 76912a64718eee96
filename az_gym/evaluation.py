"""Duels, tournaments, Elo ratings and confidence intervals.

* :func:`play_game` plays one game between agents seated by player index.
* :func:`evaluate` plays a duel (colours alternated) and returns a :class:`DuelResult`:
  wins / draws / losses of the first agent, its score ``(wins + draws / 2) / n`` with a
  95% Wilson interval, and a per-colour breakdown.
* :func:`tournament` plays a round robin and fits Elo ratings by Bradley-Terry maximum
  likelihood (:func:`fit_bradley_terry`), returned as a :class:`TournamentResult`.
* :func:`necessary_samples` is Hoeffding's bound on the games needed for a precision.

Games start from ``game.initial_state()``, or with ``opening_plies`` from random openings:
each pair of games (colours swapped) starts after the same ``opening_plies`` uniformly random
legal moves, the pairs' openings distinct while the game has enough. Searches without noise
(an evaluation's, Gumbel's above all) are deterministic, so that from the initial position a
duel may count a handful of games played over and over; openings make its games differ.
With ``num_processes > 1`` games run in worker processes, or on the ``pool`` given (a
trainer's processes or Ray actors), as :mod:`az_gym.play` describes (the agents must then
be picklable). Results do not depend on ``num_processes`` nor on the pool: game ``i``
always gets the same seed and opening.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from az_gym.agents.base import Agent
from az_gym.elo import TournamentResult, fit_bradley_terry
from az_gym.envs.registry import as_game
from az_gym.game import Game
from az_gym.play import GameRecord, Seed, Task, opening_moves, play_game, run_games, seed_sequence
from az_gym.workers import WorkerPool

__all__ = [
    "WDL",
    "DuelResult",
    "GameRecord",
    "TournamentResult",
    "evaluate",
    "fit_bradley_terry",
    "necessary_samples",
    "play_game",
    "tournament",
    "wilson_interval",
]


def necessary_samples(eps: float, beta: float) -> int:
    """Games needed to estimate a score within ``eps`` with probability ``1 - beta``.

    Hoeffding's bound: ``n >= log(1 / beta) / (2 eps^2)`` (rounded up).

    Raises:
        ValueError: ``eps`` not in ``(0, 1]`` or ``beta`` not in ``(0, 1)``.
    """
    if not 0.0 < eps <= 1.0:
        raise ValueError(f"eps={eps!r} must be in (0, 1]")
    if not 0.0 < beta < 1.0:
        raise ValueError(f"beta={beta!r} must be in (0, 1)")
    return math.ceil(math.log(1.0 / beta) / (2.0 * eps * eps))


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion (``z = 1.96``: 95%).

    Args:
        successes: number of successes, may be fractional (a draw counts one half).
        n: number of trials (``0`` gives ``(0, 1)``).
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes!r}, n={n!r}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _check_agents(game: Game, agents: Sequence[Agent]) -> None:
    """Call each agent's ``check_game`` (raises ``ValueError`` for a foreign agent)."""
    if game.num_players != 2:
        raise ValueError(f"duels need a 2-player game; {game.name} has {game.num_players}")
    for agent in agents:
        if not isinstance(agent, Agent):
            hint = (
                f" (a spec such as {agent!r} is built by "
                f"az_gym.agent_specs.make_agent({agent!r}, game))"
                if isinstance(agent, str)
                else ""
            )
            raise TypeError(f"expected an az_gym Agent, got {type(agent).__name__}{hint}")
        agent.check_game(game)


# --------------------------------------------------------------------- duels
class WDL(NamedTuple):
    """Wins, draws and losses of one agent."""

    wins: int
    draws: int
    losses: int


@dataclass(frozen=True)
class DuelResult:
    """Outcome of a duel, from the point of view of agent A.

    Attributes:
        wins, draws, losses: agent A's totals.
        per_color: ``per_color[p]`` is A's :class:`WDL` in the games where A was player ``p``.
        mean_length: mean number of moves per game.
        names: ``(name of A, name of B)``.
        opening_plies: random moves each game started with (0: the initial position).
        distinct_games: how many of the games differ in their moves (``None``: not
            counted). Far fewer than :attr:`num_games` means the score counts a few lines
            played over and over, as deterministic players do from one start position.
    """

    wins: int
    draws: int
    losses: int
    per_color: tuple[WDL, WDL]
    mean_length: float
    names: tuple[str, str] = ("a", "b")
    opening_plies: int = 0
    distinct_games: int | None = None

    @property
    def num_games(self) -> int:
        """Games played."""
        return self.wins + self.draws + self.losses

    @property
    def score(self) -> float:
        """``(wins + draws / 2) / num_games`` for agent A (``nan`` with no games)."""
        n = self.num_games
        return (self.wins + 0.5 * self.draws) / n if n else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        """95% Wilson interval of :attr:`score` (a draw counts as half a success)."""
        return wilson_interval(self.wins + 0.5 * self.draws, self.num_games)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        lo, hi = self.interval
        return {
            "agent_a": self.names[0],
            "agent_b": self.names[1],
            "num_games": self.num_games,
            "wins": self.wins,
            "draws": self.draws,
            "losses": self.losses,
            "score": self.score,
            "score_ci95": [lo, hi],
            "per_color": {
                f"a_as_player_{p}": wdl._asdict() for p, wdl in enumerate(self.per_color)
            },
            "mean_length": self.mean_length,
            "opening_plies": self.opening_plies,
            "distinct_games": self.distinct_games,
        }

    def __str__(self) -> str:
        lo, hi = self.interval
        return (
            f"{self.names[0]} vs {self.names[1]}: +{self.wins} ={self.draws} -{self.losses} "
            f"(score {self.score:.3f}, 95% CI [{lo:.3f}, {hi:.3f}], {self.num_games} "
            + ("game" if self.num_games == 1 else "games")
            + (f" from {self.opening_plies}-ply random openings)" if self.opening_plies else ")")
        )


def _duel_result(
    records: Sequence[GameRecord],
    a_players: Sequence[int],
    names: tuple[str, str],
    opening_plies: int = 0,
) -> DuelResult:
    """Tally the games where agent A sat at ``a_players[i]`` in game ``i``."""
    counts = np.zeros((2, 3), dtype=np.int64)  # [A's player, (win, draw, loss)]
    for rec, pa in zip(records, a_players):
        diff = rec.returns[pa] - rec.returns[1 - pa]
        counts[pa, 0 if diff > 0 else 1 if diff == 0 else 2] += 1
    total = counts.sum(axis=0)
    lengths = [len(r.moves) for r in records]
    return DuelResult(
        int(total[0]), int(total[1]), int(total[2]),
        (WDL(*map(int, counts[0])), WDL(*map(int, counts[1]))),
        float(np.mean(lengths)) if lengths else math.nan,
        names,
        opening_plies,
        len({tuple(r.moves) for r in records}),
    )  # fmt: skip


def _openings(
    game: Game, plies: int, num_games: int, root: np.random.SeedSequence
) -> list[tuple[int, ...]]:
    """The opening of each of ``num_games`` games: games ``2k`` and ``2k + 1`` share one
    (none when ``plies`` is 0). Drawn from a child of ``root`` spawned after the games'
    seeds, so that those do not depend on ``plies`` (which :func:`opening_moves` checks)."""
    if plies == 0:
        return [()] * num_games
    rng = np.random.default_rng(root.spawn(1)[0])
    pairs = opening_moves(game, plies, (num_games + 1) // 2, rng)
    return [pairs[i // 2] for i in range(num_games)]


def evaluate(
    agent_a: Agent,
    agent_b: Agent,
    env: Any,
    num_games: int,
    alternate_colors: bool = True,
    seed: Seed = None,
    num_processes: int = 1,
    progress: bool | None = False,
    pool: WorkerPool | None = None,
    opening_plies: int = 0,
) -> DuelResult:
    """Play ``num_games`` games of A against B and count A's results.

    Args:
        agent_a, agent_b: the players (the same object may play both sides).
        env: the game, in any form :func:`~az_gym.envs.registry.as_game` accepts.
        num_games: games to play (>= 1).
        alternate_colors: A is player 0 in even games and player 1 in odd ones; else
            A is always player 0.
        seed: root of the per-game seeds (``None``: fresh entropy).
        num_processes: worker processes (see the module docstring); 1 plays in-process.
        progress: report games on stderr (``True``/``None``: a bar on a terminal, a log line
            every ``AZ_GYM_PROGRESS_SECONDS`` otherwise; ``False``: silent).
        pool: a :class:`~az_gym.workers.WorkerPool` to play on instead of
            ``num_processes`` local ones (a trainer's, e.g. a Ray pool); left open.
        opening_plies: start games ``2k`` and ``2k + 1`` after the same this many random
            legal moves (see the module docstring; 0: from the initial position).

    Raises:
        ValueError: ``num_games < 1``, a bad ``opening_plies`` (negative, or more than the
            game's games last), a game that is not 2-player, or an agent built for another
            game (from :meth:`Agent.check_game`).
    """
    if isinstance(num_games, bool) or not isinstance(num_games, int) or num_games < 1:
        raise ValueError(f"num_games={num_games!r} must be an int >= 1")
    if not isinstance(alternate_colors, (bool, np.bool_)):  # "no" would be true
        raise TypeError(f"alternate_colors={alternate_colors!r} must be True or False")
    game = as_game(env)
    _check_agents(game, [agent_a, agent_b])
    a_players = [i % 2 if alternate_colors else 0 for i in range(num_games)]
    root = seed_sequence(seed)
    seeds = root.spawn(num_games)
    openings = _openings(game, opening_plies, num_games, root)
    tasks = [Task((0, 1) if pa == 0 else (1, 0), s, o)
             for pa, s, o in zip(a_players, seeds, openings)]  # fmt: skip
    records = run_games(game, [agent_a, agent_b], tasks, num_processes, progress, pool)
    return _duel_result(records, a_players, (agent_a.name, agent_b.name), opening_plies)


# --------------------------------------------------------------- tournaments
def _named(agents: dict[str, Agent] | Sequence[Agent]) -> tuple[list[str], list[Agent]]:
    """Names and agents; list entries are named by ``agent.name`` (``_2``... on clashes)."""
    if isinstance(agents, dict):
        return list(agents), list(agents.values())
    names: list[str] = []
    for agent in agents:
        base, k = agent.name, 2
        name = base
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    return names, list(agents)


def tournament(
    agents: dict[str, Agent] | Sequence[Agent],
    env: Any,
    games_per_pair: int,
    seed: Seed = None,
    num_processes: int = 1,
    anchor: str | None = None,
    prior_games: float = 1.0,
    progress: bool | None = False,
    pool: WorkerPool | None = None,
    opening_plies: int = 0,
) -> TournamentResult:
    """Round robin: every pair plays ``games_per_pair`` games, colours alternated.

    Args:
        agents: ``{name: agent}`` or a list (named by ``agent.name``); at least 2.
        env: the game, in any form :func:`~az_gym.envs.registry.as_game` accepts.
        games_per_pair: games per pair (>= 1).
        seed: root of every game's seed.
        num_processes: worker processes for all the games (one pool).
        anchor: name of the agent rated 0 (default: the mean rating is 0).
        prior_games: weight of the Bradley-Terry prior (see :func:`fit_bradley_terry`).
        progress: report games on stderr (``True``/``None``: a bar on a terminal, a log line
            every ``AZ_GYM_PROGRESS_SECONDS`` otherwise; ``False``: silent).
        pool: a :class:`~az_gym.workers.WorkerPool` to play on instead of
            ``num_processes`` local ones; left open.
        opening_plies: each pair's games ``2k`` and ``2k + 1`` start after the same this
            many random legal moves (0: from the initial position).

    Raises:
        ValueError: fewer than 2 agents, a bad ``games_per_pair``, ``anchor`` or
            ``opening_plies``, or an agent built for another game.
    """
    names, players = _named(agents)
    if len(players) < 2:
        raise ValueError(f"a tournament needs at least 2 agents, got {len(players)}")
    if (
        isinstance(games_per_pair, bool)
        or not isinstance(games_per_pair, int)
        or (games_per_pair < 1)
    ):
        raise ValueError(f"games_per_pair={games_per_pair!r} must be an int >= 1")
    if anchor is not None and anchor not in names:
        raise ValueError(f"anchor={anchor!r} is not one of the agents {names}")
    game = as_game(env)
    _check_agents(game, players)
    pairs = [(i, j) for i in range(len(players)) for j in range(i + 1, len(players))]
    pair_seeds = seed_sequence(seed).spawn(len(pairs))
    tasks, owners = [], []
    for (i, j), ps in zip(pairs, pair_seeds):
        seeds = ps.spawn(games_per_pair)
        openings = _openings(game, opening_plies, games_per_pair, ps)
        for g, (s, o) in enumerate(zip(seeds, openings)):
            tasks.append(Task((i, j) if g % 2 == 0 else (j, i), s, o))
            owners.append((i, j, g % 2))
    records = run_games(game, players, tasks, num_processes, progress, pool)
    n = len(players)
    wins, draws = np.zeros((n, n)), np.zeros((n, n))
    duels = {}
    for i, j in pairs:
        idx = [k for k, o in enumerate(owners) if o[:2] == (i, j)]
        duel = _duel_result(
            [records[k] for k in idx],
            [owners[k][2] for k in idx],
            (names[i], names[j]),
            opening_plies,
        )
        duels[(names[i], names[j])] = duel
        wins[i, j], wins[j, i] = duel.wins, duel.losses
        draws[i, j] = draws[j, i] = duel.draws
    fit = fit_bradley_terry(
        wins + 0.5 * draws,
        wins + wins.T + draws,
        prior_games,
        anchor=None if anchor is None else names.index(anchor),
    )
    return TournamentResult(names, fit.elo, fit.stderr, wins, draws, duels, game.game_id)
