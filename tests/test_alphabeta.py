"""Alpha-beta: exact values on tictactoe, never losing, heuristics on every native game."""

from __future__ import annotations

import functools
import time

import numpy as np
import pytest

from az_gym.agents import AlphaBetaAgent, RandomAgent
from az_gym.agents.alphabeta import WIN
from az_gym.agents.heuristics import HEURISTICS, ZERO, Heuristic, heuristic_for
from az_gym.envs.registry import make_game
from az_gym.envs.tictactoe import TicTacToe
from az_gym.evaluation import evaluate, play_game


def _play(game, actions):
    s = game.initial_state()
    for a in actions:
        s = game.step(s, a)
    return s


def _minimax(game, state) -> int:
    """Plain game value (-1, 0, +1) for the player to move, no pruning, no table."""

    @functools.cache
    def solve(key):
        s = states[key]
        mover = game.to_play(s)
        best = -2
        for a in game.legal_actions(s):
            c = game.next_state(s, a)
            if game.is_terminal(c):
                v = int(game.returns(c)[mover])
            else:
                states[game.key(c)] = c
                v = -solve(game.key(c))
            best = max(best, v)
        return best

    states = {game.key(state): state}
    return solve(game.key(state))


def test_tictactoe_start_is_a_draw():
    game = make_game("tictactoe")
    value, best = AlphaBetaAgent(seed=0).search(game, game.initial_state())
    assert value == 0.0
    assert sorted(best) == list(range(9))  # every first move draws


def test_known_won_position_and_fastest_win():
    game = make_game("tictactoe")
    #   X O .    X to move: a1 (cell 6) or a2 (cell 3) makes a fork, a win in 3 plies
    #   . X .
    #   . . O
    s = _play(game, [0, 1, 4, 8])
    value, best = AlphaBetaAgent(seed=0).search(game, s)
    assert value == WIN - 3
    assert sorted(best) == [3, 6]  # every move of the best value, for random tie-breaking
    assert {AlphaBetaAgent(seed=k).act_state(game, s) for k in range(12)} == {3, 6}
    # with a win on the board it is taken at once (1 ply), not delayed
    s = _play(game, [0, 3, 1, 4])
    value, best = AlphaBetaAgent(seed=0).search(game, s)
    assert (value, best) == (WIN - 1, [2])


def test_values_match_plain_minimax_on_random_positions():
    game = make_game("tictactoe")
    rng = np.random.default_rng(0)
    agent = AlphaBetaAgent(seed=0)
    for _ in range(40):
        s = game.initial_state()
        for _ in range(int(rng.integers(0, 6))):
            if game.is_terminal(s):
                break
            s = game.next_state(s, int(rng.choice(game.legal_actions(s))))
        if game.is_terminal(s):
            continue
        value, _ = agent.search(game, s)
        assert np.sign(value) == _minimax(game, s)
        assert abs(value) > 500 or value == 0


def test_never_loses_tictactoe():
    res = evaluate(AlphaBetaAgent(seed=1), RandomAgent(seed=2), "tictactoe", 60, seed=3)
    assert res.losses == 0 and res.wins > 40
    assert res.per_color[0].wins + res.per_color[1].wins == res.wins
    self_play = evaluate(AlphaBetaAgent(seed=4), AlphaBetaAgent(seed=5), "tictactoe", 6, seed=6)
    assert self_play.draws == 6


def test_unknown_game_falls_back_to_pure_search():
    class Clone(TicTacToe):
        name = "tictactoe_clone"

    game = Clone()
    assert heuristic_for(game) is ZERO and heuristic_for(make_game("tictactoe")).solve
    agent = AlphaBetaAgent(depth=None, seed=0)
    assert agent.search(game, game.initial_state())[0] == 0.0
    # depth 1 without knowledge still sees an immediate win
    assert AlphaBetaAgent(depth=1).act_state(game, _play(game, [0, 3, 1, 4])) == 2


def test_depth_is_validated():
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="depth"):
            AlphaBetaAgent(depth=bad)


def test_connect_four_depth5_beats_random_quickly():
    game = make_game("connect_four")
    agent = AlphaBetaAgent(depth=5, seed=0)
    t = time.perf_counter()
    returns, moves = play_game(game, [agent, RandomAgent(seed=1)], seed=2)
    per_move = (time.perf_counter() - t) / max(1, (len(moves) + 1) // 2)
    assert returns[0] == 1.0
    print(f"alpha-beta depth 5 on connect four: {per_move * 1e3:.1f} ms per move")


def test_connect_four_heuristic_sees_a_double_threat():
    # X holds columns 1 and 2 of the bottom row, O the cells above them. X to move plays
    # column 3: an open three (_XXX_) with two threats, a win 3 plies away.
    game = make_game("connect_four")
    s = _play(game, [1, 1, 2, 2])
    value, best = AlphaBetaAgent(depth=4, seed=0).search(game, s)
    assert (value, best) == (WIN - 3, [3])


@pytest.mark.parametrize("name", ["connect_four", "othello", "gomoku"])
def test_heuristics_are_bounded_and_symmetric(name):
    game = make_game(name)
    h = HEURISTICS[name]
    rng = np.random.default_rng(1)
    s = game.initial_state()
    for _ in range(12):
        v = h.evaluate(game, s)
        assert -1.0 < v < 1.0
        order = h.order(game, s, game.legal_actions(s))
        assert order and set(order) <= set(game.legal_actions(s))
        s = game.next_state(s, int(rng.choice(game.legal_actions(s))))
        if game.is_terminal(s):
            break


@pytest.mark.parametrize("name,depth", [("othello", 2), ("gomoku", 2)])
def test_plays_legal_games_on_big_boards(name, depth):
    kwargs = {"size": 6} if name == "othello" else {}
    game = make_game(name, **kwargs)
    returns, moves = play_game(game, [AlphaBetaAgent(depth=depth, seed=0), RandomAgent(seed=1)],
                               seed=0)  # fmt: skip
    assert returns[0] >= 0 and len(moves) > 4


def test_custom_heuristic_is_used():
    calls = []

    def evaluate_fn(game, state):
        calls.append(1)
        return 0.0

    game = make_game("connect_four")
    AlphaBetaAgent(depth=2, heuristic=Heuristic(evaluate=evaluate_fn)).act_state(
        game, game.initial_state()
    )
    assert calls
