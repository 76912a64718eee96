"""The single-agent Gymnasium view: check_env, opponents, colours, illegal actions."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import az_gym  # noqa: F401  (registers the Gymnasium ids)
from az_gym.envs.gym_view import GymView
from az_gym.envs.registry import available_games, gym_id, make_game
from az_gym.game import Game, GameOverError, IllegalActionError, State

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


class FirstLegalAgent:
    """A deterministic az_gym agent: the lowest legal action."""

    def __init__(self) -> None:
        self.resets = 0

    def act_state(self, game: Game, state: State) -> int:
        return int(np.flatnonzero(game.legal_mask(state))[0])

    def reset(self) -> None:
        self.resets += 1


@pytest.mark.parametrize("name", available_games())
@pytest.mark.parametrize("color", [0, "alternate"])
def test_check_env(name: str, color: int | str) -> None:
    # Othello has illegal actions in its first position: check_env steps, right after a
    # reset, an action sampled elsewhere, so it needs the PettingZoo-style "lose" rule.
    extra = {"illegal_action": "lose"} if name == "othello" else {}
    env = gymnasium.make(gym_id(name), agent_color=color, **extra)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_check_env_render_modes() -> None:
    check_env(gymnasium.make(gym_id("tictactoe"), render_mode="ansi").unwrapped)


@pytest.mark.parametrize("name", available_games())
def test_spaces_and_legal_sampling(name: str) -> None:
    env = gymnasium.make(gym_id(name)).unwrapped
    game = make_game(name)
    assert env.observation_space == gymnasium.spaces.Box(0, 1, game.observation_shape, np.float32)
    assert env.action_space == gymnasium.spaces.Discrete(game.num_actions)
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    terminated = False
    while not terminated:
        assert info["action_mask"].dtype == np.int8
        assert env.action_masks().dtype == bool
        np.testing.assert_array_equal(env.action_masks(), info["action_mask"].astype(bool))
        a = env.action_space.sample()  # always legal
        assert env.action_masks()[a]
        obs, reward, terminated, truncated, info = env.step(a)
        assert not truncated
    assert reward == env.game.returns(env.state)[env.agent_color]
    assert not info["action_mask"].any()
    with pytest.raises(GameOverError, match="reset"):
        env.step(0)


def test_opponent_agent_and_alternating_colours() -> None:
    opponent = FirstLegalAgent()
    env = GymView(make_game("tictactoe"), opponent=opponent, agent_color="alternate")
    colors, boards = [], []
    for _ in range(4):
        obs, info = env.reset()
        colors.append(info["agent_color"])
        boards.append(obs.copy())
    assert colors == [0, 1, 0, 1] and opponent.resets == 4
    assert not boards[0].any()
    # As player 1 the opponent (X) already took cell 0, seen in the learner's plane 1.
    assert boards[1][0, 0, 1] == 1 and boards[1].sum() == 1
    assert env.reset(seed=5)[1]["agent_color"] == 0  # a seeded reset restarts the cycle
    # Learner as O: the opponent plays 0, 1, 2 in order and wins the top row.
    env = GymView("tictactoe", opponent=FirstLegalAgent(), agent_color=1)
    env.reset(seed=0)
    _, r, term, _, _ = env.step(4)
    assert (r, term) == (0.0, False)
    _, r, term, _, _ = env.step(8)
    assert (r, term) == (-1.0, True)
    # Learner as X wins the middle column against the same opponent.
    env = GymView("tictactoe", opponent=FirstLegalAgent(), agent_color=0)
    env.reset()
    for a, want in ((1, 0.0), (4, 0.0), (7, 1.0)):
        _, r, term, _, _ = env.step(a)
        assert r == want
    assert term


def test_random_opponent_is_seeded() -> None:
    def episode(seed: int) -> list[int]:
        env = GymView("connect_four", agent_color=1)
        env.reset(seed=seed)
        moves = []
        terminated = False
        while not terminated:
            _, _, terminated, _, _ = env.step(int(np.flatnonzero(env.action_masks())[0]))
            moves.append(env.game.key(env.state))
        return moves

    assert episode(7) == episode(7)
    assert episode(7) != episode(8)


@pytest.mark.parametrize("name", available_games())
def test_illegal_action_raises_without_touching_state(name: str) -> None:
    env = gymnasium.make(gym_id(name), opponent=FirstLegalAgent()).unwrapped
    env.reset(seed=1)
    while env.action_masks().all():  # both play the lowest action: Connect Four's column 0 fills
        env.step(int(np.flatnonzero(env.action_masks())[0]))
    before = env.state
    illegal = int(np.flatnonzero(~env.action_masks())[0])
    with pytest.raises(IllegalActionError) as err:
        env.step(illegal)
    assert f"illegal action {illegal}" in str(err.value)
    assert str(env.game.legal_actions(before)) in str(err.value)
    for bad in (env.game.num_actions, -1, 0.5, "x"):
        with pytest.raises(IllegalActionError):
            env.step(bad)
    assert env.state is before


def test_illegal_action_lose_mode() -> None:
    env = GymView("tictactoe", illegal_action="lose")
    env.reset(seed=0)
    env.step(4)
    before = env.state
    occupied = int(np.flatnonzero(~env.action_masks())[0])
    _, r, term, trunc, info = env.step(occupied)
    assert (r, term, trunc, info["illegal_action"]) == (-1.0, True, False, occupied)
    assert env.state is before and not env.action_masks().any()
    with pytest.raises(GameOverError):
        env.step(0)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="agent_color"):
        GymView("tictactoe", agent_color=2)
    with pytest.raises(TypeError, match="act_state"):
        GymView("tictactoe", opponent=object())
    with pytest.raises(ValueError, match="unknown game 'chess'"):
        GymView("chess")
    with pytest.raises(ValueError, match="illegal_action"):
        GymView("tictactoe", illegal_action="ignore")


def test_render_and_game_kwargs(capsys: pytest.CaptureFixture[str]) -> None:
    env = gymnasium.make(gym_id("othello"), size=6, render_mode="ansi").unwrapped
    assert env.game.observation_shape[:2] == (6, 6)
    env.reset(seed=0)
    assert "you are player 0" in env.render()
    env = GymView("tictactoe", render_mode="human")
    env.reset()
    env.render()
    assert "a b c" in capsys.readouterr().out
