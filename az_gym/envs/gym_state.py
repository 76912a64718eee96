"""A position of a single-player Gymnasium env (:class:`GymnasiumState`) and how its env is
cloned (:func:`clone_gym_env`), for :class:`~az_gym.envs.gym_adapter.GymnasiumGame`.

**Cloning.** Two methods:

* ``clone="deepcopy"`` (default), :func:`clone_gym_env`: ``copy.deepcopy`` layer by layer
  down the wrapper chain (``TimeLimit``, ``OrderEnforcing``, ``PassiveEnvChecker``...):
  each layer is made with ``cls.__new__`` and its ``__dict__`` deep-copied with one shared
  memo, so ``wrapper.env`` points at the cloned layer and ``EzPickle`` envs (Box2D, MuJoCo),
  whose plain deepcopy rebuilds a fresh env from the constructor, are copied as they are.
  The env's ``np_random`` is copied with its state, so a clone of a stochastic env has the
  same future as the original when stepped identically (search sees the env determinised
  by its RNG state). Spaces and the attributes named in ``share`` (default
  :data:`SHARED_ATTRIBUTES`: the toy-text transition table ``P``, specs, metadata) are
  configuration, shared rather than copied: copying ``P`` dominates the cost. This is the
  core both adapters share (:mod:`az_gym.envs.env_clone`), with its one rule for an
  attribute that cannot be deep-copied: shared if it is a pygame object, else a
  ``TypeError`` naming it.
* ``clone="replay"``: a fresh env (the factory, else a clone of the pristine reset env),
  reset with ``seed``, then the action history stepped. Correct for any env that is
  deterministic given its seed; O(steps) per clone. States taken from a live env
  (:meth:`~az_gym.envs.gym_adapter.GymnasiumGame.state_from_env`) have no history and
  always clone by deepcopy.

**Stochastic envs.** Every game starts from the one ``reset(seed)``, and a clone carries the
RNG state, so the search plans against the env's actual future random draws (the env is
determinised by its RNG state), and every self-play game has the same "dice" for the same
actions. Fine for deterministic envs; for stochastic ones this is a known limitation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np

from az_gym.envs.env_clone import clone_wrapped, pickle_layers, rebuild_wrapper_chain

SHARED_ATTRIBUTES: tuple[str, ...] = (
    "P",  # toy_text (FrozenLake, CliffWalking, Taxi) transition table, never mutated
    "spec",
    "metadata",
    "_metadata",
    "_cached_spec",
    "_saved_kwargs",
)
"""Attribute names (on any wrapper layer) whose values clones share instead of copying."""


# ----------------------------------------------------------------------- cloning
def clone_gym_env(env: gymnasium.Env, share: Sequence[str] = SHARED_ATTRIBUTES) -> gymnasium.Env:
    """Return an independent copy of ``env`` in its current position (module docstring):
    :func:`~az_gym.envs.env_clone.clone_wrapped` over Gymnasium layers.

    Stepping the copy never changes ``env`` and vice versa. Spaces and the attributes named
    in ``share`` are shared; pygame objects (windows of ``render_mode="human"``) are shared.

    Raises:
        TypeError: an attribute that cannot be deep-copied (the message names it).
    """
    return clone_wrapped(env, gymnasium.Env, share)


# ------------------------------------------------------------------------- state
@dataclasses.dataclass(eq=False, slots=True)
class GymnasiumState:
    """A position: a private env (never stepped again) and what its last step said.

    Attributes:
        env: the private env holding the position. Do not step it.
        obs: ``float32[*observation_shape]``, read-only: the observation of the position.
        info: the ``info`` dict of the last ``reset``/``step``.
        mask: ``bool[num_actions]``, read-only: the legal actions (all False when over).
        total_return: the undiscounted sum of the rewards so far.
        steps: steps since the reset.
        terminated, truncated: the env's flags of the last step (``truncated`` also
            when ``max_steps`` is reached).
        history: the game actions from the reset, or ``None`` for a state taken from a live
            env.
    """

    env: gymnasium.Env
    obs: np.ndarray
    info: dict[str, Any]
    mask: np.ndarray
    total_return: float
    steps: int
    terminated: bool
    truncated: bool
    history: tuple[int, ...] | None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle (and deep-copy) layer by layer, like :func:`clone_gym_env`: plain pickling
        of an ``EzPickle`` env rebuilds it from its constructor and loses the position."""
        layers = pickle_layers(self.env, gymnasium.Env)
        fields = [getattr(self, f.name) for f in dataclasses.fields(self)[1:]]
        return (_unpickle_state, (layers, fields))

    def __repr__(self) -> str:
        return f"<GymnasiumState {self.env} step {self.steps} return {self.total_return}>"


def _unpickle_state(layers: list[tuple[type, dict[str, Any]]], fields: list[Any]) -> GymnasiumState:
    return GymnasiumState(rebuild_wrapper_chain(layers), *fields)  # type: ignore[arg-type]
