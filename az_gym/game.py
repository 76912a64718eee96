"""The game contract that search, training and evaluation consume (numpy only).

A :class:`Game` holds the *rules*; a *state* is a separate, opaque value that the game
creates and reads. Rules never mutate a state: :meth:`Game.next_state` returns a new one,
so search can keep every node's state without copying.

Conventions every game follows:

* Players are numbered ``0 .. num_players - 1`` (1 or 2 players). The player to move is read
  from the state with :meth:`Game.to_play`; it is never assumed to alternate (Othello passes).
* Actions are integers in a fixed space ``0 .. num_actions - 1``; :meth:`Game.legal_mask`
  gives a ``bool[num_actions]`` mask, all False in a terminal state.
* :meth:`Game.returns` gives ``float[num_players]``, each player's final return (+1 win,
  -1 loss, 0 draw for two-player games); zeros while the game is running.
* :meth:`Game.observation` is a ``float32`` array of shape :attr:`Game.observation_shape`,
  seen from a player (by default the one to move). Board games use channels-last planes
  ``[H, W, C]``, the layout of ``pettingzoo.classic``.
* Symmetries are :class:`Symmetry` objects. For a symmetry ``g`` with permutation ``sigma``:
  ``legal_mask(apply_symmetry(s, g)) == legal_mask(s)[sigma]``, i.e. action ``a`` in the
  transformed state is action ``sigma[a]`` in the original, and a policy transforms as
  ``pi[sigma]``. ``observation(apply_symmetry(s, g)) == g.transform_observation(observation(s))``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

State = Any
"""An opaque game state. Only the game that made it reads it."""


class GameError(ValueError):
    """Base class of the errors a game raises on bad input."""


class IllegalActionError(GameError):
    """An action that is out of range or not legal in the given state."""

    def __init__(
        self, action: object, legal: Sequence[int], game_name: str = "", message: str = ""
    ) -> None:
        self.action = action
        self.legal = list(legal)
        where = f" in {game_name}" if game_name else ""
        super().__init__(
            message or f"illegal action {action!r}{where}; legal actions are {self.legal}"
        )


class GameOverError(GameError):
    """A step was asked of a state that is already terminal."""


@dataclass(frozen=True)
class Symmetry:
    """One symmetry of a game: an observation transform and an action permutation.

    Attributes:
        name: short label, e.g. ``"rot90"`` or ``"mirror"``.
        sigma: ``int64[num_actions]``; action ``a`` in the transformed state is action
            ``sigma[a]`` in the original one. A policy ``pi`` transforms as ``pi[sigma]``.
        obs_transform: maps an observation (or a batch whose *last* ``len(observation_shape)``
            axes are one observation) to the transformed observation.
    """

    name: str
    sigma: np.ndarray
    obs_transform: Callable[[np.ndarray], np.ndarray] = field(repr=False)

    def transform_observation(self, obs: np.ndarray) -> np.ndarray:
        """Return the observation of the transformed state, given the original one."""
        return self.obs_transform(obs)

    def transform_policy(self, policy: np.ndarray) -> np.ndarray:
        """Return the policy over the transformed state's actions: ``policy[..., sigma]``."""
        return policy[..., self.sigma]

    @property
    def inverse_sigma(self) -> np.ndarray:
        """The inverse permutation: ``sigma[inverse_sigma] == arange(num_actions)``."""
        inv = np.empty_like(self.sigma)
        inv[self.sigma] = np.arange(len(self.sigma))
        return inv


def _board_transform(k: int, flip: bool) -> Callable[[np.ndarray], np.ndarray]:
    """The dihedral transform (``k`` quarter turns, then an optional left-right flip) of
    the two board axes of a ``[..., H, W, C]`` array."""

    def transform(a: np.ndarray) -> np.ndarray:
        out = np.rot90(a, k, axes=(-3, -2))
        if flip:
            out = out[..., :, ::-1, :]
        return np.ascontiguousarray(out)

    return transform


