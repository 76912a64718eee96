"""The DQN agent's settings (:class:`DQNConfig`, one docstring per field) and the named
results of its loss, its progress callback and ``learn`` (:class:`DQNLoss`,
:class:`DQNProgress`, :class:`LearnResult`)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from az_gym.schedules import ConstSchedule, PLSchedule, Schedule


@dataclass(frozen=True, kw_only=True)
class DQNConfig:
    """Hyper-parameters of :class:`DQNAgent` (defaults suit CartPole-sized problems)."""

    hidden_sizes: tuple[int, ...] = (64, 64)
    """Widths of the fully connected hidden layers (ReLU) before the Q head."""
    conv_channels: tuple[int, ...] = ()
    """Channels of 3x3 'same' conv layers (ReLU) applied first; needs ``[H, W, C]`` observations.
    Empty: the observation is flattened into the MLP."""
    learning_rate: float = 1e-3
    """Adam step size."""
    gamma: float = 0.99
    """Discount factor ``gamma`` in the target, in [0, 1]."""
    batch_size: int = 64
    """Transitions per gradient step."""
    buffer_size: int = 50_000
    """Replay capacity ``N`` (the oldest transition is overwritten once full)."""
    learning_starts: int = 1_000
    """Env steps collected before the first gradient step."""
    train_freq: int = 4
    """Env steps between two training phases."""
    gradient_steps: int = 1
    """Gradient steps per training phase."""
    target_update_interval: int = 500
    """Env steps ``C`` between two target-network updates (Mnih et al.: 10k)."""
    tau: float = 1.0
    """Target update ``theta_target <- tau * theta + (1 - tau) * theta_target``: 1.0 is a hard
    copy every ``target_update_interval`` steps; 0 < tau < 1 is Polyak averaging at that rate."""
    exploration_initial_eps: float = 1.0
    """Epsilon (probability of a uniformly random legal action) at the first step."""
    exploration_final_eps: float = 0.05
    """Epsilon once the decay is over."""
    exploration_fraction: float = 0.2
    """Fraction of ``learn``'s ``total_timesteps`` over which epsilon decays linearly."""
    exploration_decay_steps: int | None = None
    """Decay length in env steps; overrides ``exploration_fraction`` when set."""
    huber_delta: float = 1.0
    """Huber loss threshold ``delta``: TD errors beyond it give a gradient of magnitude
    ``delta`` (the error clipping of Mnih et al., 2015)."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this before entering the target."""
    double_dqn: bool = False
    """Double DQN (van Hasselt et al., 2016): the online net picks ``argmax_{legal a'}``, the
    target net values it, reducing the max's over-estimation. Off: the Nature DQN target."""
    max_grad_norm: float | None = 10.0
    """Clip the global gradient norm to this (None: no clipping)."""
    self_play_update_interval: int = 1_000
    """``opponent_mode="self"``: env steps between refreshes of the frozen opponent copy."""
    self_play_epsilon: float = 0.05
    """``opponent_mode="self"``: the frozen opponent's epsilon (some variety in its play)."""
    use_gpu: bool = False
    """Run the networks on CUDA when available."""
    seed: int = 0
    """Seeds the network initialisation, the replay sampling, exploration and env resets."""

    def __post_init__(self) -> None:
        def need(ok: bool, field: str, rule: str) -> None:
            if not ok:
                raise ValueError(f"DQNConfig.{field}={getattr(self, field)!r}: {rule}")

        object.__setattr__(self, "hidden_sizes", tuple(int(h) for h in self.hidden_sizes))
        object.__setattr__(self, "conv_channels", tuple(int(c) for c in self.conv_channels))
        need(all(h >= 1 for h in self.hidden_sizes), "hidden_sizes", "every width must be >= 1")
        need(all(c >= 1 for c in self.conv_channels), "conv_channels", "channels must be >= 1")
        need(self.learning_rate > 0, "learning_rate", "must be > 0")
        need(0.0 <= self.gamma <= 1.0, "gamma", "must be in [0, 1]")
        for name in ("batch_size", "buffer_size", "train_freq", "gradient_steps"):
            need(getattr(self, name) >= 1, name, "must be >= 1")
        need(self.learning_starts >= 0, "learning_starts", "must be >= 0")
        need(self.target_update_interval >= 1, "target_update_interval", "must be >= 1")
        need(0.0 < self.tau <= 1.0, "tau", "must be in (0, 1] (1 = hard copy)")
        for name in ("exploration_initial_eps", "exploration_final_eps", "self_play_epsilon"):
            need(0.0 <= getattr(self, name) <= 1.0, name, "must be in [0, 1]")
        need(0.0 <= self.exploration_fraction <= 1.0, "exploration_fraction", "must be in [0, 1]")
        need(
            self.exploration_decay_steps is None or self.exploration_decay_steps >= 0,
            "exploration_decay_steps",
            "must be None or >= 0",
        )
        need(self.huber_delta > 0, "huber_delta", "must be > 0")
        need(math.isfinite(self.reward_scale) and self.reward_scale > 0, "reward_scale", "> 0")
        need(self.max_grad_norm is None or self.max_grad_norm > 0, "max_grad_norm", "None or > 0")
        need(self.self_play_update_interval >= 1, "self_play_update_interval", "must be >= 1")

    def epsilon_schedule(self, total_timesteps: int) -> Schedule:
        """Return epsilon as a function of the step within a ``learn`` call (linear decay)."""
        steps = self.exploration_decay_steps
        if steps is None:
            steps = int(self.exploration_fraction * total_timesteps)
        if steps <= 0:
            return ConstSchedule(self.exploration_final_eps)
        return PLSchedule((0, steps), (self.exploration_initial_eps, self.exploration_final_eps))

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (for checkpoints)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


class DQNLoss(NamedTuple):
    """What one loss evaluation produced (tensors of a minibatch of size ``B``).

    Attributes:
        loss: scalar Huber loss, mean over the batch.
        q_values: ``float[B, A]``, the online net's ``Q(s, .)`` (in the autograd graph).
        q_taken: ``float[B]``, ``Q(s, a)`` for the taken actions (in the graph).
        targets: ``float[B]``, the detached targets ``y``.
    """

    loss: torch.Tensor
    q_values: torch.Tensor
    q_taken: torch.Tensor
    targets: torch.Tensor


@dataclass(frozen=True)
class DQNProgress:
    """Passed to ``learn``'s callback after every env step."""

    step: int
    """Env steps done in this ``learn`` call."""
    episodes: int
    """Episodes finished in this call."""
    epsilon: float
    """Exploration rate used at this step."""
    last_loss: float | None
    """The latest training loss (None before learning starts)."""
    last_episode_return: float | None
    """Return of the latest finished episode (None before the first ends)."""


class LearnResult(NamedTuple):
    """The outcome of :meth:`DQNAgent.learn`."""

    steps: int
    updates: int
    episode_returns: list[float]
    episode_lengths: list[int]
    stopped_early: bool
