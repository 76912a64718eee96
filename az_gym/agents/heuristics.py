"""Static evaluations and move orderings for :class:`~az_gym.agents.alphabeta.AlphaBetaAgent`.

A :class:`Heuristic` is looked up by ``game.name`` in :data:`HEURISTICS`. Its ``evaluate``
scores a non-terminal position *for the player to move*, strictly inside ``(-1, 1)``, so
that any proven win or loss (worth about ``+-1000`` in the search) outranks it.

The heuristics read positions only through the public :class:`~az_gym.game.Game` API and
``game.observation(state)``, whose plane 0 holds the mover's stones and plane 1 the
opponent's for every native game; they never look inside a state, so a change of a
game's state layout cannot break them. A game without an entry gets :data:`ZERO`: value 0
everywhere, i.e. a pure depth-limited search that only sees wins, losses and draws.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from az_gym.game import Game, State

Evaluate = Callable[[Game, State], float]
"""``(game, state) -> value`` for the player to move, in ``(-1, 1)``."""
Order = Callable[[Game, State, Sequence[int]], list[int]]
"""``(game, state, legal actions) -> actions``, best first; may drop actions (prune)."""


def _zero(game: Game, state: State) -> float:
    """No knowledge: every running position is worth 0."""
    return 0.0


def _identity_order(game: Game, state: State, actions: Sequence[int]) -> list[int]:
    """Keep the action order."""
    return list(actions)


@dataclass(frozen=True)
class Heuristic:
    """What the alpha-beta search knows about one game."""

    evaluate: Evaluate = _zero
    """Static value of a running position for the player to move, in ``(-1, 1)``."""
    order: Order = field(default=_identity_order)
    """Move ordering (best first) applied after the transposition-table move."""
    solve: bool = False
    """Search to the end of the game whatever depth the agent was given (tiny games)."""


ZERO = Heuristic()
"""The fallback for unknown games: value 0, natural move order, depth-limited."""


# ---------------------------------------------------------------- line windows
@lru_cache(maxsize=16)
def _windows(height: int, width: int, k: int) -> np.ndarray:
    """``int[num_windows, k]``: flat cell indices of every line of ``k`` cells on the board."""
    out = []
    for r in range(height):
        for c in range(width):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                rr, cc = r + (k - 1) * dr, c + (k - 1) * dc
                if 0 <= rr < height and 0 <= cc < width:
                    out.append([(r + i * dr) * width + c + i * dc for i in range(k)])
    return np.array(out, dtype=np.int64).reshape(-1, k)


def _window_counts(game: Game, state: State, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Stones of the mover and of the opponent in each line of ``k`` cells, ``int[W]`` each."""
    obs = game.observation(state)
    h, w = obs.shape[0], obs.shape[1]
    win = _windows(h, w, k)
    mine = obs[:, :, 0].reshape(-1)[win].sum(axis=1)
    theirs = obs[:, :, 1].reshape(-1)[win].sum(axis=1)
    return mine, theirs


def _open_line_score(mine: np.ndarray, theirs: np.ndarray, weights: np.ndarray) -> float:
    """Sum of ``weights[n]`` over lines holding ``n`` stones of one side and none of the
    other, the mover's lines counted positively and the opponent's negatively."""
    ours = weights[mine[theirs == 0].astype(np.int64)].sum()
    their = weights[theirs[mine == 0].astype(np.int64)].sum()
    return float(ours - their)


# ------------------------------------------------------------------ tictactoe
def _tictactoe_order(game: Game, state: State, actions: Sequence[int]) -> list[int]:
    """Centre, then corners, then edges."""
    rank = {4: 0, 0: 1, 2: 1, 6: 1, 8: 1}
    return sorted(actions, key=lambda a: rank.get(a, 2))


# --------------------------------------------------------------- connect four
_C4_WEIGHTS = np.array([0.0, 0.0, 2.0, 5.0, 0.0])  # open 2s and 3s; a full 4 is terminal


def _connect_four_evaluate(game: Game, state: State) -> float:
    """Open 2s and 3s in every window of 4 (mover minus opponent) plus 3 per stone in the
    centre column; squashed by ``tanh(score / 60)``."""
    mine, theirs = _window_counts(game, state, 4)
    score = _open_line_score(mine, theirs, _C4_WEIGHTS)
    obs = game.observation(state)
    centre = obs.shape[1] // 2
    score += 3.0 * float(obs[:, centre, 0].sum() - obs[:, centre, 1].sum())
    return 0.99 * float(np.tanh(score / 60.0))