def dihedral_symmetries(size: int, extra_actions: int = 0) -> list[Symmetry]:
    """The 8 symmetries of a ``size x size`` board whose actions are cells ``r * size + c``.

    Args:
        size: side of the square board.
        extra_actions: actions after the ``size * size`` cells (e.g. Othello's pass) that
            every symmetry maps to themselves.

    Returns:
        Eight :class:`Symmetry` objects, the identity first. Observations must be
        ``[..., size, size, C]`` arrays.
    """
    cells = np.arange(size * size).reshape(size, size)
    tail = np.arange(size * size, size * size + extra_actions)
    out = []
    for flip in (False, True):
        for k in range(4):
            # transformed[p] holds what original cell grid.flat[p] held.
            grid = np.rot90(cells, k)
            if flip:
                grid = grid[:, ::-1]
            sigma = np.concatenate([grid.reshape(-1), tail]).astype(np.int64)
            name = ("flip_" if flip else "") + f"rot{90 * k}"
            out.append(Symmetry(name, sigma, _board_transform(k, flip)))
    return out


def mirror_symmetry(width: int, height: int) -> Symmetry:
    """The left-right mirror of a board with one action per column (Connect Four).

    Observations must be ``[..., height, width, C]`` arrays.
    """
    del height  # the transform flips the width axis whatever the height
    sigma = np.arange(width - 1, -1, -1, dtype=np.int64)
    return Symmetry("mirror", sigma, lambda a: np.ascontiguousarray(a[..., :, ::-1, :]))


