"""Batched PUCT search over arrays (numpy only; knows only the game contract).

INTERFACE STUB written by the lead so that other modules can be built against it; the
search helper replaces the bodies (keeping the names and signatures, adding freely).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from az_gym.game import Game, State
from az_gym.schedules import ConstSchedule, Schedule


@dataclass(frozen=True, kw_only=True)
class MctsParams:
    """Parameters of an MCTS player (AlphaZero.jl's ``MctsParams``)."""

    num_iters_per_turn: int = 100
    """Simulations per move (AlphaGo Zero: 1600)."""
    gamma: float = 1.0
    """Discount factor of rewards along the tree (AlphaGo Zero: 1)."""
    cpuct: float = 1.0
    """Exploration constant c_puct in the PUCT formula."""
    temperature: Schedule = field(default_factory=lambda: ConstSchedule(1.0))
    """Move-selection temperature tau as a schedule over the move number."""
    dirichlet_noise_epsilon: float = 0.25
    """Weight epsilon of Dirichlet noise mixed into the root priors (AlphaGo Zero: 0.25)."""
    dirichlet_noise_alpha: float = 1.0
    """Concentration alpha of the root Dirichlet noise (AlphaGo Zero: 0.03; ~10/num_actions)."""
    prior_temperature: float = 1.0
    """Temperature applied to the network priors before search."""


class Evaluator(Protocol):
    """Anything that scores a batch of positions for the search."""

    def __call__(
        self, observations: np.ndarray, masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score positions.

        Args:
            observations: ``float32[B, *observation_shape]``, each from its mover's view.
            masks: ``bool[B, num_actions]`` legal actions.

        Returns:
            ``(priors float[B, num_actions], values float[B])``; priors are zero on illegal
            actions and sum to 1; values are for the player to move, in ``[-1, 1]``.
        """
        ...


@dataclass(frozen=True)
class SearchResult:
    """What one search says about each of ``B`` root states."""

    visits: np.ndarray
    """``float[B, A]`` visit counts of the root's children."""
    root_value: np.ndarray
    """``float[B]`` search value for the player to move at the root."""
    q: np.ndarray
    """``float[B, A]`` mean value of each child for the root's mover (0 where unvisited)."""
    prior: np.ndarray
    """``float[B, A]`` root priors (after prior temperature, before noise)."""
    network_value: np.ndarray
    """``float[B]`` the evaluator's value of the root for its mover."""


class BatchedMcts:
    """``B`` search trees stepped in lockstep, one evaluator call per simulation step."""

    def __init__(
        self,
        game: Game,
        evaluator: Evaluator,
        params: MctsParams,
        *,
        rng: np.random.Generator | None = None,
    ) -> None:
        raise NotImplementedError

    def search(
        self,
        states: Sequence[State],
        *,
        add_noise: bool = False,
        num_simulations: int | None = None,
    ) -> SearchResult:
        """Search each state; tree ``i`` keeps its subtree when ``states[i]`` is a
        position already in it (the played move is reused)."""
        raise NotImplementedError

    def policy(self, result: SearchResult, move_number: Sequence[int] | int) -> np.ndarray:
        """``float[B, A]``: visits turned into a move distribution with the temperature
        schedule at each game's move number (tau -> 0 gives the argmax)."""
        raise NotImplementedError

    def reset(self, index: int | None = None) -> None:
        """Empty tree ``index`` (all trees if ``None``)."""
        raise NotImplementedError
