"""Single-player Gymnasium envs through GymnasiumGame: cloning, masks, agents, training."""

from __future__ import annotations

import copy
import json
import pickle
from typing import ClassVar

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.utils import EzPickle

from az_gym.agents.alphazero import AlphaZeroAgent
from az_gym.envs.gym_adapter import GymnasiumGame, GymnasiumState, clone_gym_env
from az_gym.envs.registry import game_and_state
from az_gym.game import GameError, GameOverError, IllegalActionError
from az_gym.mcts import MctsParams
from az_gym.networks import NetworkConfig

torch.set_num_threads(1)
TINY_MLP = NetworkConfig(kind="mlp", hidden=(16,), value_hidden=8)


def frozen_lake(slippery: bool = False) -> gymnasium.Env:
    return gymnasium.make("FrozenLake-v1", map_name="4x4", is_slippery=slippery)


def cliff_walking() -> gymnasium.Env:
    return gymnasium.make("CliffWalking-v1")


class MaskedCorridor(gymnasium.Env):
    """Walk a corridor of ``length`` cells to its right end (reward 1 there).

    Actions: 0 = left, 1 = right, 2 = jump two right, 3 = stay. Legal: left unless at 0,
    right always, jump only from even cells, stay never. Illegal actions raise, so a test
    that hands one over fails. The mask is in ``info["action_mask"]`` (``mask_in="info"``)
    or given by ``action_masks()`` (``mask_in="method"``). Observation: ``Box`` one-hot.
    """

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self, length: int = 6, mask_in: str = "info") -> None:
        self.length, self.mask_in = length, mask_in
        self.observation_space = spaces.Box(0.0, 1.0, (length,), np.float32)
        self.action_space = spaces.Discrete(4)
        self.pos = 0

    def action_masks(self) -> np.ndarray:
        return np.array([self.pos > 0, True, self.pos % 2 == 0, False])

    def _get_obs(self) -> np.ndarray:
        return np.eye(self.length, dtype=np.float32)[self.pos]

    def _get_info(self) -> dict:
        return {"action_mask": self.action_masks()} if self.mask_in == "info" else {}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = 0
        return self._get_obs(), self._get_info()

    def step(self, action):
        if not self.action_masks()[action]:
            raise AssertionError(f"illegal action {action} at cell {self.pos}")
        self.pos = min(self.pos + (-1, 1, 2, 0)[action], self.length - 1)
        done = self.pos == self.length - 1
        return self._get_obs(), float(done), done, False, self._get_info()


class GridWalk(gymnasium.Env):
    """A deterministic 3x3 grid walk from the top left to the bottom right corner.

    Actions 0..3: up, right, down, left (walls block). Reward 1 at the goal; the episode
    ends there or after 12 steps (truncated, return 0). Observation: ``Discrete(9)``.
    """

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = spaces.Discrete(9)
        self.action_space = spaces.Discrete(4)
        self.cell, self.t = 0, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.cell, self.t = 0, 0
        return self.cell, {}

    def step(self, action):
        r, c = divmod(self.cell, 3)
        dr, dc = ((-1, 0), (0, 1), (1, 0), (0, -1))[action]
        r, c = min(max(r + dr, 0), 2), min(max(c + dc, 0), 2)
        self.cell, self.t = 3 * r + c, self.t + 1
        done = self.cell == 8
        return self.cell, float(done), done, self.t >= 12 and not done, {}


def make_grid_game() -> GymnasiumGame:
    """Zero-argument, module-level: picklable by reference for worker processes."""
    return GymnasiumGame(GridWalk, name="grid_walk")


def env_position(env: gymnasium.Env) -> tuple:
    """What identifies a toy-text env's position, its step count and its RNG state."""
    raw = env.unwrapped
    steps = getattr(env, "_elapsed_steps", None)
    return int(raw.s), steps, json.dumps(raw.np_random.bit_generator.state, default=str)


