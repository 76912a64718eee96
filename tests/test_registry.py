"""The registry: names, constructors, Gymnasium/PettingZoo registration, game_and_state."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium
import pettingzoo
import pytest
from pettingzoo.utils import wrappers

import az_gym
from az_gym.envs.aec import AzGymEnv
from az_gym.envs.gym_view import GymView
from az_gym.envs.registry import (
    available_games,
    game_and_state,
    gym_id,
    make,
    make_game,
    pettingzoo_id,
    register_all,
)
from az_gym.game import Game

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_available_games_and_constructors() -> None:
    assert available_games() == ["connect_four", "gomoku", "othello", "tictactoe"]
    for name in available_games():
        game = make_game(name)
        assert isinstance(game, Game) and game.name == name
        env = make(name, render_mode="ansi")
        assert isinstance(env, AzGymEnv) and env.render_mode == "ansi" and env.game.name == name
    assert make_game("othello", size=6).observation_shape[:2] == (6, 6)
    assert make("gomoku", size=15).game.num_actions == 225
    assert az_gym.make_game("tictactoe").num_actions == 9


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown game 'chess'.*'connect_four'.*'tictactoe'"):
        make("chess")
    with pytest.raises(ValueError, match="unknown game"):
        make_game("")


def test_ids() -> None:
    assert gym_id("connect_four") == "az_gym/ConnectFour-v0"
    assert [gym_id(n) for n in available_games()] == [
        "az_gym/ConnectFour-v0",
        "az_gym/Gomoku-v0",
        "az_gym/Othello-v0",
        "az_gym/TicTacToe-v0",
    ]
    assert pettingzoo_id("othello") == "az_gym/othello-v0"


def test_registration_is_idempotent_and_usable() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # re-registering would warn in both libraries
        register_all()
        register_all()
    for name in available_games():
        assert gym_id(name) in gymnasium.registry
        assert pettingzoo_id(name) in pettingzoo.aec_registry
        env = pettingzoo.make("aec", pettingzoo_id(name), render_mode="ansi")
        assert isinstance(env, AzGymEnv) and env.game.name == name
    env = gymnasium.make("az_gym/TicTacToe-v0", agent_color=1)
    assert isinstance(env.unwrapped, GymView) and env.unwrapped.agent_color == 1


def test_game_and_state_accepts_every_kind_of_env() -> None:
    aec = make("tictactoe")
    aec.reset()
    aec.step(4)
    game, state = game_and_state(aec)
    assert game is aec.game and state is aec.state
    wrapped = wrappers.OrderEnforcingWrapper(aec)
    assert game_and_state(wrapped) == (aec.game, aec.state)
    view = gymnasium.make("az_gym/ConnectFour-v0")
    view.reset(seed=0)
    game, state = game_and_state(view)
    assert game is view.unwrapped.game and state is view.unwrapped.state
    pair = (game, state)
    assert game_and_state(pair) == pair
    raw = pettingzoo.make("aec", "classic/tictactoe-v3")
    raw.reset()
    raw.step(0)
    game, state = game_and_state(raw)
    assert game.to_play(state) == 1 and game.legal_mask(state).sum() == 8
    for bad in (None, "tictactoe", (1, 2), gymnasium.make("Pendulum-v1")):
        with pytest.raises(TypeError, match="expected an az_gym AzGymEnv"):
            game_and_state(bad)


def test_envs_never_import_torch() -> None:
    code = (
        "import sys, az_gym, az_gym.envs.aec, az_gym.envs.gym_view, az_gym.envs.adapter, "
        "az_gym.envs.registry\n"
        "from az_gym.envs.registry import make, available_games\n"
        "[make(n) for n in available_games()]\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_misspelt_game_option_gets_did_you_mean() -> None:
    import pytest

    from az_gym.envs.registry import make_game

    meant = r"no option sise \(did you mean 'size'\? its options: size\)"
    with pytest.raises(ValueError, match=meant):
        make_game("gomoku", sise=9)
