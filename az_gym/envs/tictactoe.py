"""Tic-tac-toe on a 3x3 board.

Players: ``0`` plays X and moves first, ``1`` plays O.

Actions: ``0 .. 8``, the cell ``row * 3 + col`` (row 0 at the top). Names are
``a1 .. c3``: the column letter then the row number counted from the bottom, as in chess.

Observation: ``float32[3, 3, 2]``; plane 0 holds the observer's marks, plane 1 the opponent's.

Rewards: +1 to the player who completes a line of three, -1 to the other, 0 each on a draw.

Symmetries: the 8 symmetries of the square.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import NamedTuple

import numpy as np

from az_gym.game import Game, Symmetry, dihedral_symmetries

_LINES = np.array(
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 3, 6], [1, 4, 7], [2, 5, 8], [0, 4, 8], [2, 4, 6]]
)
_WIN_MASKS = tuple(sum(1 << int(c) for c in line) for line in _LINES)
# Legal mask of every set of occupied cells (a 9-bit int), so legal_mask is a lookup.
_EMPTY_CELLS = ((np.arange(512)[:, None] >> np.arange(9)) & 1) == 0


class TicTacToeState(NamedTuple):
    """Immutable position: one 9-bit mask of cells per player, the mover, the winner."""

    marks: tuple[int, int]
    to_play: int
    winner: int  # -1: none yet


def _has_line(bits: int) -> bool:
    for m in _WIN_MASKS:
        if bits & m == m:
            return True
    return False


class TicTacToe(Game):
    """Tic-tac-toe rules (see the module docstring)."""

    name = "tictactoe"
    player_marks = ("X", "O")
    """How the board shows players 0 and 1."""
    num_players = 2
    num_actions = 9
    observation_shape = (3, 3, 2)

    def initial_state(self) -> TicTacToeState:
        """Return the empty board, X to move."""
        return TicTacToeState((0, 0), 0, -1)

    def to_play(self, state: TicTacToeState) -> int:
        """Return the player to move."""
        return state.to_play

    def legal_mask(self, state: TicTacToeState) -> np.ndarray:
        """Return ``bool[9]``: the empty cells, none once the game is over."""
        if self.is_terminal(state):
            return np.zeros(9, dtype=bool)
        return _EMPTY_CELLS[state.marks[0] | state.marks[1]].copy()

    def next_state(self, state: TicTacToeState, action: int) -> TicTacToeState:
        """Return the position after the mover marks cell ``action`` (assumed legal)."""
        p = state.to_play
        mine = state.marks[p] | (1 << action)
        marks = (mine, state.marks[1]) if p == 0 else (state.marks[0], mine)
        return TicTacToeState(marks, 1 - p, p if _has_line(mine) else -1)

    def move_number(self, state: TicTacToeState) -> int:
        """Moves played so far."""
        return bin(state.marks[0] | state.marks[1]).count("1")

    def is_terminal(self, state: TicTacToeState) -> bool:
        """A line of three, or a full board."""
        return state.winner >= 0 or (state.marks[0] | state.marks[1]) == 0x1FF

    def returns(self, state: TicTacToeState) -> np.ndarray:
        """Return ``[r0, r1]``: +1/-1 for the winner/loser, zeros otherwise."""
        if state.winner < 0:
            return np.zeros(2)
        r = np.full(2, -1.0)
        r[state.winner] = 1.0
        return r

    def observation(self, state: TicTacToeState, player: int | None = None) -> np.ndarray:
        """Return ``float32[3, 3, 2]``: the observer's marks, then the opponent's."""
        p = state.to_play if player is None else player
        bits = np.array([state.marks[p], state.marks[1 - p]])
        planes = (bits[None, :] >> np.arange(9)[:, None]) & 1
        return planes.reshape(3, 3, 2).astype(np.float32)

    def key(self, state: TicTacToeState) -> Hashable:
        """The two masks and the mover."""
        return (state.marks, state.to_play)

    def render(self, state: TicTacToeState) -> str:
        """Rows from top to bottom, ``X``, ``O`` and ``.``, with coordinates."""
        rows = []
        for r in range(3):
            cells = []
            for c in range(3):
                i = r * 3 + c
                cells.append(
                    "X" if state.marks[0] >> i & 1 else "O" if state.marks[1] >> i & 1 else "."
                )
            rows.append(f"{3 - r} " + " ".join(cells))
        rows.append("  a b c")
        return "\n".join(rows)

    def winning_line(self, state: TicTacToeState) -> list[int] | None:
        """The three cells of the winner's line (a completed game), else ``None``."""
        if state.winner < 0:
            return None
        mine = state.marks[state.winner]
        return next([int(c) for c in line] for line, m in zip(_LINES, _WIN_MASKS) if mine & m == m)

    def action_to_string(self, action: int) -> str:
        """Cell name: column letter and row number from the bottom (``4`` -> ``"b2"``)."""
        r, c = divmod(int(action), 3)
        return f"{'abc'[c]}{3 - r}"

    def symmetries(self) -> list[Symmetry]:
        """The 8 dihedral symmetries."""
        return dihedral_symmetries(3)

    def apply_symmetry(self, state: TicTacToeState, symmetry: Symmetry) -> TicTacToeState:
        """Move each mark from cell ``sigma[p]`` to cell ``p``."""
        sigma = symmetry.sigma
        marks = tuple(
            sum(1 << p for p in range(9) if bits >> int(sigma[p]) & 1) for bits in state.marks
        )
        return TicTacToeState(marks, state.to_play, state.winner)  # type: ignore[arg-type]
