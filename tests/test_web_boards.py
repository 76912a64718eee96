"""What the web page draws for a position (``az_gym.web.boards``: numpy only, no web framework)."""

from __future__ import annotations

from az_gym.envs.registry import make_game
from az_gym.web.boards import board_layout, position_view


def _play(name: str, moves: list[str], **options):
    game = make_game(name, **options)
    state, actions, movers = game.initial_state(), [], []
    for text in moves:
        a = game.string_to_action(text)
        movers.append(game.to_play(state))
        actions.append(a)
        state = game.step(state, a)
    return game, state, actions, movers


def test_connect_four_marks_its_diagonal_four_and_the_disc_that_landed_last() -> None:
    # X: 1 2 3 3 4 4 4 (with O's replies) builds the rising diagonal 1-2-3-4 from the bottom
    moves = ["1", "2", "2", "3", "3", "4", "3", "4", "4", "7", "4"]
    game, state, actions, movers = _play("connect_four", moves)
    view = position_view(game, state, actions, movers, human=0)
    assert view["over"] and view["result"] == "You win."
    assert sorted(view["winning"]) == [[2, 3], [3, 2], [4, 1], [5, 0]]  # row 0 on top
    assert view["last"] == [2, 3]  # the fourth disc of column 4 sits in row 2
    assert view["grid"][5][:4] == [1, 2, 2, 2] and view["legal"] == []


def test_tictactoe_and_gomoku_tell_their_lines_and_the_result_names_them() -> None:
    game, state, actions, movers = _play("tictactoe", ["a1", "b1", "a2", "b2", "a3"])
    view = position_view(game, state, actions, movers, human=1)
    assert view["result"] == "You lose: X has 3 in a row (a3 a2 a1)."
    assert sorted(view["winning"]) == [[0, 0], [1, 0], [2, 0]]
    game, state, actions, movers = _play(
        "gomoku", ["a1", "a9", "b2", "b9", "c3", "c9", "d4", "d9", "e5"]
    )
    view = position_view(game, state, actions, movers, human=0)
    assert view["result"] == "You win: X has 5 in a row (e5 d4 c3 b2 a1)."
    assert len(view["winning"]) == 5 and view["last"] == [4, 4]


def test_layouts_read_their_coordinates_from_the_action_names() -> None:
    t = board_layout(make_game("tictactoe"))
    assert (t["rows"], t["cols"], t["col_labels"], t["row_labels"]) == (
        3, 3, ["a", "b", "c"], ["3", "2", "1"]
    )  # fmt: skip
    o = board_layout(make_game("othello", size=6))
    assert o["row_labels"] == list("123456") and o["marks"] == ["X (black)", "O (white)"]
    g = board_layout(make_game("gomoku"))
    assert g["col_labels"][-1] == "i" and g["row_labels"][0] == "9"
    c = board_layout(make_game("connect_four"))
    assert c["col_labels"] == list("1234567") and c["cell_actions"][0] == list(range(7))


def test_othello_counts_discs_in_the_result() -> None:
    game = make_game("othello", size=6)
    state, actions, movers = game.initial_state(), [], []
    while not game.is_terminal(state):  # the first legal move each time, to the end
        a = game.legal_actions(state)[0]
        movers.append(game.to_play(state))
        actions.append(a)
        state = game.step(state, a)
    black, white = game.disc_counts(state)
    view = position_view(game, state, actions, movers, human=1)
    head = "You win" if white > black else "You lose" if white < black else "Draw"
    assert view["result"] == f"{head}, {white} discs to {black}."
    assert view["winning"] == []
