"""The PettingZoo AEC shell: conformance on every native game, classic-env semantics."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import api_test, seed_test
from pettingzoo.utils import wrappers

from az_gym.envs.aec import AzGymEnv
from az_gym.envs.registry import available_games, game_and_state, make
from az_gym.envs.tictactoe import TicTacToe
from az_gym.game import IllegalActionError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize("name", available_games())
def test_pettingzoo_api_and_seed(name: str) -> None:
    api_test(make(name), num_cycles=300)
    seed_test(lambda: make(name), num_cycles=300)


@pytest.mark.parametrize("name", available_games())
def test_random_game_matches_the_rules(name: str) -> None:
    """Random legal play through the env agrees with the game, move by move."""
    env = make(name)
    env.reset(seed=3)
    game, rng = env.game, np.random.default_rng(3)
    state = game.initial_state()
    for agent in env.agent_iter():
        obs, reward, term, trunc, _ = env.last()
        if term or trunc:
            assert reward == game.returns(state)[int(agent[-1])]
            env.step(None)
            continue
        player = game.to_play(state)
        assert agent == f"player_{player}"
        assert obs["observation"].dtype == np.float32
        np.testing.assert_array_equal(obs["observation"], game.observation(state, player))
        np.testing.assert_array_equal(obs["action_mask"], game.legal_mask(state).astype(np.int8))
        other = env.observe(f"player_{1 - player}")
        assert not other["action_mask"].any()
        np.testing.assert_array_equal(other["observation"], game.observation(state, 1 - player))
        a = int(rng.choice(np.flatnonzero(obs["action_mask"])))
        env.step(a)
        state = game.next_state(state, a)
        assert env.state == state
    assert env.agents == []


def test_tictactoe_win_rewards_and_dead_steps() -> None:
    env = make("tictactoe")
    env.reset()
    for a in (0, 3, 1, 4, 2):  # X takes the top row
        env.step(a)
    assert env.terminations == {"player_0": True, "player_1": True}
    assert env.truncations == {"player_0": False, "player_1": False}
    assert env.rewards == {"player_0": 1.0, "player_1": -1.0}
    assert env.agent_selection == "player_1"
    assert env.last()[1] == -1.0
    env.step(None)
    assert env.agent_selection == "player_0"
    assert env.last()[1] == 1.0
    with pytest.raises(ValueError, match="None"):
        env.step(0)
    env.step(None)
    assert env.agents == []


def test_illegal_move_follows_terminate_illegal_wrapper() -> None:
    """An occupied cell: -1 for the offender, 0 for the other, all terminated+truncated."""
    ours = make("tictactoe")
    ours.reset()
    ours.step(4)
    ours.step(4)  # player_1 plays the occupied centre
    # The same sequence on the same rules through PettingZoo's own wrapper stack.
    theirs = wrappers.OrderEnforcingWrapper(
        wrappers.TerminateIllegalWrapper(AzGymEnv(TicTacToe()), illegal_reward=-1)
    )
    theirs.reset()
    theirs.step(4)
    theirs.observe(theirs.agent_selection)
    theirs.step(4)  # the wrapper catches it before our env sees it
    for env in (ours, theirs):
        assert env.rewards == {"player_0": 0.0, "player_1": -1.0}
        assert all(env.terminations.values()) and all(env.truncations.values())
    assert ours.infos["player_1"]["illegal_action"] == 4
    assert ours.agent_selection == "player_0"
    assert ours.last()[1] == 0.0
    ours.step(None)
    assert ours.last()[1] == -1.0
    ours.step(None)
    assert ours.agents == []


def test_out_of_space_action_raises_and_keeps_state() -> None:
    env = make("tictactoe")
    env.reset()
    env.step(np.int32(4))
    before = env.state
    for bad in (9, -1, 1.5, "a", True):
        with pytest.raises(IllegalActionError, match="illegal action"):
            env.step(bad)
    assert env.state == before and env.agent_selection == "player_1"


def test_step_before_reset_is_refused() -> None:
    env = make("tictactoe")
    with pytest.raises(AssertionError, match="reset"):
        env.step(0)
    with pytest.raises(AssertionError, match="reset"):
        env.observe("player_0")


def test_state_set_state_and_symmetries() -> None:
    env = make("tictactoe")
    env.reset()
    env.step(0)
    game = env.game
    s = game.next_state(game.next_state(game.initial_state(), 4), 8)
    env.set_state(s)
    assert env.state is s and env.agent_selection == "player_0"
    np.testing.assert_array_equal(env.observe("player_0")["observation"], game.observation(s, 0))
    won = game.initial_state()
    for a in (0, 3, 1, 4, 2):
        won = game.next_state(won, a)
    env.set_state(won)
    assert all(env.terminations.values())
    assert env._cumulative_rewards == {"player_0": 1.0, "player_1": -1.0}
    assert len(env.symmetries()) == 8 and env.symmetries()[0].name == "rot0"


def test_pettingzoo_wrappers_forward_game_and_symmetries() -> None:
    """BaseWrapper forwards public attributes; `state` is shadowed by AECEnv.state()."""
    env = wrappers.OrderEnforcingWrapper(wrappers.AssertOutOfBoundsWrapper(make("tictactoe")))
    env.reset()
    env.step(4)
    assert env.game.name == "tictactoe"
    assert len(env.symmetries()) == 8
    assert env.unwrapped.state.to_play == 1
    game, state = game_and_state(env)
    assert game is env.unwrapped.game and state is env.unwrapped.state


def test_render_modes(capsys: pytest.CaptureFixture[str]) -> None:
    env = make("tictactoe", render_mode="ansi")
    env.reset()
    env.step(4)
    text = env.render()
    assert "X" in text and "player_1 to move" in text
    env = make("tictactoe", render_mode="human")
    env.reset()
    env.step(0)
    assert env.render() is None
    assert "X" in capsys.readouterr().out
    with pytest.raises(ValueError, match="render_mode"):
        make("tictactoe", render_mode="rgb")
    env = make("connect_four", render_mode="rgb_array")  # numpy-drawn, as the Gymnasium view
    env.reset()
    empty = env.render()
    env.step(3)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == empty.shape and frame.shape[2] == 3
    assert not np.array_equal(frame, empty)
    assert make("tictactoe").metadata["name"] == "tictactoe_v0"
    assert make("tictactoe").metadata["is_parallelizable"] is False
