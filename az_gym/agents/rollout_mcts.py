"""Monte Carlo tree search with random rollouts (no network): the classic strong baseline."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from az_gym.agents.analysis import Analysis, analyse_with
from az_gym.agents.baselines import SeededAgent
from az_gym.evaluators import RolloutEvaluator
from az_gym.game import Game, GameOverError, State
from az_gym.mcts import BatchedMcts, MctsParams

MAX_UNTRUSTED_SIMULATIONS = 100_000
MAX_UNTRUSTED_ROLLOUTS = 100
"""The largest ``num_simulations`` and ``num_rollouts`` built from what a user typed or a
file holds (the command line's ``mcts:SIMS``, a run's benchmark); a larger search is built
in Python."""


class MctsRolloutAgent(SeededAgent):
    """PUCT search with uniform priors and random-playout values.

    The search is :class:`~az_gym.mcts.BatchedMcts` driven by a
    :class:`~az_gym.evaluators.RolloutEvaluator`; :meth:`act_states` searches all the
    given positions in one batched search. The most visited root move is played (random
    among ties). Trees are kept between moves of one game (the subtree of the position
    reached is reused) and dropped by :meth:`reset`.

    Args:
        num_simulations: simulations per move (>= 1).
        cpuct: exploration constant c_puct of the PUCT formula (> 0).
        num_rollouts: random playouts averaged per leaf (>= 1).
        seed: seed of the agent's Generator (rollouts and ties).

    Raises:
        ValueError: a non-positive ``num_simulations``, ``cpuct`` or ``num_rollouts``.
    """

    name = "mcts_rollout"

    def __init__(
        self,
        num_simulations: int = 1000,
        cpuct: float = 1.0,
        num_rollouts: int = 1,
        seed: int | np.random.SeedSequence | None = None,
    ) -> None:
        super().__init__(seed)
        if (
            isinstance(num_simulations, bool)
            or not isinstance(num_simulations, int)
            or (num_simulations < 1)
        ):
            raise ValueError(f"num_simulations={num_simulations!r} must be an int >= 1")
        if not cpuct > 0:
            raise ValueError(f"cpuct={cpuct!r} must be > 0")
        if num_rollouts < 1:
            raise ValueError(f"num_rollouts={num_rollouts!r} must be >= 1")
        self.num_simulations = num_simulations
        self.cpuct = float(cpuct)
        self.num_rollouts = int(num_rollouts)
        self._mcts: BatchedMcts | None = None

    def _search_for(self, game: Game) -> BatchedMcts:
        """The search object for ``game`` (rebuilt when the game object changes)."""
        if self._mcts is None or self._mcts.game is not game:
            params = MctsParams(
                num_iters_per_turn=self.num_simulations,
                cpuct=self.cpuct,
                dirichlet_noise_epsilon=0.0,
            )
            evaluator = RolloutEvaluator(game, self.num_rollouts, rng=self.rng)
            self._mcts = BatchedMcts(game, evaluator, params, rng=self.rng)
        return self._mcts

    def visits(self, game: Game, states: Sequence[State]) -> np.ndarray:
        """Search ``states`` and return the root visit counts ``float[B, A]``."""
        for i, s in enumerate(states):
            if game.is_terminal(s):
                raise GameOverError(f"{self.name}: states[{i}] is terminal; no move to choose")
        return self._search_for(game).search(list(states)).visits

    def act_states(self, game: Game, states: Sequence[State]) -> list[int]:
        """Return the most visited legal move of each state, from one batched search."""
        if not states:
            return []
        visits = self.visits(game, states)
        masks = game.legal_masks(states)
        out = []
        for row, mask in zip(visits, masks):
            row = np.where(mask, row, -1.0)
            out.append(self._choice(np.flatnonzero(row == row.max())))
        return out

    def act_state(self, game: Game, state: State) -> int:
        """Return the most visited legal move."""
        return self.act_states(game, [state])[0]

    def analyse(self, env_or_state: object, num_simulations: int | None = None) -> Analysis:
        """Search a position (an env or a ``(game, state)`` pair) in a separate tree and
        report visits, Q and the root value (priors are uniform, values from rollouts)."""
        from az_gym.envs.registry import game_and_state

        game, state = game_and_state(env_or_state)
        params = MctsParams(
            num_iters_per_turn=self.num_simulations, cpuct=self.cpuct, dirichlet_noise_epsilon=0.0
        )
        rng = np.random.default_rng(self.rng.integers(2**63))
        evaluator = RolloutEvaluator(game, self.num_rollouts, rng=rng)
        mcts = BatchedMcts(game, evaluator, params, rng=rng)
        return analyse_with(mcts, game, state, num_simulations, "rollout value")

    def reset(self) -> None:
        """Drop the search trees (start of a new game)."""
        self._mcts = None

    def reseed(self, seed: int | np.random.SeedSequence | None) -> None:
        """Restart the Generator from ``seed`` and drop the trees."""
        super().reseed(seed)
        self._mcts = None
