"""Tic-tac-toe rules: scripted games with the boards drawn in comments (X moves first).

Cells are named like chess squares: column a-c, row 1-3 counted from the bottom.
"""

from __future__ import annotations

import numpy as np
import pytest

from az_gym.envs.tictactoe import TicTacToe, TicTacToeState
from az_gym.game import GameOverError, IllegalActionError

GAME = TicTacToe()


def play(moves: str) -> TicTacToeState:
    """Play space-separated cell names through the validated ``step``."""
    state = GAME.initial_state()
    for name in moves.split():
        state = GAME.step(state, GAME.string_to_action(name))
    return state


def assert_win(state: TicTacToeState, winner: int) -> None:
    assert GAME.is_terminal(state) and state.winner == winner
    expected = np.full(2, -1.0)
    expected[winner] = 1.0
    np.testing.assert_array_equal(GAME.returns(state), expected)
    assert not GAME.legal_mask(state).any()


@pytest.mark.parametrize(
    ("moves", "winner"),
    [
        # 3 X X X     horizontal, top row
        # 2 O O .
        # 1 . . .
        ("a3 a2 b3 b2 c3", 0),
        # 3 X O .     vertical, column b, won by O
        # 2 . O X
        # 1 X O .
        ("a1 b1 c2 b2 a3 b3", 1),
        # 3 . . X     rising diagonal
        # 2 O X .
        # 1 X O .
        ("a1 b1 b2 a2 c3", 0),
        # 3 O X X     falling diagonal, won by O
        # 2 X O .
        # 1 . . O
        ("b3 a3 a2 b2 c3 c1", 1),
    ],
)
def test_lines(moves: str, winner: int) -> None:
    *before, _last = moves.split()
    assert not GAME.is_terminal(play(" ".join(before)))
    assert_win(play(moves), winner)


def test_no_win_before_the_third_mark() -> None:
    s = play("a3 a2 b3 b2")
    assert not GAME.is_terminal(s)
    assert GAME.legal_actions(s) == [2, 5, 6, 7, 8]


def test_full_board_draw() -> None:
    # 3 X O X
    # 2 X O O
    # 1 O X X
    s = play("a3 b3 c3 b2 a2 c2 b1 a1 c1")
    assert GAME.is_terminal(s) and s.winner == -1
    np.testing.assert_array_equal(GAME.returns(s), [0.0, 0.0])
    assert GAME.render(s) == "3 X O X\n2 X O O\n1 O X X\n  a b c"


def test_illegal_and_finished_games_raise_without_changing_the_state() -> None:
    s = play("b2")
    with pytest.raises(IllegalActionError) as info:
        GAME.step(s, 4)
    assert info.value.action == 4 and 4 not in info.value.legal
    assert "illegal action 4" in str(info.value)
    assert s == play("b2")
    done = play("a3 a2 b3 b2 c3")
    with pytest.raises(GameOverError):
        GAME.step(done, 8)


def test_action_names_round_trip() -> None:
    names = [GAME.action_to_string(a) for a in range(9)]
    assert names == ["a3", "b3", "c3", "a2", "b2", "c2", "a1", "b1", "c1"]
    assert all(GAME.string_to_action(n) == a for a, n in enumerate(names))
    assert GAME.string_to_action("B2") == 4


def test_observation_planes_follow_the_observer() -> None:
    s = play("a3 c1")  # X on cell 0, O on cell 8; X to move
    obs = GAME.observation(s)
    assert obs.shape == (3, 3, 2) and obs.dtype == np.float32
    assert obs[0, 0, 0] == 1 and obs[2, 2, 1] == 1 and obs.sum() == 2
    np.testing.assert_array_equal(GAME.observation(s, player=1), obs[..., ::-1])
