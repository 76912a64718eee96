"""Native games, the PettingZoo AEC shell, the Gymnasium view, the PettingZoo and
Gymnasium adapters.

Everything is imported lazily, so ``import az_gym.envs`` costs nothing.
"""

from __future__ import annotations

from az_gym._lazy import lazy_exports

_EXPORTS = {
    "AzGymEnv": "az_gym.envs.aec",
    "GymView": "az_gym.envs.gym_view",
    "PettingZooGame": "az_gym.envs.adapter",
    "PettingZooState": "az_gym.envs.adapter",
    "clone_env": "az_gym.envs.adapter",
    "GymnasiumGame": "az_gym.envs.gym_adapter",
    "GymnasiumState": "az_gym.envs.gym_state",
    "clone_gym_env": "az_gym.envs.gym_state",
    "make": "az_gym.envs.registry",
    "make_game": "az_gym.envs.registry",
    "available_games": "az_gym.envs.registry",
    "game_and_state": "az_gym.envs.registry",
    "register_all": "az_gym.envs.registry",
    "TicTacToe": "az_gym.envs.tictactoe",
    "ConnectFour": "az_gym.envs.connect_four",
    "Othello": "az_gym.envs.othello",
    "Gomoku": "az_gym.envs.gomoku",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("az_gym.envs", _EXPORTS, globals())
