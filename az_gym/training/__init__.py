"""Training: parameters, self-play workers, memory, learning, arena, the Trainer.

Names are imported lazily (``from az_gym.training import Trainer`` imports torch only then).
"""

from __future__ import annotations

from az_gym._lazy import lazy_exports

_EXPORTS = {
    "Trainer": "az_gym.training.trainer",
    "IterationReport": "az_gym.training.trainer",
    "RunDirError": "az_gym.training.run_dir",
    "StopTraining": "az_gym.training.trainer",
    "Terminated": "az_gym.training.events",
    "Params": "az_gym.training.params",
    "SelfPlayParams": "az_gym.training.params",
    "LearningParams": "az_gym.training.params",
    "ArenaParams": "az_gym.training.params",
    "MemAnalysisParams": "az_gym.training.params",
    "SimParams": "az_gym.training.params",
    "DuelSpec": "az_gym.training.params",
    "ParamsError": "az_gym.training.params",
    "load_params": "az_gym.training.params",
    "save_params": "az_gym.training.params",
    "default_params": "az_gym.training.params",
    "apply_overrides": "az_gym.training.params",
    "MemoryBuffer": "az_gym.training.memory",
    "Learner": "az_gym.training.learning",
    "simulate": "az_gym.training.simulation",
    "TrainingData": "az_gym.training.samples",
    "GameSpec": "az_gym.training.selfplay",
    "LocalPool": "az_gym.workers",
    "SelfPlayReport": "az_gym.training.selfplay",
    "run_self_play": "az_gym.training.selfplay",
    "ArenaReport": "az_gym.training.arena",
    "run_arena": "az_gym.training.arena",
    "RayPool": "az_gym.training.ray_backend",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("az_gym.training", _EXPORTS, globals())
