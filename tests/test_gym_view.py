"""The single-agent Gymnasium view: check_env, opponents, colours, illegal actions,
failing opponents, masks through wrappers, rendering."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import az_gym  # registers the Gymnasium ids
from az_gym.envs.gym_view import RENDER_MODES, GymView
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
def test_check_env_default_arguments(name: str, color: int | str) -> None:
    # Default arguments: the render check makes the env in every declared render mode.
    # Othello-v0 failed here while illegal actions raised by default (check_env steps,
    # right after a reset, an action it sampled in another position).
    env = gymnasium.make(gym_id(name), agent_color=color)
    check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("name", available_games())
@pytest.mark.parametrize("mode", RENDER_MODES)
def test_check_env_in_every_render_mode(name: str, mode: str) -> None:
    check_env(gymnasium.make(gym_id(name), render_mode=mode).unwrapped)


def test_metadata() -> None:
    assert set(GymView.metadata["render_modes"]) == {"ansi", "human", "rgb_array"}
    assert GymView.metadata["render_fps"] > 0


def test_action_masks_through_gymnasium_wrappers() -> None:
    env = gymnasium.make(gym_id("connect_four"), opponent=FirstLegalAgent())
    with pytest.raises(AttributeError):  # Gymnasium 1.x wrappers do not forward attributes
        env.action_masks()
    env.reset(seed=0)
    for _ in range(3):
        env.step(0)  # both sides fill column 0: X O X O X O
    mask = env.unwrapped.action_masks()
    assert mask.tolist() == [False] + [True] * 6
    np.testing.assert_array_equal(env.get_wrapper_attr("action_masks")(), mask)
    _, _, _, _, info = env.step(int(np.flatnonzero(mask)[-1]))
    np.testing.assert_array_equal(info["action_mask"].astype(bool), env.unwrapped.action_masks())


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
    env = gymnasium.make(gym_id(name), opponent=FirstLegalAgent(), illegal_action="raise")
    env = env.unwrapped
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


@pytest.mark.parametrize("bad", [9, -1, 0.5, "b2", True])
def test_an_action_outside_the_action_space_raises_even_by_default(bad: object) -> None:
    # Once a lost game (-1, terminated), which hid the caller's bug; pettingzoo.classic's
    # AssertOutOfBoundsWrapper refuses such actions too. The state is unchanged.
    env = gymnasium.make(gym_id("tictactoe")).unwrapped
    env.reset(seed=0)
    env.step(4)
    before = env.state
    with pytest.raises(IllegalActionError, match=r"is not in the action space Discrete\(9\)"):
        env.step(bad)
    assert env.state is before and env.action_masks().any()


def test_illegal_action_is_a_loss_by_default() -> None:
    # PettingZoo classic's rule: the mover loses, the episode ends, the board is unchanged.
    env = gymnasium.make(gym_id("tictactoe")).unwrapped
    env.reset(seed=0)
    obs, _, _, _, _ = env.step(4)
    before = env.state
    bad = int(np.flatnonzero(~env.action_masks())[0])  # an occupied cell
    obs2, r, term, trunc, info = env.step(bad)
    assert (r, term, trunc, info["illegal_action"]) == (-1.0, True, False, bad)
    assert env.state is before and not env.action_masks().any()
    assert not info["action_mask"].any()
    np.testing.assert_array_equal(obs2, obs)
    with pytest.raises(GameOverError):
        env.step(0)
    env.reset()
    assert env.action_masks().all()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="agent_color"):
        GymView("tictactoe", agent_color=2)
    with pytest.raises(TypeError, match="act_state"):
        GymView("tictactoe", opponent=object())
    with pytest.raises(ValueError, match="unknown game 'chess'"):
        GymView("chess")
    for rule in ("ignore", "lose", None):
        with pytest.raises(ValueError, match="illegal_action"):
            GymView("tictactoe", illegal_action=rule)
    with pytest.raises(ValueError, match="render_mode"):
        GymView("tictactoe", render_mode="rgb")


def test_render_and_game_kwargs(capsys: pytest.CaptureFixture[str]) -> None:
    env = gymnasium.make(gym_id("othello"), size=6, render_mode="ansi").unwrapped
    assert env.game.observation_shape[:2] == (6, 6)
    env.reset(seed=0)
    assert "you are player 0" in env.render()
    env = GymView("tictactoe", render_mode="human")
    env.reset()
    env.render()
    assert "a b c" in capsys.readouterr().out


# ------------------------------------------------------------------ failing opponents
class StubbornAgent:
    """A buggy opponent: always plays cell ``cell``, legal or not."""

    def __init__(self, cell: int) -> None:
        self.cell = cell

    def act_state(self, game: Game, state: State) -> int:
        return self.cell

    def __repr__(self) -> str:
        return f"StubbornAgent({self.cell})"


class CrashingAgent(FirstLegalAgent):
    """An opponent whose ``moves``-th move (counted from 1) raises, like a dead server."""

    def __init__(self, moves: int) -> None:
        super().__init__()
        self.moves, self.calls = moves, 0

    def act_state(self, game: Game, state: State) -> int:
        self.calls += 1
        if self.calls == self.moves:
            raise ConnectionError("evaluation server went away")
        return super().act_state(game, state)

    def __repr__(self) -> str:
        return "CrashingAgent"


def test_opponent_illegal_action_aborts_the_episode() -> None:
    # Before: step raised but left the opponent to move, and the next step was silently
    # played for the opponent (the learner's 4 became O's move).
    env = GymView("tictactoe", opponent=StubbornAgent(0), illegal_action="loss")
    env.reset(seed=0)
    env.step(8)  # X on c1, O (stubborn) on a3 = cell 0
    with pytest.raises(
        IllegalActionError,
        match=r"illegal action 0 in tictactoe \(the opponent StubbornAgent\(0\)\)",
    ):
        env.step(4)  # the opponent plays 0 again: occupied
    failed_in = env.state
    assert env.game.to_play(failed_in) == 1  # left where the opponent failed, for inspection
    assert not env.action_masks().any()
    for _ in range(2):
        with pytest.raises(
            RuntimeError,
            match=r"aborted because the opponent StubbornAgent\(0\) chose an illegal action 0",
        ):
            env.step(2)
    assert env.state is failed_in
    _, info = env.reset(seed=0)
    assert info["action_mask"].all()
    env.step(8)  # a new episode plays normally


@pytest.mark.parametrize("agent_color", [0, 1])
def test_opponent_exception_aborts_the_episode(agent_color: int) -> None:
    env = GymView("connect_four", opponent=CrashingAgent(2), agent_color=agent_color)
    env.reset(seed=0)  # as player 1 the learner sees the opponent's first move here
    if agent_color == 0:
        env.step(3)
    with pytest.raises(ConnectionError, match="server went away"):
        env.step(3)
    with pytest.raises(
        RuntimeError, match="CrashingAgent raised ConnectionError: evaluation server went away"
    ):
        env.step(3)
    assert env.reset(seed=0)[1]["action_mask"].all()
    env.step(3)


def test_opponent_failing_in_reset_aborts_the_episode() -> None:
    env = GymView("tictactoe", opponent=CrashingAgent(1), agent_color=1)
    with pytest.raises(ConnectionError):
        env.reset(seed=0)  # the opponent moves first and fails
    with pytest.raises(RuntimeError, match="aborted because the opponent CrashingAgent raised"):
        env.step(4)
    env.reset(seed=0)  # its second call works
    env.step(4)


class BrokenResetAgent(FirstLegalAgent):
    def reset(self) -> None:
        raise OSError("opening book missing")


def test_opponent_reset_failure_does_not_continue_the_old_game() -> None:
    env = GymView("tictactoe", opponent=FirstLegalAgent())
    env.reset(seed=0)
    env.step(4)
    env.opponent = BrokenResetAgent()
    with pytest.raises(OSError):
        env.reset()
    with pytest.raises(RuntimeError, match="opening book missing"):
        env.step(8)


# ------------------------------------------------------------------ rgb_array
@pytest.mark.parametrize("name", available_games())
def test_rgb_array_draws_the_board(name: str) -> None:
    from az_gym.envs.rgb import CELL

    env = gymnasium.make(gym_id(name), render_mode="rgb_array", opponent=FirstLegalAgent())
    env.reset(seed=0)
    game = env.unwrapped.game
    rows, cols = game.observation_shape[:2]
    frames = [env.render()]
    for _ in range(3):
        env.step(int(np.flatnonzero(env.unwrapped.action_masks())[-1]))
        frames.append(env.render())
    for frame in frames:
        assert frame.shape == (rows * CELL, cols * CELL, 3) and frame.dtype == np.uint8
    # Each cell's picture tells empty / player 0 / player 1, as the planes say.
    planes = game.observation(env.unwrapped.state, 0)
    cells = frames[-1].reshape(rows, CELL, cols, CELL, 3)
    pictures: dict[int, set[bytes]] = {0: set(), 1: set(), 2: set()}
    for r in range(rows):
        for c in range(cols):
            kind = int(planes[r, c, 0] + 2 * planes[r, c, 1])
            pictures[kind].add(cells[r, :, c].tobytes())
    assert all(len(v) == 1 for v in pictures.values())  # all three drawn, one picture each
    assert len(set.union(*pictures.values())) == 3  # ... three different pictures
    assert not np.array_equal(frames[0], frames[-1])


def test_rgb_array_refuses_games_it_cannot_draw() -> None:
    class FlatGame(make_game("tictactoe").__class__):
        observation_shape = (18,)

    with pytest.raises(ValueError, match="observation has shape"):
        GymView(FlatGame(), render_mode="rgb_array")


def test_gymnasium_vector_env() -> None:
    # Gymnasium's own vector API: masks stacked in info, call() reaches action_masks,
    # an illegal action ends only its own sub-env's game, frames come back per sub-env.
    envs = gymnasium.make_vec(gym_id("tictactoe"), num_envs=2, render_mode="rgb_array")
    _, info = envs.reset(seed=0)
    assert info["action_mask"].shape == (2, 9)
    envs.step(np.array([4, 4]))
    masks = envs.call("action_masks")
    assert not masks[0][4] and not masks[1][4]
    _, reward, terminated, _, info = envs.step(np.array([4, int(np.flatnonzero(masks[1])[0])]))
    assert reward[0] == -1.0 and terminated[0] and info["_illegal_action"].tolist() == [True, False]
    assert all(frame.shape == (120, 120, 3) for frame in envs.render())
    envs.close()


def test_an_opponent_for_another_game_is_refused_at_make() -> None:
    # it was accepted by make() and reset() and failed at the first step
    with pytest.raises(ValueError, match="built for game 'connect_four', asked to play"):
        gymnasium.make("az_gym/TicTacToe-v0", opponent=az_gym.pretrained("connect_four"))
