"""The one protocol every az_gym player implements.

An agent chooses a move for the player to move. Its core is :meth:`Agent.act_state`
over the game contract (a :class:`~az_gym.game.Game` and a state); :meth:`Agent.act` takes
an environment instead: an az_gym PettingZoo env, a Gymnasium view, or any PettingZoo
AEC env with action masks (through the adapter). No agent ever returns an illegal move.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from az_gym.game import Game, GameOverError, State


class Agent:
    """Base class of every player.

    Subclasses implement :meth:`act_state`, and may override :meth:`act_states` when they
    can decide many positions at once (batched search), and :meth:`reset` when they keep
    state between moves (search trees).
    """

    name: str = "agent"

    def act_state(self, game: Game, state: State) -> int:
        """Return a legal action for the player to move in ``state``."""
        raise NotImplementedError

    def act_states(self, game: Game, states: Sequence[State]) -> list[int]:
        """Return one legal action per state (a loop unless the agent batches)."""
        return [self.act_state(game, s) for s in states]

    def act(self, env: Any) -> int:
        """Return the move for the agent to move in ``env``, without mutating ``env``.

        ``env`` is an az_gym env, a Gymnasium view, or a PettingZoo AEC env with masks.
        """
        from az_gym.envs.registry import game_and_state

        game, state = game_and_state(env)
        if game.is_terminal(state):
            raise GameOverError(f"{self.name}: the game is over; there is no move to choose")
        return self.act_state(game, state)

    def act_batch(self, envs: Sequence[Any]) -> list[int]:
        """Return the move for each env (all of the same game), batched when possible."""
        from az_gym.envs.registry import game_and_state

        pairs = [game_and_state(e) for e in envs]
        if not pairs:
            return []
        game = pairs[0][0]
        return self.act_states(game, [s for _, s in pairs])

    def reset(self) -> None:
        """Forget anything kept between moves (called at the start of each game)."""

    def check_game(self, game: Game) -> None:
        """Raise ``ValueError`` if this agent was built for another game (no-op by default)."""

    def reseed(self, seed: int | np.random.SeedSequence | None) -> None:
        """Restart the agent's random stream from ``seed`` (no-op for deterministic agents).

        Evaluation calls it before each game so that games are reproducible from one seed
        and copies of an agent in worker processes do not replay the same random choices.
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def random_legal_action(mask: np.ndarray, rng: np.random.Generator) -> int:
    """Return a uniformly random legal action from ``bool[num_actions]``."""
    legal = np.flatnonzero(mask)
    if legal.size == 0:
        raise GameOverError("no legal action: the game is over")
    return int(legal[rng.integers(legal.size)])