# ------------------------------------------------------------------ cloning
@pytest.mark.parametrize("make", [frozen_lake, cliff_walking])
def test_clone_stepped_like_the_original(make):
    rng = np.random.default_rng(0)
    env = make()
    env.reset(seed=3)
    for a in rng.integers(0, 4, 3):
        env.step(int(a))
    clone = clone_gym_env(env)
    assert type(clone) is type(env) and clone.env is not env.env  # every layer copied
    for a in rng.integers(0, 4, 8):
        out_env, out_clone = env.step(int(a)), clone.step(int(a))
        assert out_env[:4] == out_clone[:4]
        assert env_position(env) == env_position(clone)
        if out_env[2] or out_env[3]:
            break


def test_stochastic_clone_has_the_original_future():
    env = frozen_lake(slippery=True)
    env.reset(seed=11)
    env.step(1)
    clone = clone_gym_env(env)
    plain = copy.deepcopy(env)  # toy-text envs also deep-copy correctly, only slower
    actions = [2, 2, 1, 1, 2, 1, 2, 2, 1]
    trajectories = []
    for e in (env, clone, plain):
        traj = []
        for a in actions:
            obs, r, term, trunc, _ = e.step(a)
            traj.append((obs, r))
            if term or trunc:
                break
        trajectories.append(traj)
    assert trajectories[0] == trajectories[1] == trajectories[2]
    # and the slip happened somewhere, so the RNG state really mattered
    assert [o for o, _ in trajectories[0]] != [4, 8, 9, 13, 14][: len(trajectories[0])]


class PicklyGridWalk(GridWalk, EzPickle):
    """GridWalk as an ``EzPickle`` (like Gymnasium's Box2D and MuJoCo envs)."""

    def __init__(self) -> None:
        GridWalk.__init__(self)
        EzPickle.__init__(self)


def test_ezpickle_envs_are_cloned_layer_by_layer():
    env = gymnasium.wrappers.TimeLimit(PicklyGridWalk(), max_episode_steps=20)
    env.reset(seed=0)
    env.step(1)
    env.step(2)
    assert copy.deepcopy(env).unwrapped.cell == 0  # EzPickle rebuilds: the position is lost
    clone = clone_gym_env(env)
    assert clone.unwrapped.cell == 4 and clone._elapsed_steps == 2
    assert clone.step(2)[0] == 7 and env.unwrapped.cell == 4
    game = GymnasiumGame(PicklyGridWalk)
    state = pickle.loads(pickle.dumps(game.next_state(game.initial_state(), 2)))
    assert state.env.unwrapped.cell == 3 and game.next_state(state, 1).obs.argmax() == 4


@pytest.mark.parametrize("clone", ["deepcopy", "replay"])
@pytest.mark.parametrize("slippery", [False, True])
def test_game_states_follow_the_env(clone, slippery):
    game = GymnasiumGame(lambda: frozen_lake(slippery), clone=clone, seed=5)
    env = frozen_lake(slippery)
    obs, _ = env.reset(seed=5)
    state = game.initial_state()
    total = 0.0
    for t, a in enumerate([1, 1, 2, 2, 1, 2, 2, 1, 0, 3]):
        assert game.observation(state).argmax() == obs and game.move_number(state) == t
        if game.is_terminal(state):
            break
        obs, r, term, trunc, _ = env.step(a)
        total += r
        state = game.next_state(state, a)
        assert game.is_terminal(state) == (term or trunc)
    assert game.returns(state).tolist() == ([total] if game.is_terminal(state) else [0.0])


def test_next_state_never_mutates_its_input():
    game = GymnasiumGame(lambda: frozen_lake(slippery=True))
    state = game.next_state(game.initial_state(), 1)
    before = (env_position(state.env), state.obs.copy(), state.steps, state.total_return)
    children = [game.next_state(state, 2) for _ in range(3)]
    assert (env_position(state.env), state.steps, state.total_return) == (
        before[0], before[2], before[3])  # fmt: skip
    assert np.array_equal(state.obs, before[1]) and not state.obs.flags.writeable
    # the same RNG state each time, so the same (random) outcome each time
    assert len({game.key(c) for c in children}) == 1
    assert game.initial_state().steps == 0 and game.initial_state().env.unwrapped.s == 0


