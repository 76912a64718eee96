"""What an agent thinks of one position, as printable reports (numpy only).

Two shapes: :class:`Analysis` for the agents that search a tree (AlphaZero, rollout MCTS:
visits, Q, priors, values) and :class:`MoveTable` for the others (alpha-beta's value of
each move, the policy head's priors, one-step lookahead's verdicts). Each prints the board
once, then a line about the position, then one row per legal move, best first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from az_gym.game import Game, State

if TYPE_CHECKING:  # the search is imported only by the agents that search
    from az_gym.mcts import BatchedMcts


def player_label(game: Game, player: int) -> str:
    """How ``game`` shows ``player``: its mark (``"X"``) when the game names its players
    with a ``player_marks`` tuple (the native games do), else its name in the env
    (``player_names``: a PettingZoo env's agent, ``"player_1"``), else ``"player 0"``."""
    marks = getattr(game, "player_marks", None) or getattr(game, "player_names", None)
    return str(marks[player]) if marks else f"player {player}"


@dataclass(frozen=True)
class Analysis:
    """What the agent thinks of one position (all arrays ``[A]``, root mover's view)."""

    game: Game
    state: State
    visits: np.ndarray
    """Visit counts of the root's children."""
    policy: np.ndarray
    """Visit distribution (temperature 1), or the Gumbel search's improved policy (its
    policy target)."""
    q: np.ndarray
    """Mean search value of each action (0 where unvisited)."""
    prior: np.ndarray
    """Priors at the root (after prior temperature; uniform without a network)."""
    root_value: float
    """Search value of the position for the player to move."""
    network_value: float
    """The evaluator's own value of the position for the player to move."""
    value_label: str = "network value"
    """What produced ``network_value`` (e.g. ``"rollout value"``), for the table."""
    proven_q: np.ndarray | None = None
    """Solver (``MctsParams.solver``): each move's proven value (NaN where unknown);
    ``None`` without the solver."""
    proven_value: float | None = None
    """Solver: the position's proven value (NaN while unproven); ``None`` without it."""

    def __str__(self) -> str:
        head = (
            f"{player_label(self.game, self.game.to_play(self.state))} to move   "
            f"search value: {self.root_value:+.3f}   {self.value_label}: {self.network_value:+.3f}"
        )
        if self.proven_value is not None and not np.isnan(self.proven_value):
            head += f"   proven: {proof_label(self.proven_value)}"
        proofs = self.proven_q is not None
        lines = [
            self.game.render(self.state),
            head,
            f"{'action':>8} {'visits':>7} {'pi':>6} {'Q':>7} {'prior':>6}"
            + (f" {'proof':>6}" if proofs else ""),
        ]
        legal = np.flatnonzero(self.game.legal_mask(self.state))
        for a in sorted(legal.tolist(), key=lambda a: (-self.visits[a], -self.prior[a], a)):
            lines.append(
                f"{self.game.action_to_string(a):>8} {int(self.visits[a]):7d} "
                f"{self.policy[a]:6.3f} {self.q[a]:+7.3f} {self.prior[a]:6.3f}"
                + (f" {proof_label(self.proven_q[a]):>6}" if proofs else "")
            )
        return "\n".join(lines)


def signed(value: float) -> str:
    """``value`` with a sign and 3 decimals, never ``-0.000`` (a value that rounds to zero
    is ``+0.000``, whichever side of it)."""
    return f"{round(float(value), 3) + 0.0:+.3f}"


def proof_label(value: float) -> str:
    """A proven value as a word for the mover: ``"win"`` (+1), ``"draw"`` (0), ``"loss"``
    (-1), another value with 3 decimals, ``""`` for NaN (unproven)."""
    if np.isnan(value):
        return ""
    return {1.0: "win", 0.0: "draw", -1.0: "loss"}.get(float(value), signed(value))


def analyse_with(
    mcts: BatchedMcts,
    game: Game,
    state: State,
    num_simulations: int | None = None,
    value_label: str = "network value",
) -> Analysis:
    """Search ``state`` with ``mcts`` (a fresh search object: no noise) and report it."""
    from az_gym.mcts import visits_to_policy

    r = mcts.search([state], num_simulations=num_simulations)
    pi = visits_to_policy(r.visits, np.ones(1), r.prior)[0]
    if r.improved_policy is not None:
        pi = r.improved_policy[0]
    solved = r.proven_q is not None
    return Analysis(
        game, state, r.visits[0], pi, r.q[0], r.prior[0],
        float(r.root_value[0]), float(r.network_value[0]), value_label,
        r.proven_q[0] if solved else None, float(r.proven_value[0]) if solved else None,
    )  # fmt: skip


@dataclass(frozen=True)
class MoveTable:
    """A per-move report of an agent that builds no search tree (root mover's view)."""

    game: Game
    state: State
    summary: str
    """One line about the position (the agent, its value of the position...)."""
    columns: tuple[str, ...]
    """Headers of the columns after the move name."""
    rows: tuple[tuple[int, tuple[str, ...]], ...]
    """``(action, cells)`` per legal move, in the order shown (best first)."""

    def __str__(self) -> str:
        widths = [max(len(c), 7) for c in self.columns]
        head = " ".join(f"{c:>{w}}" for c, w in zip(self.columns, widths))
        lines = [
            self.game.render(self.state),
            f"{player_label(self.game, self.game.to_play(self.state))} to move   {self.summary}",
            f"{'action':>8} {head}",
        ]
        for a, cells in self.rows:
            row = " ".join(f"{c:>{w}}" for c, w in zip(cells, widths))
            lines.append(f"{self.game.action_to_string(a):>8} {row}")
        return "\n".join(lines)


def probability_table(
    game: Game, state: State, summary: str, columns: Sequence[str], probs: Sequence[np.ndarray]
) -> MoveTable:
    """A :class:`MoveTable` of per-action numbers ``probs[k]`` (``float[A]`` each, shown
    with 3 decimals), legal moves sorted by the first array, largest first."""
    legal = np.flatnonzero(game.legal_mask(state))
    order = sorted(legal.tolist(), key=lambda a: (-probs[0][a], a))
    rows = tuple((a, tuple(f"{p[a]:.3f}" for p in probs)) for a in order)
    return MoveTable(game, state, summary, tuple(columns), rows)
