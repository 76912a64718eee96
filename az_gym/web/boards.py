"""What the page draws for a position: the board as JSON-ready data (numpy only, no web framework).

:func:`position_view` turns ``(game, state)`` into a dict the browser draws without knowing
any rules. It reads the position through the game contract only, as
:mod:`az_gym.envs.rgb` does: the two planes of ``game.observation(state, 0)`` are player 0's
and player 1's pieces (true of every native game).

The native games get a *board* view (``"kind"`` names the drawing: ``tictactoe`` grid,
``connect_four`` columns with discs, ``othello`` discs on green, ``gomoku`` stones on the
intersections), with each cell's action, so a click becomes a move; every other game (a
foreign PettingZoo env) gets the *generic* view: its text rendering and its legal moves by
name, one button each.

Connect Four's actions are columns, so its winning line (four cells, not four actions) is
found on the board here; tic-tac-toe and gomoku tell theirs (``game.winning_line``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from az_gym.agents.analysis import player_label
from az_gym.agents.human import result_words
from az_gym.game import Game, State

BOARD_KINDS = ("tictactoe", "connect_four", "othello", "gomoku")
"""Games drawn as a board (by ``game.name``); any other game gets the generic view."""

_DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))

PIECE_COLOURS = {
    "connect_four": ("red", "yellow"),
    "othello": ("black", "white"),
    "gomoku": ("black", "white"),
}
"""How board.js draws each player's pieces, in words (the marks X and O say less there)."""


def board_kind(game: Game) -> str:
    """``game.name`` for the natively drawn games, else ``"generic"``."""
    shape = tuple(game.observation_shape)
    if game.name in BOARD_KINDS and len(shape) == 3 and shape[2] >= 2:
        return game.name
    return "generic"


def board_grid(game: Game, state: State) -> np.ndarray:
    """``int8[rows, cols]``: 0 empty, 1 player 0's piece, 2 player 1's (row 0 on top)."""
    planes = np.asarray(game.observation(state, 0))
    grid = np.zeros(planes.shape[:2], dtype=np.int8)
    grid[planes[..., 1] > 0] = 2
    grid[planes[..., 0] > 0] = 1
    return grid


def cell_actions(game: Game) -> np.ndarray:
    """``int64[rows, cols]``: the action a click on each cell plays.

    Connect Four: the cell's column; the other board games: the cell index ``r * cols + c``.
    """
    rows, cols = game.observation_shape[:2]
    if board_kind(game) == "connect_four":
        return np.tile(np.arange(cols), (rows, 1))
    return np.arange(rows * cols).reshape(rows, cols)


def _connect_four_cell(grid: np.ndarray, column: int) -> tuple[int, int] | None:
    """The cell of the top disc of ``column`` (where the last disc dropped there landed)."""
    filled = np.flatnonzero(grid[:, column])
    return (int(filled[0]), column) if filled.size else None


def _run_of(grid: np.ndarray, piece: int, length: int) -> list[tuple[int, int]] | None:
    """The cells of a run of at least ``length`` of ``piece`` on ``grid``, else ``None``."""
    rows, cols = grid.shape
    for r in range(rows):
        for c in range(cols):
            for dr, dc in _DIRECTIONS:
                run = []
                rr, cc = r, c
                while 0 <= rr < rows and 0 <= cc < cols and grid[rr, cc] == piece:
                    run.append((rr, cc))
                    rr, cc = rr + dr, cc + dc
                if len(run) >= length:
                    return run
    return None


def winning_cells(game: Game, state: State, grid: np.ndarray) -> list[tuple[int, int]]:
    """``(row, col)`` of each cell of the winner's line in a won game (``[]`` otherwise)."""
    if not game.is_terminal(state):
        return []
    returns = np.asarray(game.returns(state))
    if game.num_players != 2 or returns[0] == returns[1]:
        return []
    winner = int(np.argmax(returns))
    if board_kind(game) == "connect_four":
        return _run_of(grid, winner + 1, 4) or []
    line = getattr(game, "winning_line", lambda _s: None)(state)
    cols = grid.shape[1]
    return [divmod(int(a), cols) for a in line or []]


def last_move_cell(game: Game, grid: np.ndarray, action: int | None) -> tuple[int, int] | None:
    """The cell the last move (``action``) put a piece on, ``None`` for none (or a pass)."""
    if action is None:
        return None
    rows, cols = grid.shape
    if board_kind(game) == "connect_four":
        return _connect_four_cell(grid, int(action))
    if 0 <= action < rows * cols:
        return divmod(int(action), cols)
    return None


