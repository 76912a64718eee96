"""Connect Four on a board of 7 columns and 6 rows.

Players: ``0`` plays X (red in pettingzoo) and moves first, ``1`` plays O.

Actions: ``0 .. 6``, drop a stone in that column (left to right). Names are ``"1" .. "7"``.
A column is legal while its top cell is empty.

Observation: ``float32[6, 7, 2]``; row 0 is the TOP row, as in pettingzoo's
``connect_four_v3``. Plane 0 holds the observer's stones, plane 1 the opponent's.

Rewards: +1 to the player who first aligns four stones (horizontally, vertically or
diagonally), -1 to the other; 0 each when the board fills up without a line.

Symmetries: the identity and the left-right mirror (action ``a`` <-> ``6 - a``).

Implementation: bitboards in Python ints, the classic 7-bits-per-column layout: bit
``7 * col + row`` (row 0 at the bottom), bit 6 of each column a sentinel that stays empty
so that shifts never carry a line from one column into the next. A state is a small
immutable tuple of ints; :meth:`ConnectFour.next_state` is a handful of int operations
(about 1 microsecond) and :meth:`ConnectFour.legal_mask` a table lookup and a copy. The batch
methods :meth:`ConnectFour.legal_masks` and :meth:`ConnectFour.observations` (what the
search calls once per simulation step) read all the states as one ``int64`` array and work
on the bits with numpy.
"""

from __future__ import annotations

import operator
from collections.abc import Hashable, Sequence
from typing import NamedTuple

import numpy as np

from az_gym.game import Game, Symmetry, mirror_symmetry

WIDTH, HEIGHT = 7, 6
_H1 = HEIGHT + 1  # bits per column, sentinel included
_BOTTOM = tuple(1 << (_H1 * c) for c in range(WIDTH))
_TOP_CELLS = sum(1 << (_H1 * c + HEIGHT - 1) for c in range(WIDTH))
_COLUMN = (1 << _H1) - 1
# obs[r, c, k] = bit (k * 56 + 7 * c + 5 - r) of (mine, theirs) unpacked little-endian.
_OBS_INDEX = np.array(
    [
        [[k * 56 + _H1 * c + HEIGHT - 1 - r for k in range(2)] for c in range(WIDTH)]
        for r in range(HEIGHT)
    ]
)
_NO_MOVES = np.zeros(WIDTH, dtype=bool)
_TOP_SHIFTS = np.array([_H1 * c + HEIGHT - 1 for c in range(WIDTH)], dtype=np.int64)
# _CELL_SHIFTS[r, c]: the bit of the cell shown at row r (0 on top), column c.
_CELL_SHIFTS = np.array(
    [[_H1 * c + HEIGHT - 1 - r for c in range(WIDTH)] for r in range(HEIGHT)], dtype=np.int64
)
_new_tuple = tuple.__new__


def _legal_table(top: int) -> np.ndarray:
    """The legal mask for the occupied top cells ``top`` (read-only)."""
    out = np.array([not top >> (_H1 * c + HEIGHT - 1) & 1 for c in range(WIDTH)])
    out.flags.writeable = False
    return out


_LEGAL: dict[int, np.ndarray] = {}  # top-row bits -> mask, filled lazily (128 entries at most)


class ConnectFourState(NamedTuple):
    """Immutable position (bitboards as described in the module docstring)."""

    current: int
    """Stones of the player to move."""
    mask: int
    """All stones."""
    moves: int
    """Stones played so far."""
    to_play: int
    """The player to move (0 or 1)."""
    winner: int
    """The player who made four in a row, or -1."""


def _has_four(b: int) -> bool:
    """Whether bitboard ``b`` holds four in a row (unrolled: this is the hot path)."""
    m = b & (b >> _H1)  # horizontal
    if m & (m >> (2 * _H1)):
        return True
    m = b & (b >> 1)  # vertical
    if m & (m >> 2):
        return True
    m = b & (b >> HEIGHT)  # falling diagonal
    if m & (m >> (2 * HEIGHT)):
        return True
    m = b & (b >> (_H1 + 1))  # rising diagonal
    return bool(m & (m >> (2 * _H1 + 2)))


def _mirror(b: int) -> int:
    """Swap column ``c`` with column ``6 - c``."""
    out = 0
    for c in range(WIDTH):
        out |= ((b >> (_H1 * c)) & _COLUMN) << (_H1 * (WIDTH - 1 - c))
    return out


_GETTERS = tuple(operator.itemgetter(i) for i in range(5))


def _field(states: Sequence[ConnectFourState], i: int) -> np.ndarray:
    """``int64[B]``: field ``i`` of each state (bitboards fit in 49 bits)."""
    return np.fromiter(map(_GETTERS[i], states), np.int64, len(states))


