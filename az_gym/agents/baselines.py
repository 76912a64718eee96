"""Simple baseline players: uniform random, one-step lookahead, and the raw policy head.

All of them work on any game that follows the :class:`~az_gym.game.Game` contract, never
return an illegal move, and draw their randomness from their own ``numpy`` Generator
(``seed`` in the constructor, :meth:`~az_gym.agents.base.Agent.reseed` between games).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from az_gym._seeds import check_seed
from az_gym.agents.analysis import MoveTable, probability_table
from az_gym.agents.base import Agent, random_legal_action
from az_gym.game import Game, GameOverError, State


def _position(env_or_state: Any) -> tuple[Game, State]:
    """``(game, state)`` of a running position given as an env or a ``(game, state)`` pair."""
    from az_gym.envs.registry import game_and_state

    game, state = game_and_state(env_or_state)
    if game.is_terminal(state):
        raise GameOverError("the game is over; there is no move to analyse")
    return game, state


class SeededAgent(Agent):
    """An :class:`Agent` with its own random stream ``self.rng``.

    Args:
        seed: seed of ``self.rng`` (``None``: fresh entropy).
    """

    def __init__(self, seed: int | np.random.SeedSequence | None = None) -> None:
        check_seed(seed)
        self.rng = np.random.default_rng(seed)

    def reseed(self, seed: int | np.random.SeedSequence | None) -> None:
        """Restart ``self.rng`` from ``seed``."""
        self.rng = np.random.default_rng(seed)

    def _choice(self, actions: Sequence[int]) -> int:
        """A uniformly random element of the non-empty ``actions``."""
        return int(actions[int(self.rng.integers(len(actions)))])


class RandomAgent(SeededAgent):
    """Plays a uniformly random legal move.

    Args:
        seed: seed of the agent's Generator.
    """

    name = "random"

    def act_state(self, game: Game, state: State) -> int:
        """Return a uniformly random legal action."""
        return random_legal_action(game.legal_mask(state), self.rng)

    def analyse(self, env_or_state: Any) -> MoveTable:
        """Each legal move with the probability ``1 / num_legal`` that it is played."""
        game, state = _position(env_or_state)
        mask = game.legal_mask(state)
        p = mask / mask.sum()
        return probability_table(game, state, f"{self.name}: every legal move alike", ["p"], [p])


def _wins(game: Game, state: State, player: int) -> bool:
    """Whether ``state`` is over and ``player`` got strictly more than every other player."""
    if not game.is_terminal(state):
        return False
    r = game.returns(state)
    return bool(r[player] > 0 and all(r[player] > r[q] for q in range(len(r)) if q != player))


class OneStepLookaheadAgent(SeededAgent):
    """Wins at once when it can, else avoids moves that let the opponent win at once.

    For each legal move ``m`` of the mover ``p``: if ``m`` ends the game with ``p`` the
    winner, it is played (ties broken at random). Otherwise ``m`` is *safe* when no reply of
    the player to move after ``m`` wins the game against ``p`` immediately (that covers
    blocking: the block is the move after which the opponent's threat is gone, and also
    passes and double moves, since the reply is made by whoever is to move). A random safe
    move is played; if no move is safe, a random legal move. Cost: ``O(A^2)`` game steps.

    Args:
        seed: seed of the agent's Generator.
    """

    name = "one_step"

    def act_state(self, game: Game, state: State) -> int:
        """Return a winning move, else a safe move, else any legal move (random ties)."""
        verdicts = self.verdicts(game, state)
        return self._choice(self._candidates(verdicts))

    def verdicts(self, game: Game, state: State) -> dict[int, str]:
        """``{action: "wins" | "safe" | "loses"}`` for each legal action of the mover:
        ``"wins"`` ends the game with the mover the winner, ``"loses"`` lets the next
        player win at once, ``"safe"`` neither."""
        legal = game.legal_actions(state)
        if not legal:
            raise GameOverError(f"{self.name}: no legal action: the game is over")
        me = game.to_play(state)
        out = {}
        for a in legal:
            child = game.next_state(state, a)
            if _wins(game, child, me):
                out[a] = "wins"
            else:
                out[a] = "loses" if self._opponent_wins_next(game, child, me) else "safe"
        return out

    @staticmethod
    def _candidates(verdicts: dict[int, str]) -> list[int]:
        """The moves it picks among: the winning ones, else the safe ones, else all."""
        for kind in ("wins", "safe"):
            moves = [a for a, v in verdicts.items() if v == kind]
            if moves:
                return moves
        return list(verdicts)

    def analyse(self, env_or_state: Any) -> MoveTable:
        """Each legal move's verdict and the probability that the agent plays it."""
        game, state = _position(env_or_state)
        verdicts = self.verdicts(game, state)
        picks = self._candidates(verdicts)
        rank = {"wins": 0, "safe": 1, "loses": 2}
        rows = tuple(
            (a, (verdicts[a], f"{1 / len(picks) if a in picks else 0.0:.3f}"))
            for a in sorted(verdicts, key=lambda a: (rank[verdicts[a]], a))
        )
        return MoveTable(game, state, f"{self.name}: looks one move ahead", ("verdict", "p"), rows)

    @staticmethod
    def _opponent_wins_next(game: Game, child: State, me: int) -> bool:
        """Whether, in ``child``, the player to move (not ``me``) can win in one move."""
        if game.is_terminal(child):
            return False
        mover = game.to_play(child)
        if mover == me:
            return False
        return any(_wins(game, game.next_state(child, r), mover) for r in game.legal_actions(child))


