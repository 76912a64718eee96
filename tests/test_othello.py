"""Othello rules: scripted games and built positions, boards drawn as in the tests' strings.

Boards are written with row 1 on top (Othello books' orientation): X Black, O White.
"""

from __future__ import annotations

import numpy as np
import pytest

from az_gym.envs.othello import Othello, OthelloState
from az_gym.game import GameOverError, IllegalActionError

GAME = Othello()


def position(text: str, to_play: int, game: Othello = GAME) -> OthelloState:
    """Build a state from a picture: one line per row, top first, cells ``X O .``."""
    rows = [line.split() for line in text.strip().splitlines()]
    black = white = 0
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            bit = 1 << (r * game.size + c)
            black |= bit if cell == "X" else 0
            white |= bit if cell == "O" else 0
    return game.state_from_boards(black, white, to_play)


def play(moves: str, state: OthelloState | None = None) -> OthelloState:
    """Play space-separated move names through the validated ``step``."""
    state = GAME.initial_state() if state is None else state
    for name in moves.split():
        state = GAME.step(state, GAME.string_to_action(name))
    return state


def names(state: OthelloState) -> list[str]:
    return [GAME.action_to_string(a) for a in GAME.legal_actions(state)]


def test_standard_start() -> None:
    s = GAME.initial_state()
    assert GAME.render(s).splitlines()[3:5] == ["4 . . . O X . . .", "5 . . . X O . . ."]
    assert names(s) == ["d3", "c4", "f5", "e6"]
    assert GAME.disc_counts(s) == (2, 2) and GAME.to_play(s) == 0
    assert GAME.num_actions == 65 and GAME.game_id == "othello(size=8)"


def test_flips_in_all_eight_directions() -> None:
    s = position(
        """
        O . . . . . . .
        . . . . . . . .
        . . X . X . X .
        . . . O O O . .
        . . X O . O O X
        . . . O O O . .
        . . X . X . X .
        . . . . . . . .
        """,
        to_play=0,
    )
    after = GAME.step(s, GAME.string_to_action("e5"))
    # Nine discs flip (two of them on the long east line); the O on a1 is on no line.
    assert GAME.disc_counts(after) == (18, 1)
    assert GAME.render(after).splitlines()[2:7] == [
        "3 . . X . X . X .",
        "4 . . . X X X . .",
        "5 . . X X X X X X",
        "6 . . . X X X . .",
        "7 . . X . X . X .",
    ]
    # White's a1 disc cannot flank anything and Black cannot flank a corner: game over.
    assert GAME.is_terminal(after)
    np.testing.assert_array_equal(GAME.returns(after), [1.0, -1.0])


def test_open_lines_do_not_flip() -> None:
    s = position(
        """
        . O O X . . . .
        O . . . . . . .
        . . . . . . . .
        . . . . . . . .
        . . . . . . . .
        . . . . . . . .
        . . . . . . . .
        . . . . . . . .
        """,
        to_play=0,
    )
    after = GAME.step(s, GAME.string_to_action("a1"))
    assert GAME.render(after).splitlines()[:2] == ["1 X X X X . . . .", "2 O . . . . . . ."]


def test_forced_pass_then_end_by_disc_count() -> None:
    # 1 X O . . . . . .    White to move: nothing to flank (a1 is a corner), so White
    #                      must pass; Black then plays c1 and nobody can move any more.
    s = position("X O . . . . . .", to_play=1)
    assert not GAME.is_terminal(s)
    assert names(s) == ["pass"]
    with pytest.raises(IllegalActionError) as info:
        GAME.step(s, GAME.string_to_action("c1"))
    assert info.value.legal == [64] and "illegal action 2" in str(info.value)
    s = GAME.step(s, GAME.pass_action)
    assert GAME.to_play(s) == 0 and names(s) == ["c1"]
    s = play("c1", s)
    assert GAME.is_terminal(s) and GAME.disc_counts(s) == (3, 0)
    np.testing.assert_array_equal(GAME.returns(s), [1.0, -1.0])
    with pytest.raises(GameOverError):
        GAME.step(s, GAME.pass_action)


