"""Players: the AlphaZero agent, baselines, a human at the terminal, and DQN.

Every agent subclasses :class:`~az_gym.agents.base.Agent`. The torch-based agents
(``AlphaZeroAgent``, ``DQNAgent``) and the search-based ones are imported lazily on first
use, so ``from az_gym.agents import RandomAgent`` does not import torch.
"""

from __future__ import annotations

from az_gym._lazy import lazy_exports
from az_gym.agents.base import Agent, random_legal_action

_LAZY = {
    "RandomAgent": "az_gym.agents.baselines",
    "OneStepLookaheadAgent": "az_gym.agents.baselines",
    "NetworkOnlyAgent": "az_gym.agents.baselines",
    "SeededAgent": "az_gym.agents.baselines",
    "AlphaBetaAgent": "az_gym.agents.alphabeta",
    "Heuristic": "az_gym.agents.heuristics",
    "register_heuristic": "az_gym.agents.heuristics",
    "MctsRolloutAgent": "az_gym.agents.rollout_mcts",
    "HumanAgent": "az_gym.agents.human",
    "HumanQuit": "az_gym.agents.human",
    "play_against": "az_gym.agents.human",
    "AlphaZeroAgent": "az_gym.agents.alphazero",
    "DQNAgent": "az_gym.agents.dqn",
    "pretrained": "az_gym.agents.shipped",
    "available_pretrained": "az_gym.agents.shipped",
}

__all__ = [
    "Agent",
    "AlphaBetaAgent",
    "AlphaZeroAgent",
    "DQNAgent",
    "Heuristic",
    "HumanAgent",
    "HumanQuit",
    "MctsRolloutAgent",
    "NetworkOnlyAgent",
    "OneStepLookaheadAgent",
    "RandomAgent",
    "SeededAgent",
    "available_pretrained",
    "play_against",
    "pretrained",
    "random_legal_action",
    "register_heuristic",
]


__getattr__, __dir__ = lazy_exports("az_gym.agents", _LAZY, globals())