def _network_outputs(net: Any, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(float[B, A] raw policy logits, float[B] values for the movers)`` of ``net``
    (eval mode, no gradients, on its device)."""
    import torch  # lazily: the other baselines run without torch

    from az_gym.threads import use_inference_threads

    use_inference_threads()
    net.eval()
    device = next(net.parameters()).device
    with torch.inference_mode():
        obs = torch.from_numpy(np.ascontiguousarray(observations, np.float32)).to(device)
        out = net(obs)
        return out.logits.float().cpu().numpy(), out.value.float().cpu().numpy()


def _softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Rows of ``float[B, A]`` logits (``-inf``: illegal) to distributions at ``temperature``
    (0: uniform over each row's tied maxima)."""
    if temperature == 0.0:
        best = logits == logits.max(axis=1, keepdims=True)
        return best / best.sum(axis=1, keepdims=True)
    z = logits / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class NetworkOnlyAgent(SeededAgent):
    """Plays from the network's policy head alone, without search.

    The logits of illegal actions are masked out, the rest go through a softmax at the
    given temperature; ``temperature == 0`` plays the most probable legal move.

    Args:
        net_or_agent: a ``PolicyValueNet`` or an ``AlphaZeroAgent`` (its ``.network``).
        temperature: softmax temperature tau >= 0 (0: argmax).
        seed: seed of the agent's Generator (sampling when ``temperature > 0``).

    Raises:
        ValueError: a negative temperature.
    """

    name = "network_only"

    def __init__(
        self,
        net_or_agent: Any,
        temperature: float = 0.0,
        seed: int | np.random.SeedSequence | None = None,
    ) -> None:
        super().__init__(seed)
        if not temperature >= 0.0:
            raise ValueError(f"temperature={temperature!r} must be >= 0")
        self.network = getattr(net_or_agent, "network", net_or_agent)
        game = getattr(net_or_agent, "game", None)
        self.game_id: str | None = None
        if game is not None:
            from az_gym.envs.registry import canonical_game_id

            self.game_id = canonical_game_id(game)
        """The game of the AlphaZeroAgent the net came from (``None`` for a bare net)."""
        for attr in ("observation_shape", "num_actions", "eval"):
            if not hasattr(self.network, attr):
                raise TypeError(
                    f"net_or_agent must be a PolicyValueNet or an AlphaZeroAgent; "
                    f"{type(net_or_agent).__name__} has no {attr!r}"
                )
        self.temperature = float(temperature)

    def check_game(self, game: Game) -> None:
        """Raise ``ValueError`` for a game whose id (when known), action count or observation
        shape differ from the network's."""
        from az_gym.envs.registry import canonical_game_id

        if self.game_id is not None and canonical_game_id(game) != self.game_id:
            raise ValueError(
                f"{self.name}: built for game {self.game_id!r}, asked to play {game.game_id!r}"
            )
        net_shape = tuple(self.network.observation_shape)
        if (net_shape, self.network.num_actions) != (
            tuple(game.observation_shape),
            game.num_actions,
        ):
            raise ValueError(
                f"{self.name}: network made for observations {net_shape} and "
                f"{self.network.num_actions} actions; {game.game_id} has "
                f"{tuple(game.observation_shape)} and {game.num_actions}"
            )

    def policy(self, game: Game, states: Sequence[State]) -> np.ndarray:
        """Return ``float[B, A]``: the move distribution over legal actions for each state
        (uniform over the tied best logits when ``temperature == 0``)."""
        self.check_game(game)
        masks = game.legal_masks(states)
        if not masks.any(axis=1).all():
            raise GameOverError(f"{self.name}: a state is terminal; there is no move to choose")
        logits, _ = _network_outputs(self.network, game.observations(states))
        return _softmax(np.where(masks, logits.astype(np.float64), -np.inf), self.temperature)

    def analyse(self, env_or_state: Any) -> MoveTable:
        """The policy head's priors (softmax of the legal logits), the probability that this
        agent plays each move (at its temperature) and the value head, all for the mover."""
        game, state = _position(env_or_state)
        self.check_game(game)
        logits, value = _network_outputs(self.network, game.observations([state]))
        masked = np.where(game.legal_mask(state), logits[0].astype(np.float64), -np.inf)
        prior = _softmax(masked[None], 1.0)[0]
        plays = self.policy(game, [state])[0]
        summary = f"policy head alone, no search   network value: {float(value[0]):+.3f}"
        return probability_table(game, state, summary, ["prior", "p"], [prior, plays])

    def act_states(self, game: Game, states: Sequence[State]) -> list[int]:
        """Return one move per state from one batched forward pass."""
        if not states:
            return []
        pi = self.policy(game, states)
        if self.temperature == 0.0:
            return [self._choice(np.flatnonzero(row > 0)) for row in pi]
        return [int(self.rng.choice(len(row), p=row)) for row in pi]

    def act_state(self, game: Game, state: State) -> int:
        """Return the move for one state."""
        return self.act_states(game, [state])[0]
