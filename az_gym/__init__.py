"""az_gym: AlphaZero for PettingZoo / Gymnasium board games.

The public API is imported lazily, so ``import az_gym`` stays light (no torch) and
registers the Gymnasium views of the native games.
"""

from __future__ import annotations

from az_gym._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "Game": "az_gym.game",
    "Symmetry": "az_gym.game",
    "IllegalActionError": "az_gym.game",
    "GameOverError": "az_gym.game",
    "make": "az_gym.envs.registry",
    "make_game": "az_gym.envs.registry",
    "available_games": "az_gym.envs.registry",
    "MctsParams": "az_gym.mcts_params",
    "AlphaZeroAgent": "az_gym.agents.alphazero",
    "pretrained": "az_gym.agents.shipped",
    "available_pretrained": "az_gym.agents.shipped",
    "Trainer": "az_gym.training.trainer",
    "Params": "az_gym.training.params",
    "evaluate": "az_gym.evaluation",
    "tournament": "az_gym.evaluation",
    "necessary_samples": "az_gym.evaluation",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("az_gym", _EXPORTS, globals())


def _register() -> None:
    from az_gym.envs import registry

    registry.register_all()


_register()
