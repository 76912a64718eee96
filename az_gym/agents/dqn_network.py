"""The DQN Q-network, its epsilon-greedy choice over legal actions, and a frozen copy of it
that plays as an agent (the self-play opponent of :class:`~az_gym.agents.dqn.DQNAgent`).

The network maps observations ``float32[B, *obs_shape]`` (the mover's view) to action values
``float32[B, A]``; illegal actions are masked at choice time, never inside the network.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from az_gym.agents.base import Agent
from az_gym.game import Game, GameOverError, State
from az_gym.threads import use_inference_threads


class QNetwork(nn.Module):
    """``Q(s, .)``: observations ``float32[B, *obs_shape]`` -> action values ``float32[B, A]``.

    With ``conv_channels``, observations are ``[B, H, W, C]`` (channels-last, as az_gym's
    boards) and go through 3x3 conv layers first; otherwise they are flattened.
    """

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        num_actions: int,
        hidden_sizes: tuple[int, ...] = (64, 64),
        conv_channels: tuple[int, ...] = (),
    ) -> None:
        """Build the layers (see the class docstring)."""
        super().__init__()
        self.obs_shape = tuple(obs_shape)
        self.use_conv = bool(conv_channels)
        layers: list[nn.Module] = []
        if self.use_conv:
            if len(self.obs_shape) != 3:
                raise ValueError(
                    f"QNetwork: conv_channels={conv_channels} needs [H, W, C] observations, "
                    f"got shape {self.obs_shape}"
                )
            h, w, c_in = self.obs_shape
            for c in conv_channels:
                layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU()]
                c_in = c
            width = c_in * h * w
        else:
            width = math.prod(self.obs_shape)
        layers.append(nn.Flatten())
        for hsize in hidden_sizes:
            layers += [nn.Linear(width, hsize), nn.ReLU()]
            width = hsize
        layers.append(nn.Linear(width, num_actions))
        self.body = nn.Sequential(*layers)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Return ``float32[B, A]`` action values for ``obs`` ``float32[B, *obs_shape]``."""
        if self.use_conv:
            obs = obs.permute(0, 3, 1, 2)
        return self.body(obs)


class FrozenQPolicy(Agent):
    """A frozen Q-network that plays epsilon-greedily over legal actions (self-play opponent)."""

    name = "dqn-frozen"

    def __init__(self, net: QNetwork, device: torch.device, epsilon: float, seed: int) -> None:
        """Take ownership of ``net`` (its parameters stop requiring gradients).

        Args:
            net: the network to play with (a copy: later training must not reach it).
            device: where ``net`` lives.
            epsilon: probability of a uniformly random legal move.
            seed: seeds the policy's own ``numpy`` generator.
        """
        self.net = net
        self.device = device
        self.epsilon = epsilon
        self.rng = np.random.default_rng(seed)
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.net.eval()

    def act_state(self, game: Game, state: State) -> int:
        """Return an epsilon-greedy legal action for the player to move."""
        return choose_action(
            self.net,
            self.device,
            game.observation(state),
            game.legal_mask(state),
            self.epsilon,
            self.rng,
        )


@torch.no_grad()
def choose_action(
    net: QNetwork,
    device: torch.device,
    obs: np.ndarray,
    mask: np.ndarray,
    epsilon: float,
    rng: np.random.Generator,
) -> int:
    """Epsilon-greedy over the legal actions of ``mask`` (``bool[A]``) for ``obs``."""
    legal = np.flatnonzero(mask)
    if legal.size == 0:
        raise GameOverError("DQN: no legal action to choose from (the state is terminal)")
    if epsilon > 0.0 and rng.random() < epsilon:
        return int(legal[rng.integers(legal.size)])
    use_inference_threads()  # batch-1 forward: one thread (az_gym.threads)
    x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=device).unsqueeze(0)
    q = net(x)[0].cpu().numpy()
    return int(legal[np.argmax(q[legal])])
