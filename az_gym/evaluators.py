"""Evaluators that need no network (numpy only): uniform priors, random rollouts.

Both follow the :class:`az_gym.mcts.Evaluator` protocol and declare through class
attributes what they need: ``needs_observations = False`` lets the search skip building
observations; ``needs_states = True`` makes the search pass ``states=`` (the game states);
``deterministic = False`` keeps an evaluator out of the evaluation cache
(:mod:`az_gym.eval_cache`), whose stored answer would replace fresh random draws.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from az_gym.game import Game, State


def _uniform_priors(masks: np.ndarray) -> np.ndarray:
    """``float32[B, A]``: uniform over each row's legal actions (zeros if none)."""
    m = masks.astype(np.float32)
    return m / np.maximum(m.sum(1, keepdims=True), 1.0)


class UniformEvaluator:
    """Uniform priors over the legal actions and value 0: search driven by terminal
    returns only (a 'free' evaluator, for tests and benchmarks of the search itself)."""

    needs_observations = False
    needs_states = False
    deterministic = True

    def __call__(
        self, observations: np.ndarray | None, masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(priors float32[B, A], values float32[B] of zeros)``."""
        return _uniform_priors(masks), np.zeros(masks.shape[0], np.float32)


class RolloutEvaluator:
    """Uniform priors; value = mean return of uniformly random playouts to the end.

    Args:
        game: the rules used to play the rollouts.
        num_rollouts: playouts averaged per position.
        rng: source of the random moves (``default_rng()`` if ``None``).

    The value of each position is for its player to move, in ``[-1, 1]`` when the game's
    returns are.
    """

    needs_observations = False
    needs_states = True
    deterministic = False

    def __init__(
        self, game: Game, num_rollouts: int = 1, rng: np.random.Generator | None = None
    ) -> None:
        if num_rollouts < 1:
            raise ValueError(f"RolloutEvaluator: num_rollouts = {num_rollouts}; must be >= 1")
        self.game = game
        self.num_rollouts = int(num_rollouts)
        self.rng = rng if rng is not None else np.random.default_rng()

    def rollout_value(self, state: State) -> float:
        """Mean return, for the player to move in ``state``, of ``num_rollouts`` playouts."""
        game, rng = self.game, self.rng
        mover = game.to_play(state)
        total = 0.0
        for _ in range(self.num_rollouts):
            s = state
            while not game.is_terminal(s):
                legal = np.flatnonzero(game.legal_mask(s))
                s = game.next_state(s, int(legal[rng.integers(legal.size)]))
            total += float(game.returns(s)[mover])
        return total / self.num_rollouts

    def __call__(
        self,
        observations: np.ndarray | None,
        masks: np.ndarray,
        *,
        states: Sequence[State] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(uniform priors float32[B, A], rollout values float32[B])``.

        Raises:
            ValueError: ``states`` missing or of the wrong length.
        """
        if states is None or len(states) != masks.shape[0]:
            raise ValueError(
                "RolloutEvaluator needs states=: one game state per mask row "
                f"(got {None if states is None else len(states)} for {masks.shape[0]} rows)"
            )
        values = np.array([self.rollout_value(s) for s in states], np.float32)
        return _uniform_priors(masks), values
