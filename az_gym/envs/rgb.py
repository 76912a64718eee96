"""Board pictures as RGB arrays, drawn with numpy only (no pygame, no display).

:func:`board_rgb` is what ``render_mode="rgb_array"`` returns in the Gymnasium view: a
``uint8[rows * CELL, cols * CELL, 3]`` picture of the position, one ``CELL``-pixel square per
board cell, row 0 on top (as in the observation planes). It reads the position through the
game contract only: the two planes of ``game.observation(state, 0)`` are player 0's and
player 1's pieces, which holds for every native game and for PettingZoo board games such as
``connect_four_v3`` and ``tictactoe_v3`` seen through the adapter.

The picture is built from three ``CELL x CELL`` tiles (empty, player 0, player 1) indexed by
the board, so a frame costs one fancy-indexing copy: cheap enough for SB3's
``VecVideoRecorder`` at every step.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from az_gym.game import Game, State

CELL = 40
"""Pixels per board cell (a 9x9 gomoku frame is 360x360)."""


class BoardStyle(NamedTuple):
    """Colours and piece shapes of one game's picture."""

    background: tuple[int, int, int]
    """Colour of a cell square."""
    grid: tuple[int, int, int]
    """Colour of the one-pixel line around each cell."""
    hole: tuple[int, int, int] | None
    """Colour of an empty cell's disc (Connect Four's holes), ``None`` for none."""
    pieces: tuple[tuple[str, tuple[int, int, int]], tuple[str, tuple[int, int, int]]]
    """``(shape, colour)`` of player 0's and player 1's pieces; shape is ``"disc"``,
    ``"ring"`` or ``"cross"``."""


_BLACK, _WHITE = (20, 20, 20), (240, 240, 240)
STYLES: dict[str, BoardStyle] = {
    "tictactoe": BoardStyle(
        (250, 250, 250), (40, 40, 40), None, (("cross", (200, 40, 40)), ("ring", (30, 80, 200)))
    ),
    "connect_four": BoardStyle(
        (30, 70, 200),
        (30, 70, 200),
        (235, 235, 235),
        (("disc", (220, 30, 30)), ("disc", (245, 205, 20))),
    ),
    "othello": BoardStyle((20, 120, 50), (10, 60, 25), None, (("disc", _BLACK), ("disc", _WHITE))),
    "gomoku": BoardStyle((220, 180, 110), (90, 60, 20), None, (("disc", _BLACK), ("disc", _WHITE))),
}
"""Styles by ``game.name``; any other game gets :data:`DEFAULT_STYLE`."""
DEFAULT_STYLE = BoardStyle(
    (200, 200, 200), (90, 90, 90), None, (("disc", _BLACK), ("disc", _WHITE))
)


def check_drawable(game: Game) -> None:
    """Raise ``ValueError`` unless ``game``'s observation is ``[rows, cols, >= 2 planes]``."""
    shape = tuple(game.observation_shape)
    if len(shape) != 3 or shape[2] < 2:
        raise ValueError(
            f"render_mode='rgb_array' draws the first two observation planes as the players' "
            f"pieces; {game.name}'s observation has shape {shape}"
        )


def board_rgb(game: Game, state: State) -> np.ndarray:
    """Return ``uint8[rows * CELL, cols * CELL, 3]``: a picture of ``state``.

    ``rows, cols = game.observation_shape[:2]``; cell ``(r, c)`` (row 0 on top) shows player
    0's piece where plane 0 of ``game.observation(state, 0)`` is set, player 1's where plane 1
    is, else an empty square.
    """
    planes = np.asarray(game.observation(state, 0))
    board = np.zeros(planes.shape[:2], dtype=np.intp)  # 0 empty, 1 player 0, 2 player 1
    board[planes[..., 1] > 0] = 2
    board[planes[..., 0] > 0] = 1
    tiles = _tiles(STYLES.get(game.name, DEFAULT_STYLE))
    rows, cols = board.shape
    # tiles[board]: [rows, cols, CELL, CELL, 3] -> pixel rows then pixel columns.
    return tiles[board].transpose(0, 2, 1, 3, 4).reshape(rows * CELL, cols * CELL, 3)


@functools.cache
def _tiles(style: BoardStyle) -> np.ndarray:
    """``uint8[3, CELL, CELL, 3]``: the empty, player-0 and player-1 cell pictures (read-only)."""
    centre = (CELL - 1) / 2
    y, x = np.mgrid[0:CELL, 0:CELL] - centre
    radius = np.hypot(x, y)
    outer, width = 0.4 * CELL, 0.09 * CELL
    shapes = {
        "disc": radius <= outer,
        "ring": (radius <= outer) & (radius >= outer - 1.5 * width),
        "cross": ((np.abs(x - y) <= width) | (np.abs(x + y) <= width))
        & (np.maximum(np.abs(x), np.abs(y)) <= 0.3 * CELL),
    }
    empty = np.empty((CELL, CELL, 3), dtype=np.uint8)
    empty[:] = style.background
    if style.hole is not None:
        empty[shapes["disc"]] = style.hole
    empty[[0, -1], :] = style.grid
    empty[:, [0, -1]] = style.grid
    tiles = np.stack([empty, empty.copy(), empty.copy()])
    for tile, (shape, colour) in zip(tiles[1:], style.pieces):
        tile[shapes[shape]] = colour
    tiles.flags.writeable = False
    return tiles
