"""What a search-based agent thinks of one position (numpy only; shared by the agents)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from az_gym.game import Game, State
from az_gym.mcts import BatchedMcts, visits_to_policy


@dataclass(frozen=True)
class Analysis:
    """What the agent thinks of one position (all arrays ``[A]``, root mover's view)."""

    game: Game
    state: State
    visits: np.ndarray
    """Visit counts of the root's children."""
    policy: np.ndarray
    """Visit distribution (temperature 1)."""
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

    def __str__(self) -> str:
        lines = [
            self.game.render(self.state),
            f"player to move: {self.game.to_play(self.state)}   "
            f"search value: {self.root_value:+.3f}   {self.value_label}: {self.network_value:+.3f}",
            f"{'action':>8} {'visits':>7} {'pi':>6} {'Q':>7} {'prior':>6}",
        ]
        legal = np.flatnonzero(self.game.legal_mask(self.state))
        for a in sorted(legal.tolist(), key=lambda a: (-self.visits[a], -self.prior[a], a)):
            lines.append(
                f"{self.game.action_to_string(a):>8} {int(self.visits[a]):7d} "
                f"{self.policy[a]:6.3f} {self.q[a]:+7.3f} {self.prior[a]:6.3f}"
            )
        return "\n".join(lines)


def analyse_with(
    mcts: BatchedMcts,
    game: Game,
    state: State,
    num_simulations: int | None = None,
    value_label: str = "network value",
) -> Analysis:
    """Search ``state`` with ``mcts`` (a fresh search object: no noise) and report it."""
    r = mcts.search([state], num_simulations=num_simulations)
    pi = visits_to_policy(r.visits, np.ones(1), r.prior)[0]
    return Analysis(
        game, state, r.visits[0], pi, r.q[0], r.prior[0],
        float(r.root_value[0]), float(r.network_value[0]), value_label,
    )  # fmt: skip
