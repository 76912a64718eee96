"""Connect Four rules: scripted games with the boards drawn in comments (X moves first)."""

from __future__ import annotations

import numpy as np
import pytest

from az_gym.envs.connect_four import ConnectFour, ConnectFourState
from az_gym.game import GameOverError, IllegalActionError

GAME = ConnectFour()


def play(moves: str, game: ConnectFour = GAME) -> ConnectFourState:
    """Play a string of column numbers ("4453...") through the validated ``step``."""
    state = game.initial_state()
    for ch in moves:
        state = game.step(state, game.string_to_action(ch))
    return state


def assert_win(state: ConnectFourState, winner: int) -> None:
    assert GAME.is_terminal(state)
    assert state.winner == winner
    expected = np.full(2, -1.0)
    expected[winner] = 1.0
    np.testing.assert_array_equal(GAME.returns(state), expected)
    assert not GAME.legal_mask(state).any()


def test_contract_attributes() -> None:
    assert GAME.num_actions == 7
    assert GAME.observation_shape == (6, 7, 2)
    assert GAME.game_id == "connect_four"
    s = GAME.initial_state()
    assert GAME.to_play(s) == 0 and not GAME.is_terminal(s)
    assert GAME.legal_mask(s).all()
    np.testing.assert_array_equal(GAME.returns(s), [0.0, 0.0])


def test_vertical_win() -> None:
    # . . . . . . .
    # X . . . . . .
    # X O . . . . .
    # X O . . . . .
    # X O . . . . .
    # 1 2 3 4 5 6 7
    s = play("1212121")
    assert_win(s, 0)


def test_three_is_not_a_win() -> None:
    s = play("121212")
    assert not GAME.is_terminal(s)
    np.testing.assert_array_equal(GAME.returns(s), [0.0, 0.0])


def test_horizontal_win_by_second_player() -> None:
    # . . . . . . .
    # . X X X . . .
    # X O O O O . .
    # 1 2 3 4 5 6 7
    assert not GAME.is_terminal(play("1223344"))
    assert_win(play("12233445"), 1)


def test_rising_diagonal_win() -> None:
    # . . . X . . .
    # . . X O . . .
    # . X O O . . .
    # X O X O . . X
    # 1 2 3 4 5 6 7
    assert not GAME.is_terminal(play("1224333474"))
    assert_win(play("12243334744"), 0)


def test_falling_diagonal_win() -> None:
    # . . . X . . .
    # . . . O X . .
    # . . . O O X .
    # X . . O X O X
    # 1 2 3 4 5 6 7      (the mirror image of the rising diagonal)
    assert_win(play("76645554144"), 0)


def test_full_board_draw() -> None:
    # O X O X O X O
    # X O O X O X O
    # X O X O X X X
    # O O X X X O X
    # X X O X O X O
    # X O O X O O O
    # 1 2 3 4 5 6 7
    s = play("461547114517541355666172452242736227373363")
    assert GAME.is_terminal(s) and s.winner == -1 and s.moves == 42
    np.testing.assert_array_equal(GAME.returns(s), [0.0, 0.0])
    assert not GAME.legal_mask(s).any()


def test_full_column_is_illegal_and_state_unchanged() -> None:
    s = play("111111")
    before = ConnectFourState(*s)
    assert GAME.legal_actions(s) == [1, 2, 3, 4, 5, 6]
    with pytest.raises(IllegalActionError) as info:
        GAME.step(s, 0)
    assert "illegal action 0" in str(info.value) and "[1, 2, 3, 4, 5, 6]" in str(info.value)
    assert info.value.legal == [1, 2, 3, 4, 5, 6]
    assert s == before


@pytest.mark.parametrize("bad", [-1, 7, 2.5, "3", None, True])
def test_out_of_range_or_wrong_type_actions(bad: object) -> None:
    s = GAME.initial_state()
    with pytest.raises(IllegalActionError, match="illegal action"):
        GAME.step(s, bad)  # type: ignore[arg-type]
    assert s == GAME.initial_state()


def test_stepping_a_finished_game_raises() -> None:
    s = play("1212121")
    with pytest.raises(GameOverError, match="over"):
        GAME.step(s, 3)


def test_action_names_round_trip() -> None:
    assert [GAME.action_to_string(a) for a in range(7)] == list("1234567")
    for a in range(7):
        assert GAME.string_to_action(GAME.action_to_string(a)) == a
    assert GAME.string_to_action(" 4 ") == 3
    with pytest.raises(IllegalActionError, match="'8'"):
        GAME.string_to_action("8")


def test_observation_top_row_first_and_mover_planes() -> None:
    s = play("44")  # X then O in column 4: X at the bottom, O above it; X to move
    obs = GAME.observation(s)
    assert obs.dtype == np.float32 and obs.shape == (6, 7, 2)
    assert obs[5, 3, 0] == 1 and obs[4, 3, 1] == 1 and obs.sum() == 2
    obs_o = GAME.observation(s, player=1)
    np.testing.assert_array_equal(obs_o, obs[..., ::-1])


def test_render_shows_coordinates_and_stones() -> None:
    text = GAME.render(play("44"))
    lines = text.splitlines()
    assert lines[-1] == "1 2 3 4 5 6 7"
    assert lines[-2] == ". . . X . . ."
    assert lines[-3] == ". . . O . . ."


def test_transpositions_share_a_key_and_states_are_not_mutated() -> None:
    a, b = play("123"), play("321")
    assert GAME.key(a) == GAME.key(b)
    assert GAME.key(a) != GAME.key(play("124"))
    s = play("4")
    before = tuple(s)
    GAME.next_state(s, 3)
    assert tuple(s) == before


def test_mirror_symmetry_on_a_position() -> None:
    mirror = GAME.symmetries()[1]
    assert mirror.name == "mirror"
    s = play("1123")
    m = GAME.apply_symmetry(s, mirror)
    assert GAME.key(m) == GAME.key(play("7765"))
    assert GAME.apply_symmetry(m, mirror) == s


def test_batch_masks_and_observations_match_the_single_state_ones() -> None:
    # Random positions (some won), a full-board draw, a full column, and the empty board.
    rng = np.random.default_rng(0)
    states = [GAME.initial_state(), play("461547114517541355666172452242736227373363"),
              play("444444"), play("4455667")]  # fmt: skip
    for _ in range(200):
        s = GAME.initial_state()
        for _ in range(int(rng.integers(0, 42))):
            if GAME.is_terminal(s):
                break
            s = GAME.next_state(s, int(rng.choice(np.flatnonzero(GAME.legal_mask(s)))))
        states.append(s)
    assert sum(GAME.is_terminal(s) for s in states) > 20
    masks = GAME.legal_masks(states)
    assert masks.dtype == bool and masks.shape == (len(states), 7)
    np.testing.assert_array_equal(masks, np.stack([GAME.legal_mask(s) for s in states]))
    obs = GAME.observations(states)
    assert obs.dtype == np.float32 and obs.shape == (len(states), 6, 7, 2)
    np.testing.assert_array_equal(obs, np.stack([GAME.observation(s) for s in states]))
    assert masks[2].tolist() == [True, True, True, False, True, True, True]
    assert GAME.legal_masks([]).shape == (0, 7) and GAME.observations([]).shape == (0, 6, 7, 2)
