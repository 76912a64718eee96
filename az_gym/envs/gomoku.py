"""Free-style Gomoku on a 9x9 (default) or 15x15 board.

Players: ``0`` plays X (Black) and moves first, ``1`` plays O (White). No opening rule
and no restriction on either side.

Actions: ``0 .. size*size - 1``, place a stone on the empty cell ``row * size + col``
(row 0 at the TOP). Names are the column letter (``a``, ``b``, ... with no letter skipped)
then the row number counted from the BOTTOM, as on a Go board: on 9x9 action ``0`` is
``"a9"``, the centre ``40`` is ``"e5"``, the bottom-right corner ``80`` is ``"i1"``.

Observation: ``float32[size, size, 2]``; plane 0 holds the observer's stones, plane 1
the opponent's (row 0 on top).

Rewards: +1 to the first player with five OR MORE stones in a row (horizontal, vertical
or diagonal; overlines win), -1 to the other; 0 each when the board fills up.

Symmetries: the 8 symmetries of the square.

Implementation: one Python-int bitboard per player with a padded layout, bit
``row * (size + 1) + col``; the extra column is always empty, so walking along a line
stops at the board's edge. The win check walks only the four lines through the stone
just played.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import NamedTuple

import numpy as np

from az_gym.game import Game, Symmetry, dihedral_symmetries

SIZES = (9, 15)


class GomokuState(NamedTuple):
    """Immutable position."""

    stones: tuple[int, int]
    """One bitboard per player (bit ``row * (size + 1) + col``)."""
    to_play: int
    """The player to move."""
    moves: int
    """Stones on the board."""
    winner: int
    """The player with five or more in a row, or -1."""


class Gomoku(Game):
    """Free-style Gomoku rules (see the module docstring).

    Args:
        size: side of the board, 9 or 15.
    """

    name = "gomoku"
    player_marks = ("X", "O")
    """How the board shows players 0 and 1."""
    num_players = 2

    def __init__(self, size: int = 9) -> None:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size not in SIZES:
            raise ValueError(f"gomoku: size={size!r} is not supported; choose one of {SIZES}")
        self.size = n = int(size)
        self.num_actions = n * n
        self.observation_shape = (n, n, 2)
        w = n + 1  # padded row width
        self._w = w
        # _bit[a]: the padded bit of action a; the 4 line directions E, S, SE, SW.
        self._bit = tuple((a // n) * w + a % n for a in range(n * n))
        self._dirs = (1, w, w + 1, w - 1)
        self._nbytes = (n * w + 7) // 8
        cell_bits = np.array(self._bit)
        self._cell_bits = cell_bits
        self._obs_index = np.stack([cell_bits, cell_bits + 8 * self._nbytes], axis=-1).reshape(
            n, n, 2
        )

    def options(self) -> dict[str, int]:
        """``{"size": size}``."""
        return {"size": self.size}

    def _unpack(self, raw: bytes) -> np.ndarray:
        return np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")

    def _five(self, bits: int, p: int) -> bool:
        """Whether the stone on padded bit ``p`` lies on a line of five or more."""
        for d in self._dirs:
            run, q = 1, p + d
            while bits >> q & 1:
                run, q = run + 1, q + d
            q = p - d
            while q >= 0 and bits >> q & 1:
                run, q = run + 1, q - d
            if run >= 5:
                return True
        return False

    # -------------------------------------------------------------------- rules
    def initial_state(self) -> GomokuState:
        """Return the empty board, player 0 to move."""
        return GomokuState((0, 0), 0, 0, -1)

    def to_play(self, state: GomokuState) -> int:
        """Return the player to move."""
        return state.to_play

    def legal_mask(self, state: GomokuState) -> np.ndarray:
        """Return ``bool[size*size]``: the empty cells, none once the game is over."""
        if state.winner >= 0 or state.moves == self.num_actions:
            return np.zeros(self.num_actions, dtype=bool)
        occupied = state.stones[0] | state.stones[1]
        return self._unpack(occupied.to_bytes(self._nbytes, "little"))[self._cell_bits] == 0

    def next_state(self, state: GomokuState, action: int) -> GomokuState:
        """Return the position after the mover plays on cell ``action`` (assumed legal)."""
        p = state.to_play
        bit = self._bit[action]
        mine = state.stones[p] | (1 << bit)
        stones = (mine, state.stones[1]) if p == 0 else (state.stones[0], mine)
        winner = p if self._five(mine, bit) else -1
        return GomokuState(stones, 1 - p, state.moves + 1, winner)

    def move_number(self, state: GomokuState) -> int:
        """Moves played so far."""
        return state.moves

    def is_terminal(self, state: GomokuState) -> bool:
        """Five or more in a row, or a full board."""
        return state.winner >= 0 or state.moves == self.num_actions

    def returns(self, state: GomokuState) -> np.ndarray:
        """Return ``[r0, r1]``: +1/-1 for the winner/loser, zeros otherwise."""
        r = np.zeros(2)
        if state.winner >= 0:
            r[:] = -1.0
            r[state.winner] = 1.0
        return r

    def observation(self, state: GomokuState, player: int | None = None) -> np.ndarray:
        """Return ``float32[size, size, 2]``: the observer's stones, the opponent's."""
        p = state.to_play if player is None else player
        nb = self._nbytes
        raw = state.stones[p].to_bytes(nb, "little") + state.stones[1 - p].to_bytes(nb, "little")
        return self._unpack(raw)[self._obs_index].astype(np.float32)

    def key(self, state: GomokuState) -> Hashable:
        """The two bitboards and the mover."""
        return (state.stones, state.to_play)

    def render(self, state: GomokuState) -> str:
        """Rows from top to bottom, ``X``, ``O`` and ``.``, with coordinates."""
        n, rows = self.size, []
        for r in range(n):
            cells = []
            for c in range(n):
                b = self._bit[r * n + c]
                x, o = state.stones[0] >> b & 1, state.stones[1] >> b & 1
                cells.append("X" if x else "O" if o else ".")
            rows.append(f"{n - r:>2} " + " ".join(cells))
        rows.append("   " + " ".join(chr(ord("a") + c) for c in range(n)))
        return "\n".join(rows)

    def winning_line(self, state: GomokuState) -> list[int] | None:
        """The cells of the winner's line of five or more (a won game), else ``None``."""
        if state.winner < 0:
            return None
        bits, w, n = state.stones[state.winner], self._w, self.size
        for b in self._bit:
            for d in self._dirs:
                if not bits >> b & 1 or (b >= d and bits >> (b - d) & 1):
                    continue  # not a stone that starts a run in direction d
                run = [b]
                while bits >> (run[-1] + d) & 1:
                    run.append(run[-1] + d)
                if len(run) >= 5:
                    return [(q // w) * n + q % w for q in run]
        return None  # pragma: no cover - a winner always has a line

    def action_to_string(self, action: int) -> str:
        """Column letter and row number from the bottom (``40`` -> ``"e5"`` on 9x9)."""
        r, c = divmod(int(action), self.size)
        return f"{chr(ord('a') + c)}{self.size - r}"

    # --------------------------------------------------------------- symmetries
    def symmetries(self) -> list[Symmetry]:
        """The 8 dihedral symmetries."""
        return dihedral_symmetries(self.size)

    def apply_symmetry(self, state: GomokuState, symmetry: Symmetry) -> GomokuState:
        """Move the stone on cell ``sigma[p]`` to cell ``p``, for both players."""
        nb, padded = self._nbytes, np.zeros(8 * self._nbytes, dtype=np.uint8)

        def move(bits: int) -> int:
            cells = self._unpack(bits.to_bytes(nb, "little"))[self._cell_bits]
            padded[self._cell_bits] = cells[symmetry.sigma]
            return int.from_bytes(np.packbits(padded, bitorder="little").tobytes(), "little")

        stones = (move(state.stones[0]), move(state.stones[1]))
        return GomokuState(stones, state.to_play, state.moves, state.winner)
