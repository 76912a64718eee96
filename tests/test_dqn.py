"""Tests of the DQN agent: the target, the loss's gradient path, masking, target updates,
checkpoints, and short real learning runs (CartPole-v1, tic-tac-toe through GymView)."""

from __future__ import annotations

import importlib.util
import os
import pickle
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from az_gym.agents.dqn import DQNAgent, DQNConfig, DQNProgress
from az_gym.agents.dqn_network import QNetwork
from az_gym.agents.dqn_replay import Batch, ReplayBuffer, masked_max, td_target
from az_gym.envs.tictactoe import TicTacToe
from az_gym.game import GameOverError

torch.set_num_threads(1)

HAVE_GYM_VIEW = importlib.util.find_spec("az_gym.envs.gym_view") is not None
needs_gym_view = pytest.mark.skipif(not HAVE_GYM_VIEW, reason="az_gym.envs.gym_view missing")


class MaskedToyEnv(gym.Env):
    """A 6-step episode over 5 actions whose legal subset changes every step.

    Observation: ``float32[10]``, the step number one-hot then the legal mask. Reward +1 for
    the highest legal action, else 0. An illegal action raises, so a learner that ever picks
    one fails loudly. The last step is ``terminated``.
    """

    num_actions = 5

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(0.0, 1.0, (10,), np.float32)
        self.action_space = gym.spaces.Discrete(self.num_actions)
        self.t = 0
        self.mask = np.ones(self.num_actions, dtype=bool)

    def _draw(self) -> None:
        self.mask = self.np_random.random(self.num_actions) < 0.5
        self.mask[self.np_random.integers(self.num_actions)] = True

    def _obs(self) -> np.ndarray:
        onehot = np.zeros(5, dtype=np.float32)
        onehot[min(self.t, 4)] = 1.0
        return np.concatenate([onehot, self.mask.astype(np.float32)])

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        self._draw()
        return self._obs(), {"action_mask": self.mask.astype(np.int8)}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        if not self.mask[action]:
            raise ValueError(f"illegal action {action}; legal {np.flatnonzero(self.mask)}")
        reward = float(action == np.flatnonzero(self.mask).max())
        self.t += 1
        terminated = self.t >= 6
        self._draw()
        return self._obs(), reward, terminated, False, {"action_mask": self.mask.astype(np.int8)}


def cartpole_spaces() -> tuple[gym.spaces.Box, gym.spaces.Discrete]:
    env = gym.make("CartPole-v1")
    return env.observation_space, env.action_space


def random_batch(rng: np.random.Generator, b: int = 16, obs_dim: int = 4, n: int = 2) -> Batch:
    """A batch of random transitions with every next action legal."""
    return Batch(
        rng.normal(size=(b, obs_dim)).astype(np.float32),
        rng.integers(0, n, size=b),
        rng.normal(size=b).astype(np.float32),
        rng.normal(size=(b, obs_dim)).astype(np.float32),
        (rng.random(b) < 0.3).astype(np.float32),
        np.ones((b, n), dtype=bool),
    )


def set_constant_q(net: QNetwork, values: list[float]) -> None:
    """Make ``net`` output ``values`` for every input (last layer: zero weights, bias)."""
    last = net.body[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor(values))


