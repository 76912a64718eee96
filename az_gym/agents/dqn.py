"""Deep Q-Network (Mnih et al., 2015) over discrete, optionally masked, action spaces.

The agent learns ``Q(s, a)`` with the one-step target
``y = r + gamma * (1 - done) * max_{legal a'} Q_target(s', a')`` (see
:func:`~az_gym.agents.dqn_replay.td_target`), a Huber loss on ``Q(s, a)`` of the taken action
only, a replay buffer and a target network that never receives gradients.

It trains on any Gymnasium env with a ``Discrete`` action space (CartPole-v1, or the
:class:`~az_gym.envs.gym_view.GymView` of a two-player game, where the legal actions come
from ``info["action_mask"]`` or ``env.action_masks()``), and it is an
:class:`~az_gym.agents.base.Agent`, so it plays anywhere an az_gym player does (evaluation,
the opponent of a ``GymView``).

Two-player games (``learn(..., opponent_mode=...)``):

* ``"fixed"``: the env's own opponent (``GymView``'s default is a uniformly random player).
* ``"self"``: the env's ``opponent`` attribute is replaced by a frozen, gradient-free copy of
  this agent (epsilon-greedy with ``config.self_play_epsilon``), whose weights are refreshed
  from the learning network every ``config.self_play_update_interval`` env steps.

In a ``GymView`` the opponent replies inside ``step``, so ``s'`` is the agent's own next turn
and the target keeps the plain ``max`` (no negamax sign flip): the opponent is part of the
environment's dynamics.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from az_gym.agents.base import Agent
from az_gym.agents.dqn_config import DQNConfig, DQNLoss, DQNProgress, LearnResult
from az_gym.agents.dqn_network import FrozenQPolicy, QNetwork, choose_action
from az_gym.agents.dqn_replay import Batch, ReplayBuffer, env_legal_mask, env_spaces, td_target
from az_gym.checkpoint_format import CheckpointError, check_tensor_bytes, safe_torch_load
from az_gym.game import Game, State
from az_gym.memory_budget import check_fits
from az_gym.networks import resolve_device

__all__ = ["DQNAgent", "DQNConfig", "DQNLoss", "DQNProgress", "LearnResult"]

_FORMAT = "az_gym.dqn"
_VERSION = 1


class DQNAgent(Agent):
    """A DQN learner and player (see the module docstring).

    Attributes:
        config: the hyper-parameters.
        obs_shape, num_actions: the spaces it was built for.
        game_id: the az_gym game it was built for (None for plain Gymnasium envs).
        q_net: the online network ``Q(s, .; theta)``.
        target_net: ``Q(s, .; theta^-)``; its parameters have ``requires_grad=False``.
        num_timesteps: env steps learned from, over all ``learn`` calls.
        replay_buffer: made by the first ``learn`` call and kept by later ones (not saved).
        epsilon: the exploration rate of ``act_obs(..., greedy=False)`` (set by ``learn``).
    """

    name = "dqn"

    def __init__(self, env_or_spaces: Any, config: DQNConfig | None = None) -> None:
        """Build the networks for ``env_or_spaces``: a ``gymnasium.Env`` (Discrete actions, Box
        observations), a PettingZoo env (its rules, as ``AlphaZeroAgent`` takes it), a
        :class:`~az_gym.game.Game`, or ``(observation_space, action_space)``. Learning
        (:meth:`learn`) needs a Gymnasium env of the same spaces."""
        self.config = config if config is not None else DQNConfig()
        self.obs_shape, self.num_actions, self.game_id = env_spaces(env_or_spaces)
        self.device = resolve_device(self.config.use_gpu)
        self.rng = np.random.default_rng(self.config.seed)
        with torch.random.fork_rng(devices=[]):  # seeded init without touching global RNG
            torch.manual_seed(self.config.seed)
            self.q_net = self._build().to(self.device)
        self.target_net = copy.deepcopy(self.q_net)
        for p in self.target_net.parameters():
            p.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.q_net.parameters(), lr=self.config.learning_rate)
        self.num_timesteps = 0
        self.num_updates = 0
        self.replay_buffer: ReplayBuffer | None = None
        self.epsilon = self.config.exploration_final_eps

    def _build(self) -> QNetwork:
        c = self.config
        return QNetwork(self.obs_shape, self.num_actions, c.hidden_sizes, c.conv_channels)

    # ------------------------------------------------------------------- acting
    def act_obs(self, obs: np.ndarray, mask: np.ndarray | None = None, greedy: bool = True) -> int:
        """Return an action for observation ``obs`` (``float32[*obs_shape]``).

        Args:
            obs: the observation from the acting player's point of view.
            mask: ``bool[num_actions]`` legal actions (None: all legal).
            greedy: True: ``argmax`` of Q over legal actions; False: epsilon-greedy with the
                current :attr:`epsilon` (random choices are among legal actions only).
        """
        if mask is None:
            mask = np.ones(self.num_actions, dtype=bool)
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.num_actions,):
            raise ValueError(f"DQN: mask of shape {mask.shape}; expected ({self.num_actions},)")
        eps = 0.0 if greedy else self.epsilon
        self.q_net.eval()
        return choose_action(self.q_net, self.device, obs, mask, eps, self.rng)

    def check_game(self, game: Game) -> None:
        """Raise ``ValueError`` unless ``game`` has this agent's spaces (and game id if known)."""
        if self.game_id is not None and game.game_id != self.game_id:
            raise ValueError(f"DQN: built for {self.game_id!r}, asked to play {game.game_id!r}")
        if tuple(game.observation_shape) != self.obs_shape or game.num_actions != self.num_actions:
            raise ValueError(
                f"DQN: built for observations {self.obs_shape} and {self.num_actions} actions; "
                f"{game.game_id} has {tuple(game.observation_shape)} and {game.num_actions}"
            )

    def act_state(self, game: Game, state: State) -> int:
        """Greedy legal action for the player to move, from ``game.observation(state)``."""
        self.check_game(game)
        return self.act_obs(game.observation(state), game.legal_mask(state), greedy=True)

    def reseed(self, seed: int | np.random.SeedSequence | None) -> None:
        """Restart the agent's Generator from ``seed``: its epsilon-greedy draws, and (for a
        later :meth:`learn`) its env reset seeds and replay sampling. Greedy play
        (:meth:`act_state`) draws nothing and is the same for every seed."""
        self.rng = np.random.default_rng(seed)

    def frozen_copy(self, epsilon: float = 0.0) -> FrozenQPolicy:
        """Return an independent, gradient-free copy of the current policy (an ``Agent``)."""
        seed = int(self.rng.integers(2**31))
        return FrozenQPolicy(copy.deepcopy(self.q_net), self.device, epsilon, seed)

    # ----------------------------------------------------------------- learning
    def _tensor(self, a: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.as_tensor(a, dtype=dtype, device=self.device)

    def compute_loss(self, batch: Batch) -> DQNLoss:
        """Huber loss between ``Q(s, a)`` of the taken actions and the detached target ``y``."""
        c = self.config
        obs = self._tensor(batch.obs)
        actions = self._tensor(batch.actions, torch.int64)
        next_obs = self._tensor(batch.next_obs)
        next_masks = self._tensor(batch.next_masks, torch.bool)
        with torch.no_grad():
            q_next_online = self.q_net(next_obs) if c.double_dqn else None
            y = td_target(
                self.target_net(next_obs),
                self._tensor(batch.rewards) * c.reward_scale,
                self._tensor(batch.dones),
                next_masks,
                c.gamma,
                q_next_online,
            )
        q_values = self.q_net(obs)
        q_taken = q_values.gather(1, actions.unsqueeze(1)).squeeze(1)
        loss = F.huber_loss(q_taken, y, delta=c.huber_delta)
        return DQNLoss(loss, q_values, q_taken, y)

    def train_step(self, batch: Batch) -> float:
        """One Adam step on ``batch`` (the target net is not touched); returns the loss."""
        self.q_net.train()
        out = self.compute_loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        if self.config.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.q_net.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        self.num_updates += 1
        return float(out.loss.detach())

    @torch.no_grad()
    def update_target(self, tau: float | None = None) -> None:
        """``theta^- <- tau * theta + (1 - tau) * theta^-`` (``tau=1``: hard copy)."""
        tau = self.config.tau if tau is None else tau
        for t, s in zip(self.target_net.parameters(), self.q_net.parameters()):
            if tau >= 1.0:
                t.copy_(s)
            else:
                t.mul_(1.0 - tau).add_(s, alpha=tau)
        for t, s in zip(self.target_net.buffers(), self.q_net.buffers()):
            t.copy_(s)

    def learn(
        self,
        env: gym.Env,
        total_timesteps: int,
        callback: Callable[[DQNProgress], bool | None] | None = None,
        opponent_mode: str = "fixed",
    ) -> LearnResult:
        """Run epsilon-greedy DQN for ``total_timesteps`` env steps on ``env``.

        Args:
            env: a Gymnasium env with this agent's spaces; legal actions come from
                ``info["action_mask"]`` or ``env.action_masks()`` when present.
            total_timesteps: env steps to take (the epsilon decay is relative to it).
            callback: called after every step with a :class:`DQNProgress`; returning a
                false value other than ``None`` (``False``, ``np.False_``) stops training.
            opponent_mode: ``"fixed"`` keeps the env's opponent; ``"self"`` sets the env's
                ``opponent`` to a frozen copy of this agent, refreshed every
                ``config.self_play_update_interval`` steps (it stays there after ``learn``).

        Returns:
            a :class:`LearnResult` (episode returns are the env's rewards, unscaled).
        """
        c = self.config
        if total_timesteps < 0:
            raise ValueError(f"learn: total_timesteps must be >= 0, got {total_timesteps}")
        if opponent_mode not in ("fixed", "self"):
            raise ValueError(
                f"learn: opponent_mode must be 'fixed' or 'self', got {opponent_mode!r}"
            )
        if not isinstance(env, gym.Env):  # a PettingZoo env has no single learner
            raise TypeError(
                f"learn: env must be a gymnasium.Env, not {type(env).__name__}; for a two-player "
                'game use its Gymnasium view, e.g. gymnasium.make("az_gym/TicTacToe-v0")'
            )
        shape, n, game_id = env_spaces(env)
        if (shape, n) != (self.obs_shape, self.num_actions) or (
            None not in (game_id, self.game_id) and game_id != self.game_id
        ):
            raise ValueError(
                f"learn: env has observations {shape}, {n} actions (game {game_id}); the agent "
                f"was built for {self.obs_shape}, {self.num_actions} (game {self.game_id})"
            )
        opponent: FrozenQPolicy | None = None
        if opponent_mode == "self":
            if not hasattr(env.unwrapped, "opponent"):
                raise ValueError(
                    "learn: opponent_mode='self' needs an env with an 'opponent' (GymView)"
                )
            opponent = self.frozen_copy(c.self_play_epsilon)
            env.unwrapped.opponent = opponent
        if self.replay_buffer is None:
            self.replay_buffer = ReplayBuffer(c.buffer_size, self.obs_shape, self.num_actions)
        buffer = self.replay_buffer
        eps_schedule = c.epsilon_schedule(total_timesteps)
        returns: list[float] = []
        lengths: list[int] = []
        ep_return, ep_len, last_loss, updates0 = 0.0, 0, None, self.num_updates
        obs, info = env.reset(seed=int(self.rng.integers(2**31)))
        mask = env_legal_mask(env, info, self.num_actions)
        for step in range(1, total_timesteps + 1):
            self.epsilon = float(eps_schedule(step - 1))
            action = self.act_obs(obs, mask, greedy=False)
            next_obs, reward, terminated, truncated, info = env.step(action)
            next_mask = env_legal_mask(env, info, self.num_actions)
            if terminated:
                next_mask = np.zeros(self.num_actions, dtype=bool)
            # Truncation is not termination: its next_obs is still bootstrapped (done = 0).
            buffer.add(obs, action, float(reward), next_obs, bool(terminated), next_mask)
            ep_return += float(reward)
            ep_len += 1
            self.num_timesteps += 1
            if terminated or truncated:
                returns.append(ep_return)
                lengths.append(ep_len)
                ep_return, ep_len = 0.0, 0
                obs, info = env.reset()
                mask = env_legal_mask(env, info, self.num_actions)
            else:
                obs, mask = next_obs, next_mask
            if step > c.learning_starts and step % c.train_freq == 0:
                for _ in range(c.gradient_steps):
                    last_loss = self.train_step(buffer.sample(c.batch_size, self.rng))
            if step % c.target_update_interval == 0:
                self.update_target()
            if opponent is not None and step % c.self_play_update_interval == 0:
                opponent.net.load_state_dict(self.q_net.state_dict())
            if callback is not None:
                progress = DQNProgress(
                    step, len(returns), self.epsilon, last_loss, returns[-1] if returns else None
                )
                keep_going = callback(progress)
                if keep_going is not None and not keep_going:
                    return LearnResult(step, self.num_updates - updates0, returns, lengths, True)
        return LearnResult(total_timesteps, self.num_updates - updates0, returns, lengths, False)

    # ------------------------------------------------------------------ saving
    def save(self, path: str | Path) -> None:
        """Write the config, spaces, game id, both networks and the optimizer state
        (atomically, making missing parent directories; ``IsADirectoryError`` for a
        directory)."""
        from az_gym._atomic import atomic_torch_save

        atomic_torch_save(
            {
                "format": _FORMAT,
                "version": _VERSION,
                "config": self.config.to_dict(),
                "obs_shape": list(self.obs_shape),
                "num_actions": self.num_actions,
                "game_id": self.game_id,
                "num_timesteps": self.num_timesteps,
                "q_net": self.q_net.state_dict(),
                "target_net": self.target_net.state_dict(),
                "optimizer": self.optimizer.state_dict(),
            },
            path,
        )

    @classmethod
    def load(cls, path: str | Path, game: Game | None = None) -> DQNAgent:
        """Load a :meth:`save` file through the one safe loader
        (:func:`~az_gym.checkpoint_format.safe_torch_load`: a zip archive whose members pass
        their CRC-32, ``weights_only=True``: no code runs).

        The networks the file describes are built on the ``meta`` device first and compared
        with the stored tensors (shapes and the bytes behind them) and with the available
        memory, so a crafted file cannot make the load allocate gigabytes.

        Args:
            path: the file.
            game: when given, the file must have been saved for this game.

        Raises:
            ValueError: unreadable, corrupt or pickled-code file, not a DQN checkpoint, a
                damaged or crafted one, or a checkpoint for another game.
        """
        data = safe_torch_load(path)
        if data.get("format") != _FORMAT:
            from az_gym.checkpoint_format import CHECKPOINT_FORMAT

            az = data.get("format") == CHECKPOINT_FORMAT
            what = " (an AlphaZero agent's: AlphaZeroAgent.load reads it)" if az else ""
            raise ValueError(f"DQNAgent.load: {path} is not an az_gym DQN checkpoint{what}")
        if data.get("version") != _VERSION:
            raise ValueError(f"DQNAgent.load: {path} has version {data.get('version')!r}")
        try:
            config = DQNConfig(**data["config"])
            shape, num_actions = data["obs_shape"], data["num_actions"]
            if not (
                isinstance(shape, list) and shape and all(_is_count(d) for d in shape)
            ) or not _is_count(num_actions):
                raise ValueError(
                    f"obs_shape {shape!r} and num_actions {num_actions!r} must be integers >= 1"
                )
            _check_networks(data, tuple(shape), num_actions, config, path)
            spaces = (
                gym.spaces.Box(-np.inf, np.inf, tuple(shape), np.float32),
                gym.spaces.Discrete(num_actions),
            )
            agent = cls(spaces, config)
            agent.game_id = data["game_id"]
            agent.q_net.load_state_dict(data["q_net"])
            agent.target_net.load_state_dict(data["target_net"])
            agent.optimizer.load_state_dict(data["optimizer"])
            agent.num_timesteps = int(data["num_timesteps"])
        except CheckpointError:
            raise
        except (KeyError, TypeError, RuntimeError, ValueError) as e:
            raise ValueError(f"DQNAgent.load: {path} is a damaged DQN checkpoint: {e}") from None
        if game is not None and agent.game_id != game.game_id:
            raise ValueError(
                f"DQNAgent.load: {path} was saved for {agent.game_id!r}, not {game.game_id!r}"
            )
        return agent


def _is_count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 1


def _check_networks(
    data: dict[str, Any],
    obs_shape: tuple[int, ...],
    num_actions: int,
    config: DQNConfig,
    path: str | Path,
) -> None:
    """Refuse stored networks that are not the ones ``config`` describes, tensors backed by
    fewer bytes than their shapes claim, and networks that would not fit in memory (the
    online and target networks and Adam's two moments: 4 copies), all checked on the
    ``meta`` device before anything is allocated."""
    with torch.device("meta"):
        probe = QNetwork(obs_shape, num_actions, config.hidden_sizes, config.conv_channels)
    want = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    for key in ("q_net", "target_net"):
        weights = data[key]
        if not isinstance(weights, dict) or not all(
            isinstance(v, torch.Tensor) for v in weights.values()
        ):
            raise ValueError(f"{key} is not a dict of tensors")
        if {k: tuple(v.shape) for k, v in weights.items()} != want:
            raise ValueError(
                f"its {key} does not have the shapes of the network its config describes"
            )
        check_tensor_bytes(weights, path)
    check_fits(4 * 4 * sum(p.numel() for p in probe.parameters()), "its networks")
