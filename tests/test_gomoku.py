"""Free-style Gomoku rules: scripted games, boards drawn in comments (X moves first).

Cells are named like Go points: column letter, row number counted from the bottom.
"""

from __future__ import annotations

import numpy as np
import pytest

from az_gym.envs.gomoku import Gomoku, GomokuState
from az_gym.game import GameOverError, IllegalActionError

GAME = Gomoku()


def play(moves: str, game: Gomoku = GAME) -> GomokuState:
    """Play space-separated cell names through the validated ``step``."""
    state = game.initial_state()
    for name in moves.split():
        state = game.step(state, game.string_to_action(name))
    return state


def interleave(x: str, o: str) -> str:
    """X's and O's moves, alternated (X first)."""
    xs, os_ = x.split(), o.split()
    return " ".join(m for pair in zip(xs, [*os_, ""]) for m in pair if m)


def assert_win(state: GomokuState, winner: int, game: Gomoku = GAME) -> None:
    assert game.is_terminal(state) and state.winner == winner
    expected = np.full(2, -1.0)
    expected[winner] = 1.0
    np.testing.assert_array_equal(game.returns(state), expected)
    assert not game.legal_mask(state).any()


@pytest.mark.parametrize(
    ("x", "o"),
    [
        ("a1 b1 c1 d1 e1", "a2 b2 c2 d2"),  # horizontal: X X X X X . . . .  on row 1
        ("e1 e2 e3 e4 e5", "a1 a2 a3 a4"),  # vertical on column e
        ("a1 b2 c3 d4 e5", "i1 i2 i3 i4"),  # rising diagonal
        ("a9 b8 c7 d6 e5", "i1 i2 i3 i4"),  # falling diagonal
        ("a1 b1 d1 e1 c1", "a2 b2 c2 d2"),  # X X X X X: the last stone fills the middle
        ("f5 g4 h3 i2 e6", "a1 a2 a3 a4"),  # falling diagonal ending at the right edge
    ],
)
def test_five_in_a_row_wins(x: str, o: str) -> None:
    moves = interleave(x, o)
    assert not GAME.is_terminal(play(moves.rsplit(" ", 1)[0]))
    assert_win(play(moves), 0)


def test_second_player_wins_too() -> None:
    # 2 O O O O O . . . .
    # 1 X X X X . . . . X
    #   a b c d e f g h i
    assert_win(play(interleave("a1 b1 c1 d1 i1", "a2 b2 c2 d2 e2")), 1)


def test_overline_wins() -> None:
    # 1 X X X X X X . . .    d1 joins two groups into six: free-style counts it
    #   a b c d e f g h i
    s = play(interleave("a1 b1 c1 e1 f1 d1", "a3 b3 c3 e3 g9"))
    assert_win(s, 0)


def test_four_does_not_win() -> None:
    s = play(interleave("a1 b1 c1 d1", "a9 b9 c9"))
    assert not GAME.is_terminal(s)
    np.testing.assert_array_equal(GAME.returns(s), [0.0, 0.0])


@pytest.mark.parametrize(
    "x",
    [
        "g2 h2 i2 a1 b1",  # consecutive action indices across the end of a row
        "c7 b6 a5 i5 h4",  # a falling diagonal that would wrap past the left edge
    ],
)
def test_lines_do_not_wrap_around_the_board(x: str) -> None:
    s = play(interleave(x, "e9 e8 e7 e6"))
    assert not GAME.is_terminal(s)


def test_full_board_draw() -> None:
    # 9 X X O O X X O O X      no five anywhere for either side
    # 8 O O X X O O X X O
    # 7 X X O O X X O O X
    # 6 O O X X O O X X O
    # 5 X X O O X X O O X
    # 4 O O X X O O X X O
    # 3 X X O O X X O O X
    # 2 O O X X O O X X O
    # 1 X X O O X X O O X
    #   a b c d e f g h i
    xs = [a for a in range(81) if ((a % 9 + 2 * (a // 9)) // 2) % 2 == 0]
    os_ = [a for a in range(81) if a not in xs]
    s = GAME.initial_state()
    for a in (m for pair in zip(xs, [*os_, None]) for m in pair if m is not None):
        s = GAME.step(s, a)
    assert GAME.is_terminal(s) and s.winner == -1 and s.moves == 81
    np.testing.assert_array_equal(GAME.returns(s), [0.0, 0.0])
    assert GAME.render(s).splitlines()[0] == " 9 X X O O X X O O X"


def test_illegal_moves_and_finished_games_raise() -> None:
    s = play("e5")
    with pytest.raises(IllegalActionError) as info:
        GAME.step(s, 40)
    assert info.value.action == 40 and 40 not in info.value.legal and len(info.value.legal) == 80
    assert s == play("e5")
    done = play(interleave("a1 b1 c1 d1 e1", "a2 b2 c2 d2"))
    with pytest.raises(GameOverError):
        GAME.step(done, 80)


def test_fifteen_board() -> None:
    g = Gomoku(size=15)
    assert g.game_id == "gomoku(size=15)" and g.num_actions == 225
    assert g.action_to_string(0) == "a15" and g.action_to_string(224) == "o1"
    s = play(interleave("k11 l12 m13 n14 o15", "a1 a2 a3 a4"), game=g)
    assert_win(s, 0, game=g)
    assert g.render(s).splitlines()[0] == "15 . . . . . . . . . . . . . . X"


def test_names_round_trip() -> None:
    for g in (GAME, Gomoku(15)):
        for a in range(g.num_actions):
            assert g.string_to_action(g.action_to_string(a)) == a
    assert GAME.action_to_string(40) == "e5" and GAME.action_to_string(80) == "i1"


def test_observation_planes() -> None:
    s = play("a9 i1")  # X on cell 0, O on cell 80; X to move
    obs = GAME.observation(s)
    assert obs.shape == (9, 9, 2) and obs.dtype == np.float32
    assert obs[0, 0, 0] == 1 and obs[8, 8, 1] == 1 and obs.sum() == 2
    np.testing.assert_array_equal(GAME.observation(s, player=1), obs[..., ::-1])


@pytest.mark.parametrize("size", [5, 19, 9.0])
def test_bad_size_is_refused(size: object) -> None:
    with pytest.raises(ValueError, match="size="):
        Gomoku(size=size)  # type: ignore[arg-type]