def seat_label(game: Game, player: int) -> str:
    """The player's mark, with its colour where the board draws one: ``"X (black)"``."""
    colours = PIECE_COLOURS.get(board_kind(game))
    mark = player_label(game, player)
    return f"{mark} ({colours[player]})" if colours and player < 2 else mark


def result_text(game: Game, state: State, human: int) -> str:
    """The result in words for the human in seat ``human``: ``"You lose: O has 3 in a row
    (a1 b2 c3)."``, ``"Draw."``, ``"You win, 21 discs to 15."`` (Othello)."""
    returns = np.asarray(game.returns(state), dtype=np.float64)
    words = result_words(returns, human)
    head = {"you win": "You win", "you lose": "You lose", "draw": "Draw"}[words]
    counts = getattr(game, "disc_counts", None)
    if counts is not None:  # Othello: the score decides
        discs = counts(state)
        return f"{head}, {discs[human]} discs to {discs[1 - human]}."
    line = getattr(game, "winning_line", lambda _s: None)(state)
    if line and words != "draw":
        winner = int(np.argmax(returns))
        cells = " ".join(game.action_to_string(a) for a in line)
        return f"{head}: {player_label(game, winner)} has {len(line)} in a row ({cells})."
    return f"{head}."


def _axis_labels(game: Game) -> tuple[list[str], list[str]]:
    """Column and row labels read from the action names (``a``..``c``, ``3``..``1``)."""
    rows, cols = game.observation_shape[:2]
    if board_kind(game) == "connect_four":
        return [game.action_to_string(c) for c in range(cols)], [""] * rows
    names = [game.action_to_string(c) for c in range(cols)]  # the top row: "a3" "b3" "c3"
    col_labels = [n.rstrip("0123456789") for n in names]
    row_labels = [game.action_to_string(r * cols)[len(col_labels[0]) :] for r in range(rows)]
    return col_labels, row_labels


def board_layout(game: Game) -> dict[str, Any]:
    """What never changes during a game: the drawing kind, the size, labels and actions."""
    kind = board_kind(game)
    out: dict[str, Any] = {"kind": kind, "marks": [seat_label(game, p) for p in range(2)]}
    if kind == "generic":
        return out
    rows, cols = game.observation_shape[:2]
    col_labels, row_labels = _axis_labels(game)
    out.update(
        rows=int(rows),
        cols=int(cols),
        col_labels=col_labels,
        row_labels=row_labels,
        cell_actions=cell_actions(game).tolist(),
    )
    return out


def position_view(
    game: Game, state: State, history: Sequence[int], movers: Sequence[int], human: int
) -> dict[str, Any]:
    """Everything the page shows about ``state`` (JSON-ready).

    Args:
        game: the rules.
        state: the position after ``history``.
        history: the actions played from the start.
        movers: the player who played each action of ``history``.
        human: the human's seat (0 moves first).

    Returns:
        ``to_play`` (seat), ``to_play_label``, ``legal`` (``[{"action", "name"}]``),
        ``moves`` (``[{"player", "label", "name"}]``), ``over``, ``result`` (words, or
        ``None``), ``text`` (the game's rendering) and, for board kinds, ``grid``
        (``int[rows][cols]``: 0 empty, 1/2 player 0/1), ``last`` and ``winning``
        (``[row, col]`` cells).
    """
    over = bool(game.is_terminal(state))
    mover = int(game.to_play(state))
    view: dict[str, Any] = {
        "to_play": None if over else mover,
        "to_play_label": None if over else player_label(game, mover),
        "legal": [
            {"action": a, "name": game.action_to_string(a)} for a in game.legal_actions(state)
        ],
        "moves": [
            {"player": int(p), "label": player_label(game, p), "name": game.action_to_string(a)}
            for a, p in zip(history, movers)
        ],
        "over": over,
        "result": result_text(game, state, human) if over else None,
        "text": game.render(state),
    }
    if board_kind(game) != "generic":
        grid = board_grid(game, state)
        last = last_move_cell(game, grid, history[-1] if history else None)
        view.update(
            grid=grid.tolist(),
            last=list(last) if last else None,
            winning=[list(c) for c in winning_cells(game, state, grid)],
        )
    return view