def _centre_first(game: Game, state: State, actions: Sequence[int]) -> list[int]:
    """Columns sorted by distance to the centre column (Connect Four)."""
    centre = (game.num_actions - 1) / 2
    return sorted(actions, key=lambda a: abs(a - centre))


# -------------------------------------------------------------------- othello
def _othello_evaluate(game: Game, state: State) -> float:
    """Disc difference, the mover's mobility and the corners held (mover minus opponent).

    ``0.2 * (discs difference / cells) + 0.3 * moves / (moves + 4) + 0.45 * corners / 4``;
    the opponent's mobility is not counted (it is not expressible through the game API
    without a position where the opponent moves).
    """
    obs = game.observation(state)
    n = obs.shape[0]
    mine, theirs = obs[:, :, 0], obs[:, :, 1]
    discs = float(mine.sum() - theirs.sum()) / (n * n)
    moves = float(game.legal_mask(state)[: n * n].sum())
    corners = [(0, 0), (0, n - 1), (n - 1, 0), (n - 1, n - 1)]
    corner = sum(float(mine[r, c] - theirs[r, c]) for r, c in corners) / 4.0
    return 0.2 * discs + 0.3 * moves / (moves + 4.0) + 0.45 * corner


def _othello_order(game: Game, state: State, actions: Sequence[int]) -> list[int]:
    """Corners first, cells next to an empty corner last (the X- and C-squares)."""
    n = game.observation_shape[0]
    corners = {0, n - 1, n * (n - 1), n * n - 1}

    def rank(a: int) -> int:
        if a in corners:
            return 0
        r, c = divmod(a, n)
        near = (r in (0, 1, n - 2, n - 1)) and (c in (0, 1, n - 2, n - 1))
        return 2 if near and a < n * n else 1

    return sorted(actions, key=rank)


# --------------------------------------------------------------------- gomoku
_GOMOKU_WEIGHTS = np.array([0.0, 1.0, 4.0, 16.0, 100.0, 0.0])


def _gomoku_evaluate(game: Game, state: State) -> float:
    """Open lines of five cells holding 1-4 stones of one side only (mover minus opponent,
    weights 1, 4, 16, 100), squashed by ``tanh(score / 200)``."""
    mine, theirs = _window_counts(game, state, 5)
    return 0.99 * float(np.tanh(_open_line_score(mine, theirs, _GOMOKU_WEIGHTS) / 200.0))


def _gomoku_order(game: Game, state: State, actions: Sequence[int]) -> list[int]:
    """Only empty cells next to a stone (king move), most neighbours first; the centre on an
    empty board. This PRUNES far cells, so the search is no longer exact for Gomoku."""
    obs = game.observation(state)
    stones = obs[:, :, 0] + obs[:, :, 1]
    n = stones.shape[0]
    if not stones.any():
        centre = (n // 2) * n + n // 2
        return [centre] if centre in actions else list(actions)
    padded = np.pad(stones, 1)
    near = sum(
        padded[1 + dr : 1 + dr + n, 1 + dc : 1 + dc + n]
        for dr in (-1, 0, 1)
        for dc in (-1, 0, 1)
        if dr or dc
    ).reshape(-1)
    kept = [a for a in actions if near[a] > 0]
    return sorted(kept or actions, key=lambda a: -near[a])


HEURISTICS: dict[str, Heuristic] = {
    "tictactoe": Heuristic(order=_tictactoe_order, solve=True),
    "connect_four": Heuristic(evaluate=_connect_four_evaluate, order=_centre_first),
    "othello": Heuristic(evaluate=_othello_evaluate, order=_othello_order),
    "gomoku": Heuristic(evaluate=_gomoku_evaluate, order=_gomoku_order),
}
"""Heuristics by ``game.name``; add entries with :func:`register_heuristic`."""


def register_heuristic(game_name: str, heuristic: Heuristic) -> None:
    """Make ``heuristic`` the default for games named ``game_name``."""
    if not isinstance(heuristic, Heuristic):
        raise TypeError(f"heuristic must be a Heuristic, got {type(heuristic).__name__}")
    HEURISTICS[game_name] = heuristic


def heuristic_for(game: Game) -> Heuristic:
    """The heuristic registered for ``game.name``, else :data:`ZERO`."""
    return HEURISTICS.get(game.name, ZERO)
