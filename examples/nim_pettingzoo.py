"""Plug your own PettingZoo game into az_gym: Nim, a game az_gym does not ship.

Nim here: 15 sticks on the table; players alternate taking 1, 2 or 3; whoever takes the
last stick wins. Perfect play: always leave a multiple of 4, so the first player wins by
taking 3 at the start. The env below is a plain PettingZoo AEC env (nothing az_gym-specific):
its observation dict carries an ``action_mask``, which is all az_gym needs.

Run:  python examples/nim_pettingzoo.py   (about a minute on 2 CPU cores)
"""

from __future__ import annotations

import functools
from typing import ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv

NUM_STICKS = 15


class NimEnv(AECEnv):
    """Nim as a PettingZoo AEC env: action ``k`` takes ``k + 1`` sticks."""

    metadata: ClassVar[dict] = {
        "name": "nim_v0",
        "render_modes": ["ansi"],
        "is_parallelizable": False,
    }

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__()
        self.render_mode = render_mode
        self.possible_agents = ["player_0", "player_1"]
        self.action_spaces = {a: spaces.Discrete(3) for a in self.possible_agents}
        self.observation_spaces = {
            a: spaces.Dict(
                {
                    "observation": spaces.Box(0, 1, (NUM_STICKS + 1,), np.int8),
                    "action_mask": spaces.Box(0, 1, (3,), np.int8),
                }
            )
            for a in self.possible_agents
        }

    @functools.cache  # noqa: B019 - spaces are fixed per agent
    def observation_space(self, agent: str) -> spaces.Space:
        """The observation space of ``agent``."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        """The action space of ``agent``."""
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        """Put the sticks back; player_0 moves first."""
        self.sticks = NUM_STICKS
        self.agents = list(self.possible_agents)
        self.agent_selection = self.agents[0]
        self.rewards = {a: 0 for a in self.agents}
        self._cumulative_rewards = {a: 0 for a in self.agents}
        self.terminations = {a: False for a in self.agents}
        self.truncations = {a: False for a in self.agents}
        self.infos = {a: {} for a in self.agents}

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        """One-hot of the sticks left, and which takes are legal."""
        obs = np.zeros(NUM_STICKS + 1, np.int8)
        obs[self.sticks] = 1
        mask = np.array([self.sticks >= k + 1 for k in range(3)], np.int8)
        if self.terminations[agent]:
            mask[:] = 0
        return {"observation": obs, "action_mask": mask}

    def step(self, action: int) -> None:
        """Take ``action + 1`` sticks."""
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        take = int(action) + 1
        if take > self.sticks:
            raise ValueError(f"illegal action {action}: only {self.sticks} sticks left")
        self.sticks -= take
        self._cumulative_rewards[agent] = 0
        other = self.agents[1 - self.agents.index(agent)]
        if self.sticks == 0:
            self.rewards = {agent: 1, other: -1}
            self.terminations = {a: True for a in self.agents}
        self.agent_selection = other
        self._accumulate_rewards()

    def render(self) -> str:
        """The sticks left, as text."""
        return f"{'|' * self.sticks} ({self.sticks} left)"


def main() -> None:
    """Train AlphaZero on Nim through the PettingZoo adapter and check the first move."""
    from az_gym import Trainer
    from az_gym.agents import RandomAgent
    from az_gym.evaluation import evaluate
    from az_gym.training.params import default_params

    trainer = Trainer(
        NimEnv,  # a zero-argument factory: worker processes build their own copies
        default_params("tictactoe"),  # small settings; overridden below
        "runs/nim",
        overrides=["num_iters=10", "use_symmetries=false", "arena.sim.flip_probability=0"],
    )
    trainer.train()
    agent = trainer.best_agent()
    env = NimEnv()
    env.reset()
    analysis = agent.analyse(env)
    print(analysis)
    print("first move takes", agent.act(env) + 1, "sticks (perfect play takes 3)")
    print(evaluate(agent, RandomAgent(seed=0), NimEnv(), num_games=50, seed=0))


if __name__ == "__main__":
    main()
