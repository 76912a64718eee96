"""Property tests: every symmetry of every native game obeys the laws of ``az_gym.game``.

States are reachable positions: a random playout of ``k`` moves from a seeded Generator.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from az_gym.envs.connect_four import ConnectFour
from az_gym.envs.gomoku import Gomoku
from az_gym.envs.othello import Othello
from az_gym.envs.tictactoe import TicTacToe
from az_gym.game import Game, State

GAMES = [TicTacToe(), ConnectFour(), Othello(6), Othello(8), Gomoku(9), Gomoku(15)]
IDS = [g.game_id for g in GAMES]


def random_state(game: Game, seed: int, k: int) -> State:
    """The position after ``k`` random legal moves (or the end of the game, if sooner)."""
    rng = np.random.default_rng(seed)
    s = game.initial_state()
    for _ in range(k):
        if game.is_terminal(s):
            break
        s = game.next_state(s, int(rng.choice(game.legal_actions(s))))
    return s


def test_symmetry_lists() -> None:
    counts = {"tictactoe": 8, "connect_four": 2, "othello": 8, "gomoku": 8}
    for g in GAMES:
        syms = g.symmetries()
        assert len(syms) == counts[g.name] and syms[0].name in ("identity", "rot0")
        for sym in syms:
            assert sorted(sym.sigma.tolist()) == list(range(g.num_actions))


@pytest.mark.parametrize("game", GAMES, ids=IDS)
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(0, 80))
def test_symmetry_laws(game: Game, seed: int, k: int) -> None:
    s = random_state(game, seed, k)
    mask, obs = game.legal_mask(s), game.observation(s)
    legal = np.flatnonzero(mask)
    rng = np.random.default_rng(seed)
    for sym in game.symmetries():
        t = game.apply_symmetry(s, sym)
        np.testing.assert_array_equal(game.legal_mask(t), mask[sym.sigma], err_msg=sym.name)
        np.testing.assert_array_equal(
            game.observation(t), sym.transform_observation(obs), err_msg=sym.name
        )
        for player in range(game.num_players):
            np.testing.assert_array_equal(
                game.observation(t, player), sym.transform_observation(game.observation(s, player))
            )
        assert game.is_terminal(t) == game.is_terminal(s)
        assert game.to_play(t) == game.to_play(s)
        np.testing.assert_array_equal(game.returns(t), game.returns(s))
        # Stepping commutes: action a in the transformed state is sigma[a] in the original.
        for a in rng.permutation(np.flatnonzero(mask[sym.sigma]))[:3]:
            after = game.apply_symmetry(game.next_state(s, int(sym.sigma[a])), sym)
            assert game.key(after) == game.key(game.next_state(t, int(a))), sym.name
        assert len(legal) == int(game.legal_mask(t).sum())


@pytest.mark.parametrize("game", GAMES, ids=IDS)
def test_every_first_move_commutes_with_every_symmetry(game: Game) -> None:
    s = game.initial_state()
    for sym in game.symmetries():
        t = game.apply_symmetry(s, sym)
        for a in game.legal_actions(t):
            after = game.apply_symmetry(game.next_state(s, int(sym.sigma[a])), sym)
            assert game.key(after) == game.key(game.next_state(t, a)), (sym.name, a)


@pytest.mark.parametrize("name", ["tictactoe", "connect_four", "othello", "gomoku"])
def test_move_number_counts_the_moves_played(name: str) -> None:
    from az_gym.envs.registry import make_game

    game = make_game(name)
    rng = np.random.default_rng(0)
    s = game.initial_state()
    assert game.move_number(s) == 0
    placed = 0
    while not game.is_terminal(s) and placed < 12:
        a = int(rng.choice(np.flatnonzero(game.legal_mask(s))))
        placed += game.action_to_string(a) != "pass"
        s = game.next_state(s, a)
        assert game.move_number(s) == placed