def test_pass_is_illegal_while_a_disc_can_be_placed() -> None:
    s = GAME.initial_state()
    with pytest.raises(IllegalActionError) as info:
        GAME.step(s, 64)
    assert info.value.legal == [19, 26, 37, 44]
    assert s == GAME.initial_state()


def test_game_ends_when_neither_can_move_with_empty_cells_left() -> None:
    # X on a1 and O on h8: no line anywhere, so the game is over at once, a 1-1 draw.
    s = position("X . . . . . . .\n" + ". . . . . . . .\n" * 6 + ". . . . . . . O", to_play=0)
    assert GAME.is_terminal(s)
    assert not GAME.legal_mask(s).any()
    np.testing.assert_array_equal(GAME.returns(s), [0.0, 0.0])
    with pytest.raises(GameOverError, match="over"):
        GAME.step(s, 64)


def test_white_wins_on_disc_count() -> None:
    s = position("O O . X", to_play=1)  # no disc flanks another: over, 2-1 to White
    assert GAME.is_terminal(s)
    np.testing.assert_array_equal(GAME.returns(s), [-1.0, 1.0])


def test_shortest_possible_game() -> None:
    # The 9-move wipe-out: Black ends with 13 discs, White with none.
    s = play("e6 f4 e3 f6 g5 d6 e7 f5 c5")
    assert GAME.is_terminal(s) and GAME.disc_counts(s) == (13, 0)
    np.testing.assert_array_equal(GAME.returns(s), [1.0, -1.0])


def test_random_game_invariants() -> None:
    rng = np.random.default_rng(7)
    s, moves = GAME.initial_state(), 0
    while not GAME.is_terminal(s):
        before = sum(GAME.disc_counts(s))
        a = int(rng.choice(GAME.legal_actions(s)))
        s = GAME.step(s, a)
        assert sum(GAME.disc_counts(s)) == before + (a != GAME.pass_action)
        moves += 1
    black, white = GAME.disc_counts(s)
    assert moves >= 56 and black + white <= 64
    np.testing.assert_array_equal(GAME.returns(s), [np.sign(black - white), np.sign(white - black)])


def test_names_round_trip() -> None:
    assert GAME.action_to_string(0) == "a1" and GAME.action_to_string(63) == "h8"
    assert GAME.action_to_string(64) == "pass" and GAME.string_to_action("PASS") == 64
    for a in range(GAME.num_actions):
        assert GAME.string_to_action(GAME.action_to_string(a)) == a


def test_observation_from_the_observer() -> None:
    s = GAME.initial_state()
    obs = GAME.observation(s)
    assert obs.shape == (8, 8, 2) and obs.dtype == np.float32
    assert obs[3, 4, 0] == obs[4, 3, 0] == 1  # Black's e4 and d5
    assert obs[3, 3, 1] == obs[4, 4, 1] == 1 and obs.sum() == 4
    np.testing.assert_array_equal(GAME.observation(s, player=1), obs[..., ::-1])


def test_six_by_six() -> None:
    g = Othello(size=6)
    s = g.initial_state()
    assert g.game_id == "othello(size=6)" and g.num_actions == 37
    assert g.observation(s).shape == (6, 6, 2)
    assert [g.action_to_string(a) for a in g.legal_actions(s)] == ["c2", "b3", "e4", "d5"]
    assert g.render(s).splitlines()[-1] == "  a b c d e f"


@pytest.mark.parametrize("size", [4, 7, 10, "8"])
def test_bad_size_is_refused(size: object) -> None:
    with pytest.raises(ValueError, match=f"size={size!r}"):
        Othello(size=size)  # type: ignore[arg-type]