class ConnectFour(Game):
    """Connect Four rules (see the module docstring)."""

    name = "connect_four"
    player_marks = ("X", "O")
    """How the board shows players 0 and 1."""
    num_players = 2
    num_actions = WIDTH
    observation_shape = (HEIGHT, WIDTH, 2)

    def initial_state(self) -> ConnectFourState:
        """Return the empty board, player 0 to move."""
        return ConnectFourState(0, 0, 0, 0, -1)

    def to_play(self, state: ConnectFourState) -> int:
        """Return the player to move."""
        return state.to_play

    def legal_mask(self, state: ConnectFourState) -> np.ndarray:
        """Return ``bool[7]``: the columns whose top cell is empty; none once over."""
        if state.winner >= 0 or state.moves == WIDTH * HEIGHT:
            return _NO_MOVES.copy()
        top = state.mask & _TOP_CELLS
        mask = _LEGAL.get(top)
        if mask is None:
            mask = _LEGAL[top] = _legal_table(top)
        return mask.copy()

    def legal_masks(self, states: Sequence[ConnectFourState]) -> np.ndarray:
        """Return ``bool[B, 7]``, :meth:`legal_mask` of each state, computed in one pass."""
        free = ((_field(states, 1)[:, None] >> _TOP_SHIFTS) & 1) == 0  # a full board: none
        free[_field(states, 4) >= 0] = False  # someone has won
        return free

    def observations(self, states: Sequence[ConnectFourState]) -> np.ndarray:
        """Return ``float32[B, 6, 7, 2]``, :meth:`observation` of each state for its mover."""
        mine = _field(states, 0)
        planes = np.stack([mine, mine ^ _field(states, 1)], axis=-1)[:, None, None, :]
        return ((planes >> _CELL_SHIFTS[None, :, :, None]) & 1).astype(np.float32)

    def next_state(self, state: ConnectFourState, action: int) -> ConnectFourState:
        """Return the position after the mover drops a stone in column ``action`` (legal)."""
        m = state.mask
        mask = m | (m + _BOTTOM[action])  # the carry lands on the column's lowest empty cell
        opponent = state.current ^ m  # the next mover's stones
        p = state.to_play
        winner = p if _has_four(mask ^ opponent) else -1
        # tuple.__new__ skips the NamedTuple's Python-level __new__ (0.4 of ~1.2 us).
        return _new_tuple(ConnectFourState, (opponent, mask, state.moves + 1, 1 - p, winner))

    def move_number(self, state: ConnectFourState) -> int:
        """Moves played so far."""
        return state.moves

    def is_terminal(self, state: ConnectFourState) -> bool:
        """Four in a row, or a full board."""
        return state.winner >= 0 or state.moves == WIDTH * HEIGHT

    def returns(self, state: ConnectFourState) -> np.ndarray:
        """Return ``[r0, r1]``: +1/-1 for the winner/loser, zeros otherwise."""
        r = np.zeros(2)
        if state.winner >= 0:
            r[:] = -1.0
            r[state.winner] = 1.0
        return r

    def _stones(self, state: ConnectFourState, player: int) -> int:
        return state.current if player == state.to_play else state.current ^ state.mask

    def observation(self, state: ConnectFourState, player: int | None = None) -> np.ndarray:
        """Return ``float32[6, 7, 2]`` (row 0 on top): the observer's stones, the opponent's."""
        p = state.to_play if player is None else player
        mine = self._stones(state, p)
        raw = mine.to_bytes(7, "little") + (mine ^ state.mask).to_bytes(7, "little")
        bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")
        return bits[_OBS_INDEX].astype(np.float32)

    def key(self, state: ConnectFourState) -> Hashable:
        """The mover's stones and all stones (they determine the mover too)."""
        return (state.current, state.mask)

    def render(self, state: ConnectFourState) -> str:
        """Rows from top to bottom, ``X`` (player 0), ``O`` and ``.``, column numbers below."""
        x = self._stones(state, 0)
        rows = []
        for r in range(HEIGHT - 1, -1, -1):
            cells = []
            for c in range(WIDTH):
                bit = 1 << (_H1 * c + r)
                cells.append("X" if x & bit else "O" if state.mask & bit else ".")
            rows.append(" ".join(cells))
        rows.append(" ".join(str(c + 1) for c in range(WIDTH)))
        return "\n".join(rows)

    def action_to_string(self, action: int) -> str:
        """Column number counted from 1 (``0`` -> ``"1"``)."""
        return str(int(action) + 1)

    def symmetries(self) -> list[Symmetry]:
        """The identity and the left-right mirror."""
        return [*super().symmetries(), mirror_symmetry(WIDTH, HEIGHT)]

    def apply_symmetry(self, state: ConnectFourState, symmetry: Symmetry) -> ConnectFourState:
        """Mirror the bitboards for ``"mirror"``; the identity returns ``state``."""
        if symmetry.name == "mirror":
            return state._replace(current=_mirror(state.current), mask=_mirror(state.mask))
        return super().apply_symmetry(state, symmetry)