def test_cliff_walking_returns_and_render():
    game = GymnasiumGame(cliff_walking, return_scale=100)  # returns of -13 and below
    assert game.observation_shape == (48,) and game.num_actions == 4
    state = game.initial_state()
    for a in [0] + [1] * 11 + [2]:  # up, right along the cliff edge, down onto the goal
        state = game.step(state, a)
    assert game.is_terminal(state) and game.returns(state).tolist() == [-0.13]
    assert not game.legal_mask(state).any()
    assert "step 13, return -13" in game.render(state) and "T" in game.render(game.initial_state())
    with pytest.raises(GameOverError):
        game.step(state, 0)
    with pytest.raises(IllegalActionError):
        game.step(game.initial_state(), 4)


def test_states_and_games_pickle():
    game = GymnasiumGame(lambda: frozen_lake(slippery=True), clone="deepcopy")
    state = game.next_state(game.next_state(game.initial_state(), 1), 2)
    again = pickle.loads(pickle.dumps(state))
    assert isinstance(again, GymnasiumState) and again.steps == 2
    assert game.key(game.next_state(again, 1)) == game.key(game.next_state(state, 1))
    grid = pickle.loads(pickle.dumps(make_grid_game()))
    assert grid.game_id == "grid_walk" and grid.observation_shape == (9,)


# -------------------------------------------------------------------- masks and agents
@pytest.mark.parametrize("mask_in", ["info", "method"])
def test_masked_env_never_gets_an_illegal_move(mask_in):
    game = GymnasiumGame(lambda: MaskedCorridor(mask_in=mask_in))
    assert game.legal_mask(game.initial_state()).tolist() == [False, True, True, False]
    agent = AlphaZeroAgent(game, TINY_MLP, MctsParams(num_iters_per_turn=16), seed=0)
    for episode in range(3):
        state = game.initial_state()
        agent.reset()
        while not game.is_terminal(state):
            a = agent.act_state(game, state)
            assert game.legal_mask(state)[a], (episode, state.steps, a)
            state = game.next_state(state, a)  # MaskedCorridor raises on illegal moves
            assert state.steps <= 60
    assert game.returns(state).tolist() == [1.0]


def test_agent_acts_on_a_live_env_without_touching_it():
    env = MaskedCorridor()
    env.reset(seed=0)
    env.step(1)  # at cell 1: left and right are legal, jump is not
    agent = AlphaZeroAgent(env, TINY_MLP, MctsParams(num_iters_per_turn=16), seed=0)
    for _ in range(4):
        assert agent.act(env) in (0, 1)
    assert env.pos == 1
    game, state = game_and_state(env)
    assert game is game_and_state(env)[0]  # one adapter per env object
    assert state.env is not env and state.obs.argmax() == 1

    lake = frozen_lake()
    lake.reset(seed=0)
    lake.step(2)
    before = env_position(lake)
    agent = AlphaZeroAgent(lake, TINY_MLP, MctsParams(num_iters_per_turn=16), seed=0)
    assert agent.act(lake) in range(4)
    assert env_position(lake) == before
    _, state = game_and_state(lake)
    assert state.steps == 1 and state.obs.argmax() == 1


def test_game_and_state_reads_box_envs_and_refuses_continuous_ones():
    env = gymnasium.make("CartPole-v1")
    env.reset(seed=0)
    obs, *_ = env.step(1)
    game, state = game_and_state(env)
    assert isinstance(game, GymnasiumGame) and game.observation_shape == (4,)
    assert np.array_equal(state.obs, obs) and state.steps == 1
    with pytest.raises(TypeError, match=r"gymnasium\.Env with a Discrete action space"):
        game_and_state(gymnasium.make("Pendulum-v1"))


