"""DQN building blocks for :mod:`az_gym.agents.dqn`: experience replay, the masked one-step
Q-learning target, and reading spaces and legal masks from an env (the Q-network and its
epsilon-greedy play live in :mod:`az_gym.agents.dqn_network`).

A transition is ``(s, a, r, s', done, legal(s'))`` seen by the learning agent:

* ``done`` is the Gymnasium ``terminated`` flag only. A *truncated* episode (time limit) is
  not done: its last ``s'`` is a real state whose value is still bootstrapped, so
  ``done = 0`` there, as in Pardo et al. (2018), "Time Limits in Reinforcement Learning".
* ``legal(s')`` is the legal-action mask of ``s'`` (all True for unmasked envs such as
  CartPole), so the max in the target runs over legal actions only.

The target is computed here, from arrays, and never carries gradients (see
:func:`td_target`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch

from az_gym.game import Game


class Batch(NamedTuple):
    """A minibatch of transitions (numpy arrays, ``B`` = batch size).

    Attributes:
        obs: ``float32[B, *obs_shape]``, the state ``s`` seen by the learning agent.
        actions: ``int64[B]``, the action ``a`` taken in ``s``.
        rewards: ``float32[B]``, the reward ``r`` of the transition (unscaled).
        next_obs: ``float32[B, *obs_shape]``, the next state ``s'`` where the agent acts again.
        dones: ``float32[B]``, 1.0 when ``s'`` is terminal (``terminated``; never truncation).
        next_masks: ``bool[B, num_actions]``, the legal actions in ``s'``.
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    dones: np.ndarray
    next_masks: np.ndarray


class ReplayBuffer:
    """A fixed-capacity ring buffer of transitions in preallocated numpy arrays.

    Once full, each new transition overwrites the oldest one. Sampling is uniform with
    replacement, driven by an explicit ``numpy.random.Generator``.
    """

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], num_actions: int) -> None:
        """Allocate the arrays.

        Args:
            capacity: maximum number of transitions kept (>= 1).
            obs_shape: shape of one observation.
            num_actions: size of the discrete action space (width of the masks).
        """
        if capacity < 1:
            raise ValueError(f"ReplayBuffer: capacity must be >= 1, got {capacity}")
        if num_actions < 1:
            raise ValueError(f"ReplayBuffer: num_actions must be >= 1, got {num_actions}")
        self.capacity = int(capacity)
        self.obs_shape = tuple(int(d) for d in obs_shape)
        self.num_actions = int(num_actions)
        self.obs = np.zeros((self.capacity, *self.obs_shape), dtype=np.float32)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.dones = np.zeros(self.capacity, dtype=np.float32)
        self.next_masks = np.zeros((self.capacity, self.num_actions), dtype=bool)
        self._pos = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(
        self,
        obs: np.ndarray,
        action: int,
        reward: float,
        next_obs: np.ndarray,
        terminated: bool,
        next_mask: np.ndarray | None = None,
    ) -> None:
        """Store one transition.

        Args:
            obs: ``float32[*obs_shape]``, the state ``s``.
            action: the action taken in ``s``.
            reward: the reward received.
            next_obs: ``float32[*obs_shape]``, the state ``s'``.
            terminated: True only when ``s'`` is terminal (pass False on truncation).
            next_mask: ``bool[num_actions]``, legal actions in ``s'`` (None: all legal).
        """
        if not 0 <= int(action) < self.num_actions:
            raise ValueError(
                f"ReplayBuffer.add: action {action!r} is outside 0..{self.num_actions - 1}"
            )
        i = self._pos
        self.obs[i] = obs
        self.next_obs[i] = next_obs
        self.actions[i] = int(action)
        self.rewards[i] = float(reward)
        self.dones[i] = 1.0 if terminated else 0.0
        self.next_masks[i] = True if next_mask is None else np.asarray(next_mask, dtype=bool)
        self._pos = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """Return ``batch_size`` transitions drawn uniformly with replacement."""
        if self._size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty")
        idx = rng.integers(0, self._size, size=int(batch_size))
        return Batch(
            self.obs[idx],
            self.actions[idx],
            self.rewards[idx],
            self.next_obs[idx],
            self.dones[idx],
            self.next_masks[idx],
        )