def params(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


# ------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("gamma", 1.5),
        ("learning_rate", 0.0),
        ("batch_size", 0),
        ("tau", 0.0),
        ("tau", 1.5),
        ("exploration_final_eps", -0.1),
        ("huber_delta", 0.0),
        ("target_update_interval", 0),
        ("hidden_sizes", (64, 0)),
        ("max_grad_norm", -1.0),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        DQNConfig(**{field: value})


def test_conv_needs_board_observations() -> None:
    with pytest.raises(ValueError, match="conv_channels"):
        DQNAgent(cartpole_spaces(), DQNConfig(conv_channels=(8,)))
    agent = DQNAgent(TicTacToe(), DQNConfig(conv_channels=(8, 8), hidden_sizes=(16,)))
    q = agent.q_net(torch.zeros(5, 3, 3, 2))
    assert q.shape == (5, 9)


# ------------------------------------------------------------------------- target
def test_masked_target_ignores_illegal_actions() -> None:
    # Action 0 is illegal in s' but has by far the highest target value.
    q_next = torch.tensor([[100.0, 1.0, 3.0, 2.0]] * 4)
    masks = torch.tensor(
        [[False, True, True, True], [False, True, False, True], [False] * 4, [True] * 4]
    )
    rewards = torch.tensor([0.5, 0.5, 0.5, 0.5])
    dones = torch.tensor([0.0, 0.0, 0.0, 1.0])
    y = td_target(q_next, rewards, dones, masks, gamma=0.9)
    # row 2: no legal action -> bootstrap term is 0; row 3: done -> 0 too.
    torch.testing.assert_close(y, torch.tensor([0.5 + 0.9 * 3, 0.5 + 0.9 * 2, 0.5, 0.5]))
    assert not y.requires_grad
    torch.testing.assert_close(masked_max(q_next, masks), torch.tensor([3.0, 2.0, 0.0, 100.0]))


def test_double_dqn_target_uses_online_argmax_among_legal() -> None:
    q_target = torch.tensor([[9.0, 1.0, 5.0]])
    q_online = torch.tensor([[50.0, 2.0, 1.0]])  # argmax 0 is illegal -> picks 1
    mask = torch.tensor([[False, True, True]])
    y = td_target(q_target, torch.zeros(1), torch.zeros(1), mask, 1.0, q_next_online=q_online)
    torch.testing.assert_close(y, torch.tensor([1.0]))


def test_agent_target_uses_target_net_and_mask() -> None:
    agent = DQNAgent(TicTacToe(), DQNConfig(gamma=0.5, reward_scale=2.0))
    set_constant_q(agent.target_net, [10.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, -1.0])
    set_constant_q(agent.q_net, [0.0] * 9)  # online net must not enter the target
    b = 3
    masks = np.zeros((b, 9), dtype=bool)
    masks[0, [1, 3]] = True  # best legal: 3 (the illegal 0 holds 10)
    masks[1, 8] = True  # only legal: -1
    batch = Batch(
        np.zeros((b, 3, 3, 2), np.float32),
        np.array([0, 1, 2]),
        np.array([1.0, 0.0, -1.0], np.float32),
        np.zeros((b, 3, 3, 2), np.float32),
        np.array([0.0, 0.0, 1.0], np.float32),
        masks,
    )
    out = agent.compute_loss(batch)
    torch.testing.assert_close(out.targets, torch.tensor([2.0 + 0.5 * 3, 0.5 * -1.0, -2.0]))


# ----------------------------------------------------------------- gradient path
def test_learning_step_leaves_target_net_without_gradient() -> None:
    agent = DQNAgent(cartpole_spaces(), DQNConfig(seed=1))
    before_target, before_online = params(agent.target_net), params(agent.q_net)
    rng = np.random.default_rng(0)
    for _ in range(3):
        agent.train_step(random_batch(rng))
    for p in agent.target_net.parameters():
        assert p.grad is None
        assert not p.requires_grad
    assert same(params(agent.target_net), before_target)
    assert not same(params(agent.q_net), before_online)
    assert all(p.grad is not None for p in agent.q_net.parameters())
    agent.update_target()
    assert same(params(agent.target_net), params(agent.q_net))


def test_loss_gradient_reaches_only_taken_actions() -> None:
    agent = DQNAgent(TicTacToe(), DQNConfig(seed=2))
    rng = np.random.default_rng(1)
    b = 12
    actions = rng.integers(0, 9, size=b)
    batch = Batch(
        rng.random((b, 3, 3, 2)).astype(np.float32),
        actions,
        rng.normal(size=b).astype(np.float32) * 3,
        rng.random((b, 3, 3, 2)).astype(np.float32),
        np.zeros(b, np.float32),
        rng.random((b, 9)) < 0.5,
    )
    out = agent.compute_loss(batch)
    out.q_values.retain_grad()
    out.loss.backward()
    grad = out.q_values.grad
    taken = torch.zeros(b, 9, dtype=torch.bool)
    taken[torch.arange(b), torch.as_tensor(actions)] = True
    assert torch.all(grad[~taken] == 0)
    assert torch.all(grad[taken] != 0)
    assert all(p.grad is None for p in agent.target_net.parameters())


def test_huber_gradient_is_bounded_by_delta() -> None:
    delta, b = 2.0, 4
    agent = DQNAgent(cartpole_spaces(), DQNConfig(huber_delta=delta, gamma=0.0))
    set_constant_q(agent.q_net, [0.0, 0.0])
    rng = np.random.default_rng(3)
    batch = random_batch(rng, b=b)
    huge = batch._replace(rewards=np.array([1e6, -1e6, 0.5, -0.25], np.float32))
    out = agent.compute_loss(huge)
    out.q_taken.retain_grad()
    out.loss.backward()
    g = out.q_taken.grad * b  # undo the batch mean
    # Huge TD errors: gradient magnitude exactly delta; small ones: the error itself (L2 part).
    torch.testing.assert_close(g, torch.tensor([-delta, delta, -0.5, 0.25]))
    assert torch.all(g.abs() <= delta)


# --------------------------------------------------------------------- acting
def test_epsilon_greedy_picks_only_legal_actions() -> None:
    agent = DQNAgent(TicTacToe(), DQNConfig(seed=4))
    set_constant_q(agent.q_net, [9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    rng = np.random.default_rng(5)
    obs = np.zeros((3, 3, 2), np.float32)
    for eps in (1.0, 0.3):
        agent.epsilon = eps
        seen: set[int] = set()
        for _ in range(300):
            mask = rng.random(9) < 0.4
            mask[rng.integers(9)] = True
            a = agent.act_obs(obs, mask, greedy=False)
            assert mask[a]
            seen.add(a)
        assert len(seen) > 3  # it does explore
    mask = np.zeros(9, dtype=bool)
    mask[[4, 6]] = True
    assert agent.act_obs(obs, mask) == 4  # greedy: best legal, not the illegal 0
    with pytest.raises(GameOverError):
        agent.act_obs(obs, np.zeros(9, dtype=bool), greedy=False)
    with pytest.raises(ValueError, match="mask"):
        agent.act_obs(obs, np.ones(4, dtype=bool))


def test_reseed_restarts_the_exploration_stream() -> None:
    game = TicTacToe()
    agent = DQNAgent(game, DQNConfig(seed=4))
    agent.epsilon = 0.7  # exploring: the draws decide most moves

    def episode(seed: int) -> list[int]:
        agent.reseed(seed)
        state, moves = game.initial_state(), []
        while not game.is_terminal(state):
            obs, mask = game.observation(state), game.legal_mask(state)
            moves.append(agent.act_obs(obs, mask, greedy=False))
            state = game.step(state, moves[-1])
        return moves

    assert episode(1) == episode(1) and episode(2) == episode(2)
    assert episode(1) != episode(2)
    agent.reseed(3)
    first = agent.rng.random()
    agent.reseed(3)
    assert agent.rng.random() == first


def test_act_state_is_an_agent_and_refuses_other_games() -> None:
    from az_gym.envs.connect_four import ConnectFour

    game = TicTacToe()
    agent = DQNAgent(game, DQNConfig(seed=6))
    state = game.initial_state()
    while not game.is_terminal(state):
        state = game.step(state, agent.act_state(game, state))
    with pytest.raises(ValueError, match="tictactoe"):
        agent.act_state(ConnectFour(), ConnectFour().initial_state())


# ------------------------------------------------------------- target updates
def test_hard_target_sync_every_n_steps() -> None:
    n = 20
    cfg = DQNConfig(learning_starts=10, train_freq=1, target_update_interval=n, batch_size=8)
    env = gym.make("CartPole-v1")
    agent = DQNAgent(env, cfg)
    synced: list[torch.Tensor] = params(agent.target_net)
    checks = {"synced": 0, "held": 0}

    def callback(p: DQNProgress) -> None:
        nonlocal synced
        now = params(agent.target_net)
        if p.step % n == 0:
            assert same(now, params(agent.q_net))
            synced = now
            checks["synced"] += 1
        else:
            assert same(now, synced)  # untouched between syncs
            if p.step > cfg.learning_starts:
                assert not same(now, params(agent.q_net))
                checks["held"] += 1

    agent.learn(env, 100, callback=callback)
    assert checks["synced"] == 5 and checks["held"] > 50


def test_callback_can_stop_learning() -> None:
    env = gym.make("CartPole-v1")
    agent = DQNAgent(env, DQNConfig(learning_starts=1000))
    res = agent.learn(env, 100, callback=lambda p: np.bool_(p.step < 7))  # numpy bools too
    assert res.steps == 7 and res.stopped_early and agent.num_timesteps == 7
    res = agent.learn(env, 10, callback=lambda p: None)
    assert res.steps == 10 and not res.stopped_early


def test_polyak_update_math() -> None:
    tau = 0.1
    agent = DQNAgent(cartpole_spaces(), DQNConfig(tau=tau))
    with torch.no_grad():
        for p in agent.q_net.parameters():
            p.fill_(1.0)
        for p in agent.target_net.parameters():
            p.fill_(3.0)
    agent.update_target()
    for p in agent.target_net.parameters():
        torch.testing.assert_close(p, torch.full_like(p, tau * 1.0 + (1 - tau) * 3.0))
    agent.update_target()
    expected = tau * 1.0 + (1 - tau) * (tau * 1.0 + (1 - tau) * 3.0)
    for p in agent.target_net.parameters():
        torch.testing.assert_close(p, torch.full_like(p, expected))


# ------------------------------------------------------------------- replay
def test_truncation_is_not_done_and_termination_clears_the_mask() -> None:
    env = gym.make("CartPole-v1", max_episode_steps=5)
    agent = DQNAgent(env, DQNConfig(learning_starts=1000))
    res = agent.learn(env, 50)
    # Every episode is cut by the time limit (CartPole cannot fall in 5 steps): all truncated.
    assert res.episode_lengths == [5] * 10
    rb = agent.replay_buffer
    assert rb is not None and len(rb) == 50
    assert not rb.dones[:50].any()  # truncation is not done: s' is still bootstrapped

    toy = MaskedToyEnv()
    agent = DQNAgent(toy, DQNConfig(learning_starts=1000))
    agent.learn(toy, 60)
    rb = agent.replay_buffer
    assert rb is not None
    ends = np.flatnonzero(rb.dones[:60])
    np.testing.assert_array_equal(ends, np.arange(5, 60, 6))
    assert (
        not rb.next_masks[ends].any() and rb.next_masks[:60][rb.dones[:60] == 0].any(axis=1).all()
    )


def test_replay_buffer_ring() -> None:
    rb = ReplayBuffer(3, (2,), 2)
    for i in range(5):
        rb.add(np.full(2, i, np.float32), i % 2, float(i), np.full(2, i + 1, np.float32), False)
    assert len(rb) == 3
    assert sorted(rb.rewards.tolist()) == [2.0, 3.0, 4.0]
    batch = rb.sample(10, np.random.default_rng(0))
    assert batch.obs.shape == (10, 2) and set(batch.rewards.tolist()) <= {2.0, 3.0, 4.0}
    with pytest.raises(ValueError, match="action"):
        rb.add(np.zeros(2), 7, 0.0, np.zeros(2), False)


# ---------------------------------------------------------------- save / load
def test_save_load_round_trip(tmp_path: Path) -> None:
    game = TicTacToe()
    agent = DQNAgent(game, DQNConfig(hidden_sizes=(32,), seed=7, double_dqn=True))
    agent.train_step(
        Batch(
            np.zeros((4, 3, 3, 2), np.float32),
            np.arange(4),
            np.ones(4, np.float32),
            np.zeros((4, 3, 3, 2), np.float32),
            np.ones(4, np.float32),
            np.zeros((4, 9), bool),
        )
    )
    path = tmp_path / "dqn.pt"
    agent.save(path)
    loaded = DQNAgent.load(path, game=game)
    assert loaded.config == agent.config and loaded.game_id == "tictactoe"
    x = torch.rand(7, 3, 3, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded.q_net(x), agent.q_net(x))
        torch.testing.assert_close(loaded.target_net(x), agent.target_net(x))
    assert not any(p.requires_grad for p in loaded.target_net.parameters())


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_load_refuses_malicious_corrupt_and_foreign_files(tmp_path: Path) -> None:
    from az_gym.envs.connect_four import ConnectFour

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        pickle.dump({"format": "az_gym.dqn", "payload": _Evil(marker)}, f, protocol=2)
    with pytest.raises(ValueError, match=r"evil\.pt is not a readable torch\.save archive"):
        DQNAgent.load(evil)
    assert not marker.exists()

    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(os.urandom(256))
    with pytest.raises(ValueError, match=r"corrupt\.pt"):
        DQNAgent.load(corrupt)

    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match="not an az_gym DQN checkpoint"):
        DQNAgent.load(other)

    ttt = tmp_path / "ttt.pt"
    DQNAgent(TicTacToe()).save(ttt)
    with pytest.raises(ValueError, match="tictactoe"):
        DQNAgent.load(ttt, game=ConnectFour())


# ---------------------------------------------------------------- learning runs
def test_masked_toy_env_learning_never_plays_illegal() -> None:
    env = MaskedToyEnv()
    cfg = DQNConfig(learning_starts=100, train_freq=1, target_update_interval=100, seed=8)
    agent = DQNAgent(env, cfg)
    res = agent.learn(env, 1500)  # an illegal action would raise inside env.step
    first, last = np.mean(res.episode_returns[:20]), np.mean(res.episode_returns[-20:])
    assert last > first + 1.0 and last > 4.5  # of 6 possible


def test_cartpole_learns_better_than_random() -> None:
    env = gym.make("CartPole-v1")
    cfg = DQNConfig(
        hidden_sizes=(64, 64),
        learning_rate=1e-3,
        learning_starts=500,
        train_freq=1,
        target_update_interval=250,
        exploration_fraction=0.3,
        seed=0,
    )
    agent = DQNAgent(env, cfg)
    agent.learn(env, 7000)
    eval_env = gym.make("CartPole-v1")
    returns = []
    for ep in range(5):
        obs, _ = eval_env.reset(seed=100 + ep)
        done, total = False, 0.0
        while not done:
            obs, r, term, trunc, _ = eval_env.step(agent.act_obs(obs))
            total += float(r)
            done = term or trunc
        returns.append(total)
    assert np.mean(returns) > 60, returns  # a random policy averages about 22


@needs_gym_view
@pytest.mark.parametrize("mode", ["fixed", "self"])
def test_tictactoe_gym_view_runs_without_illegal_moves(mode: str) -> None:
    from az_gym.envs.gym_view import GymView

    env = GymView(TicTacToe(), agent_color="alternate", illegal_action="raise")
    cfg = DQNConfig(
        learning_starts=50, train_freq=1, batch_size=16, target_update_interval=50,
        self_play_update_interval=100, seed=9,
    )  # fmt: skip
    agent = DQNAgent(env, cfg)
    assert agent.game_id == "tictactoe"
    initial = params(agent.q_net)
    res = agent.learn(env, 300, opponent_mode=mode)  # GymView raises on an illegal move
    assert res.steps == 300 and len(res.episode_returns) > 30
    assert set(res.episode_returns) <= {-1.0, 0.0, 1.0}
    if mode == "self":
        opp = env.opponent
        assert opp is not None and opp is not agent
        assert all(not p.requires_grad for p in opp.net.parameters())
        # refreshed at step 300, the last one: the copy holds the trained weights
        assert same(params(opp.net), params(agent.q_net))
        assert not same(params(opp.net), initial)
    _, info = env.reset(seed=0)
    a = agent.act(env)
    assert info["action_mask"][a] == 1
    wrapped = gym.make("az_gym/TicTacToe-v0")
    assert DQNAgent(wrapped).game_id == "tictactoe"


def test_dqn_agent_takes_a_pettingzoo_env() -> None:
    # DQNAgent(az_gym.make("tictactoe")) once refused the env AlphaZeroAgent takes.
    from pettingzoo.classic import tictactoe_v3

    import az_gym
    from az_gym.agents import DQNAgent

    native = DQNAgent(az_gym.make("tictactoe"))
    assert (native.num_actions, native.game_id) == (9, az_gym.make_game("tictactoe").game_id)
    assert DQNAgent(tictactoe_v3.env()).num_actions == 9
    with pytest.raises(ValueError, match="a PettingZoo env, a Game or a pair"):
        DQNAgent(3)


def test_learn_on_a_pettingzoo_env_says_to_use_the_gymnasium_view() -> None:
    # it raised "cannot unpack non-iterable NoneType object" from inside the loop
    import az_gym
    from az_gym.agents import DQNAgent

    env = az_gym.make("tictactoe")
    with pytest.raises(TypeError, match=r"gymnasium\.make\(\"az_gym/TicTacToe-v0\"\)"):
        DQNAgent(env).learn(env, 10)
