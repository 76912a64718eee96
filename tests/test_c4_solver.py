"""Known answers of the Connect Four solver of the strength yardstick (``bench/c4_solver.py``).

Scores are Pons': for the mover, ``(43 - m) // 2`` for a win whose winning stone is placed
with ``m`` stones on the board, negative for a loss, 0 for a draw. Late positions are checked
against plain minimax over the native rules (no pruning, no shared code with the solver).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import c4_solver

from az_gym.envs.connect_four import ConnectFour

GAME = ConnectFour()


def _state(moves: str):
    s = GAME.initial_state()
    for ch in moves:
        s = GAME.next_state(s, int(ch) - 1)
    return s


def _minimax(s) -> int:
    """Pons' score of ``s`` for its mover by exhaustive search."""
    best = -99
    for a in np.flatnonzero(GAME.legal_mask(s)):
        child = GAME.next_state(s, int(a))
        if child.winner >= 0:
            v = (43 - s.moves) // 2
        else:
            v = 0 if child.moves == 42 else -_minimax(child)
        best = max(best, v)
    return best


def test_position_matches_native_bitboards():
    s = _state("4453")
    assert c4_solver.position("4453") == (s.current, s.mask)


def test_win_in_one():
    # . . . . . . .
    # O O O . . . .
    # X X X . . . .   X to move: column 4 wins at once (6 stones stand: score 18)
    cur, mask = c4_solver.position("112233")
    assert c4_solver.solve(cur, mask) == 18
    assert c4_solver.plies_to_end(18, 6) == 1


def test_open_three_loses_everywhere():
    # X X X on the bottom row, open both sides, O to move: X wins with its 4th stone
    # (placed with 6 stones standing), whatever O plays.
    scores = c4_solver.move_scores(*c4_solver.position("44556"))
    assert scores.tolist() == [-18] * 7
    assert c4_solver.plies_to_end(-18, 5) == 2
    assert c4_solver.move_scores(*c4_solver.position("44556"), weak=True).tolist() == [-1] * 7


@pytest.mark.parametrize(
    "moves",
    [
        "1456625623654547612461554713721312",
        "1343474351771571217471554522566636",  # one move draws, the others lose
        "5656273237236422766315721434437167",  # the only win; two moves lose
        "5476353134677162446667422523532345",
    ],
)
def test_late_positions_match_minimax(moves):
    s = _state(moves)
    want = []
    for a in range(7):
        if not GAME.legal_mask(s)[a]:
            want.append(c4_solver.UNSOLVED)
            continue
        child = GAME.next_state(s, a)
        want.append((43 - s.moves) // 2 if child.winner >= 0 else -_minimax(child))
    assert c4_solver.move_scores(s.current, s.mask).tolist() == want


def test_budget_marks_unsolved():
    # Two stones played: far beyond a 1000-node budget.
    scores = c4_solver.move_scores(*c4_solver.position("44"), weak=True, budget=1000)
    assert (scores == c4_solver.UNSOLVED).all()