def masked_max(q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Return ``max_{a legal} q[b, a]`` per row, and 0 for rows with no legal action.

    Args:
        q: ``float[B, A]`` action values.
        mask: ``bool[B, A]`` legal actions.

    Returns:
        ``float[B]``.
    """
    masked = q.masked_fill(~mask, float("-inf"))
    best = masked.max(dim=1).values
    return torch.where(mask.any(dim=1), best, torch.zeros_like(best))


@torch.no_grad()
def td_target(
    q_next_target: torch.Tensor,
    rewards: torch.Tensor,
    dones: torch.Tensor,
    next_masks: torch.Tensor,
    gamma: float,
    q_next_online: torch.Tensor | None = None,
) -> torch.Tensor:
    """The one-step target ``y = r + gamma * (1 - done) * max_{legal a'} Q_target(s', a')``.

    Computed under ``torch.no_grad()``: ``y`` is a constant for the loss, so the gradient
    reaches only ``Q(s, a)`` and never the target network. Illegal ``a'`` count as
    ``-inf``; a state ``s'`` without a legal action contributes 0.

    Args:
        q_next_target: ``float[B, A]``, ``Q_target(s', .)`` from the target network.
        rewards: ``float[B]``, rewards (already scaled).
        dones: ``float[B]``, 1.0 where ``s'`` is terminal.
        next_masks: ``bool[B, A]``, legal actions in ``s'``.
        gamma: discount factor.
        q_next_online: ``float[B, A]``, ``Q(s', .)`` from the online network; when given,
            Double DQN (van Hasselt et al., 2016): ``a* = argmax_{legal} Q(s', .)`` chosen
            by the online net and evaluated by the target net.

    Returns:
        ``float[B]``, detached.
    """
    if q_next_online is None:
        bootstrap = masked_max(q_next_target, next_masks)
    else:
        best = q_next_online.masked_fill(~next_masks, float("-inf")).argmax(dim=1, keepdim=True)
        chosen = q_next_target.gather(1, best).squeeze(1)
        bootstrap = torch.where(next_masks.any(dim=1), chosen, torch.zeros_like(chosen))
    return rewards + gamma * (1.0 - dones) * bootstrap


def env_spaces(env_or_spaces: Any) -> tuple[tuple[int, ...], int, str | None]:
    """Return ``(obs_shape, num_actions, game_id)`` of an env, a Game or a spaces pair.

    ``game_id`` is the az_gym game behind the env (``env.unwrapped.game``), else None.
    """
    if isinstance(env_or_spaces, Game):
        g = env_or_spaces
        return tuple(g.observation_shape), int(g.num_actions), g.game_id
    if isinstance(env_or_spaces, gym.Env):
        obs_space, act_space = env_or_spaces.observation_space, env_or_spaces.action_space
        game = getattr(env_or_spaces.unwrapped, "game", None)
    elif isinstance(env_or_spaces, tuple) and len(env_or_spaces) == 2:
        (obs_space, act_space), game = env_or_spaces, None
    else:  # a PettingZoo env (az_gym's or a pettingzoo.classic one): its rules
        from az_gym.envs.registry import as_game

        try:
            return env_spaces(as_game(env_or_spaces))
        except (TypeError, ValueError):
            raise ValueError(
                f"DQNAgent: env_or_spaces must be a gymnasium.Env, a PettingZoo env, a Game "
                f"or a pair (observation_space, action_space), got "
                f"{type(env_or_spaces).__name__}"
            ) from None
    if not isinstance(act_space, gym.spaces.Discrete):
        raise ValueError(f"DQNAgent: the action space must be Discrete, got {act_space}")
    if not isinstance(obs_space, gym.spaces.Box):
        raise ValueError(f"DQNAgent: the observation space must be a Box, got {obs_space}")
    game_id = game.game_id if isinstance(game, Game) else None
    return tuple(obs_space.shape), int(act_space.n), game_id


def env_legal_mask(env: gym.Env, info: dict[str, Any], num_actions: int) -> np.ndarray:
    """Return ``bool[num_actions]``: ``info["action_mask"]``, else ``env.action_masks()``,
    else all legal."""
    mask = info.get("action_mask") if isinstance(info, dict) else None
    if mask is None:
        try:
            mask = env.get_wrapper_attr("action_masks")()
        except AttributeError:
            return np.ones(num_actions, dtype=bool)
    mask = np.asarray(mask).astype(bool).reshape(-1)
    if mask.shape != (num_actions,):
        raise ValueError(f"action mask of shape {mask.shape}; expected ({num_actions},)")
    return mask