# ----------------------------------------------------------------------- training
def test_trainer_runs_single_player_alphazero(tmp_path):
    from az_gym.schedules import PLSchedule
    from az_gym.training.params import (
        ArenaParams,
        LearningParams,
        MemAnalysisParams,
        Params,
        SelfPlayParams,
        SimParams,
    )
    from az_gym.training.report import load_reports
    from az_gym.training.trainer import Trainer

    mcts = MctsParams(num_iters_per_turn=4)
    params = Params(
        self_play=SelfPlayParams(
            mcts=mcts, sim=SimParams(num_games=4, num_workers=4, batch_size=4, num_processes=1)
        ),
        learning=LearningParams(batch_size=16, max_batches_per_checkpoint=3),
        arena=ArenaParams(
            mcts=mcts,
            sim=SimParams(num_games=2, num_workers=2, batch_size=2, num_processes=1),
            update_threshold=0.0,
        ),
        memory_analysis=MemAnalysisParams(num_game_stages=2),
        num_iters=2,
        mem_buffer_size=PLSchedule((0,), (2000,)),
        network=TINY_MLP,
    )
    trainer = Trainer(make_grid_game, params, tmp_path / "run", quiet=True)
    reports = trainer.train()
    assert [r.iteration for r in reports] == [1, 2]
    for record in load_reports(tmp_path / "run"):
        assert record["arena"]["runs"]
        for arena in record["arena"]["runs"]:  # single-player rule: each net plays its games
            assert arena["num_games"] == 2 * params.arena.sim.num_games
            score = arena["candidate_reward"] - arena["best_reward"]
            assert arena["score"] == pytest.approx(score)
            assert 0.0 <= arena["candidate_reward"] <= 1.0 and 0.0 <= arena["best_reward"] <= 1.0
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["game_id"] == "grid_walk" and state["iteration"] == 2
    game = trainer.game
    a = trainer.best_agent(seed=0).act_state(game, game.initial_state())
    assert a in range(4)


# ----------------------------------------------------------------------- bad envs
class ContinuousEnv(gymnasium.Env):
    observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)


class DictObsEnv(gymnasium.Env):
    observation_space = spaces.Dict({"pos": spaces.Discrete(3)})
    action_space = spaces.Discrete(2)


def test_bad_envs_are_refused():
    with pytest.raises(ValueError, match=r"Discrete action space, got Box"):
        GymnasiumGame(ContinuousEnv)
    with pytest.raises(ValueError, match=r"Box or Discrete observation space, got Dict"):
        GymnasiumGame(DictObsEnv)
    with pytest.raises(ValueError, match="clone='copy'"):
        GymnasiumGame(GridWalk, clone="copy")
    with pytest.raises(ValueError, match="max_steps=0"):
        GymnasiumGame(GridWalk, max_steps=0)
    with pytest.raises(TypeError, match=r"not a gymnasium\.Env"):
        GymnasiumGame(lambda: 42)
    with pytest.raises(GameError, match="action mask at step 0"):
        GymnasiumGame(StuckEnv)  # all False while running: search could not move


class StuckEnv(MaskedCorridor):
    def action_masks(self) -> np.ndarray:
        return np.zeros(4, dtype=bool)


def test_max_steps_and_game_id():
    game = GymnasiumGame(GridWalk, max_steps=3)
    assert game.game_id == "GridWalk(max_steps=3)"
    state = game.initial_state()
    for _ in range(3):
        state = game.next_state(state, 0)  # bump into the top wall
    assert game.is_terminal(state) and state.truncated and game.returns(state).tolist() == [0.0]
    assert GymnasiumGame(frozen_lake).game_id == "FrozenLake-v1(is_slippery=False,map_name=4x4)"


def test_returns_outside_the_value_range_are_scaled_or_refused():
    """CartPole earns 1 a step: raw returns used to reach the search (and the value
    targets) unscaled, next to a tanh value head that cannot go past 1."""
    game = GymnasiumGame(lambda: gymnasium.make("CartPole-v1"))
    scaled = GymnasiumGame(lambda: gymnasium.make("CartPole-v1"), return_scale=500)
    assert scaled.game_id == "CartPole-v1(return_scale=500.0)"
    s, t = game.initial_state(), scaled.initial_state()
    assert game.returns(s).tolist() == [0.0]
    while not game.is_terminal(s):  # always push right: over after ~10 steps
        s, t = game.next_state(s, 1), scaled.next_state(t, 1)
    assert s.steps > 1
    with pytest.raises(ValueError, match=r"episode return \d+\.0 / return_scale 1\.0 .* outside"):
        game.returns(s)
    assert scaled.returns(t).tolist() == [t.steps / 500]
    with pytest.raises(ValueError, match="return_scale=0"):
        GymnasiumGame(lambda: gymnasium.make("CartPole-v1"), return_scale=0)