class Game(ABC):
    """The rules of a 1- or 2-player game with a fixed action space.

    Subclasses set the class or instance attributes below and implement the abstract
    methods. States are opaque to everything but the game.

    Attributes:
        name: registry name, e.g. ``"connect_four"``.
        num_players: 1 or 2.
        num_actions: size of the fixed action space.
        observation_shape: shape of :meth:`observation` (channels-last for boards).
        chance: whether :meth:`next_state` draws random events (dice, shuffles), so a
            position's future is not a function of the moves alone; the MCTS solver
            (``MctsParams.solver``) refuses such games. Default False.
    """

    name: str
    num_players: int
    num_actions: int
    observation_shape: tuple[int, ...]
    chance: bool = False

    # ----------------------------------------------------------------- identity
    @property
    def game_id(self) -> str:
        """A string that identifies the rules and options, e.g. ``"othello(size=6)"``.

        Checkpoints record it so that weights made for one game are refused by another.
        """
        opts = ",".join(f"{k}={v}" for k, v in sorted(self.options().items()))
        return f"{self.name}({opts})" if opts else self.name

    def options(self) -> dict[str, Any]:
        """The constructor options that change the rules (board size...)."""
        return {}

    # -------------------------------------------------------------------- rules
    @abstractmethod
    def initial_state(self) -> State:
        """Return the start position."""

    @abstractmethod
    def to_play(self, state: State) -> int:
        """Return the player to move (``0 .. num_players - 1``).

        For a terminal state the value is unspecified but still a valid player index.
        """

    @abstractmethod
    def legal_mask(self, state: State) -> np.ndarray:
        """Return ``bool[num_actions]``: the legal actions (all False if terminal)."""

    @abstractmethod
    def next_state(self, state: State, action: int) -> State:
        """Return the state after ``action`` without touching ``state``.

        Fast path for search: ``action`` must be legal (no check). Users call :meth:`step`.
        """

    @abstractmethod
    def is_terminal(self, state: State) -> bool:
        """Return whether the game is over."""

    @abstractmethod
    def returns(self, state: State) -> np.ndarray:
        """Return ``float[num_players]``: each player's final return (zeros if running)."""

    @abstractmethod
    def observation(self, state: State, player: int | None = None) -> np.ndarray:
        """Return the ``float32`` observation of ``state`` as seen by ``player``.

        Args:
            state: the position.
            player: the observing player; ``None`` means the player to move.
        """

    @abstractmethod
    def key(self, state: State) -> Hashable:
        """Return a hashable key, equal for equal positions (same player to move)."""

    @abstractmethod
    def render(self, state: State) -> str:
        """Return a text picture of the position."""

    @abstractmethod
    def action_to_string(self, action: int) -> str:
        """Return the human name of an action, e.g. ``"d3"`` or ``"4"``."""

    def string_to_action(self, text: str) -> int:
        """Return the action whose name is ``text`` (case and spaces ignored).

        Raises:
            IllegalActionError: no action has that name.
        """
        wanted = text.strip().lower()
        for a in range(self.num_actions):
            if self.action_to_string(a).lower() == wanted:
                return a
        example = self.action_to_string(0)
        raise IllegalActionError(
            text,
            [],
            self.name,
            f"{text!r} names no action of {self.name} (names look like {example!r})",
        )

    def move_number(self, state: State) -> int | None:
        """Return how many moves led to ``state`` (``None`` if the game does not track it).

        Used for move-number schedules (the MCTS temperature) outside self-play.
        """
        return None

    # --------------------------------------------------------------- symmetries
    def symmetries(self) -> list[Symmetry]:
        """Return the game's symmetries, identity first (just the identity by default)."""
        identity = np.arange(self.num_actions, dtype=np.int64)
        return [Symmetry("identity", identity, lambda a: a)]

    def apply_symmetry(self, state: State, symmetry: Symmetry) -> State:
        """Return the transformed state (see the module docstring for the laws)."""
        if symmetry.name == "identity":
            return state
        raise NotImplementedError(f"{self.name} does not transform states by {symmetry.name}")

    # ------------------------------------------------------------------ derived
    def legal_actions(self, state: State) -> list[int]:
        """Return the legal actions as a sorted list of ints."""
        return np.flatnonzero(self.legal_mask(state)).tolist()

    def check_action(self, state: State, action: object) -> int:
        """Validate ``action`` for ``state`` and return it as an ``int``.

        Raises:
            GameOverError: the state is terminal.
            IllegalActionError: out of range, not an integer, or not legal here.
        """
        if self.is_terminal(state):
            raise GameOverError(
                f"{self.name}: the game is over (returns {self.returns(state).tolist()}); "
                f"no action {action!r} can be played"
            )
        try:
            ok_type = int(action) == action  # type: ignore[call-overload]
        except (TypeError, ValueError):
            ok_type = False
        if not ok_type or isinstance(action, bool):
            raise IllegalActionError(action, self.legal_actions(state), self.name)
        a = int(action)  # type: ignore[call-overload]
        if not 0 <= a < self.num_actions or not self.legal_mask(state)[a]:
            raise IllegalActionError(action, self.legal_actions(state), self.name)
        return a

    def step(self, state: State, action: int) -> State:
        """Validated :meth:`next_state`: raises on an illegal action or a finished game.

        Raises:
            GameOverError, IllegalActionError: see :meth:`check_action`. ``state`` is
            never modified, so nothing is half-updated.
        """
        return self.next_state(state, self.check_action(state, action))

    def observations(self, states: Sequence[State]) -> np.ndarray:
        """Return ``float32[B, *observation_shape]`` for the players to move."""
        return np.stack([self.observation(s) for s in states])

    def legal_masks(self, states: Sequence[State]) -> np.ndarray:
        """Return ``bool[B, num_actions]``."""
        return np.stack([self.legal_mask(s) for s in states])

    def returns_vector_for(self, value: float, player: int) -> np.ndarray:
        """Turn a value for ``player`` into ``float[num_players]`` (zero-sum for 2 players)."""
        if self.num_players == 1:
            return np.array([value], dtype=np.float64)
        out = np.full(2, -value, dtype=np.float64)
        out[player] = value
        return out

    def __repr__(self) -> str:
        return f"<Game {self.game_id}>"


def random_moves(game: Game, plies: int, rng: np.random.Generator) -> tuple[State, list[int]]:
    """Play up to ``plies`` uniformly random legal moves from ``game.initial_state()``,
    stopping early if the game ends; return the position reached and the moves played
    (random openings of evaluations and of self-play)."""
    s, moves = game.initial_state(), []
    while len(moves) < plies and not game.is_terminal(s):
        moves.append(int(rng.choice(np.flatnonzero(game.legal_mask(s)))))
        s = game.next_state(s, moves[-1])
    return s, moves
