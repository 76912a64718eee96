"""Cloning a wrapped foreign env layer by layer: the one core of both adapters.

:class:`~az_gym.envs.adapter.PettingZooGame` (PettingZoo AEC envs) and
:class:`~az_gym.envs.gym_adapter.GymnasiumGame` (Gymnasium envs) hold each position in a
private env and step a *clone* of it. ``copy.deepcopy(env)`` is wrong for many of these
envs: ``gymnasium.utils.EzPickle`` envs (the PettingZoo classics, Box2D, MuJoCo) rebuild a
fresh env from their constructor arguments in ``__setstate__``, so the copy silently holds an
empty board. :func:`clone_wrapped` copies what is there instead:

* walk the wrapper chain (``layer.env``) down to the innermost env
  (:func:`wrapper_chain`), then from the innermost outwards make each layer with
  ``cls.__new__`` (no ``__init__``, no ``__setstate__``) and deep-copy its ``__dict__`` with
  one shared memo in which every inner layer already maps to its clone, so ``layer.env``
  points at the cloned layer;
* **configuration is shared, not copied**: Gymnasium spaces (and dicts of them) and the
  attributes named in ``share`` (each adapter's default, plus the user's): copying them
  (their RNGs, a toy-text transition table) would dominate the cost, and nothing steps them;
* ``numpy`` generators are copied with their state (4x faster than ``deepcopy``), so a
  clone of a stochastic env has the same future as the original when stepped identically.

**The rule for attributes that cannot be deep-copied** (the same in both adapters): a
pygame object (the window, clock or font of ``render_mode="human"``) is shared, because it
only draws and a position never depends on it; anything else raises ``TypeError`` naming the
layer, the attribute and the remedies (``clone="replay"``, or ``share=`` for a value that
never changes). Sharing it silently would let a clone and its original step each other's
state, which would corrupt the search without a word.

:func:`pickle_layers` / :func:`rebuild_wrapper_chain` pickle a state the same way, layer by
layer (plain pickling of an ``EzPickle`` env rebuilds it and loses the position).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces


def wrapper_chain(env: Any, base: type) -> list[Any]:
    """Return ``[env, env.env, env.env.env, ...]`` while the next layer is a ``base``
    (``pettingzoo.AECEnv`` or ``gymnasium.Env``), down to the innermost env."""
    chain = [env]
    while isinstance(chain[-1].__dict__.get("env"), base):
        chain.append(chain[-1].__dict__["env"])
    return chain


def is_config(value: object) -> bool:
    """Spaces (or a non-empty dict of them): configuration that clones share."""
    if isinstance(value, spaces.Space):
        return True
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(v, spaces.Space) for v in value.values())
    )


def _copy_generator(g: np.random.Generator) -> np.random.Generator:
    """A copy of ``g`` in the same state."""
    bg = g.bit_generator
    new = type(bg)(0)
    new.state = bg.state
    return np.random.Generator(new)


def clone_wrapped(env: Any, base: type, share: Sequence[str] = ()) -> Any:
    """Return an independent copy of ``env`` (wrappers included) in its current position.

    Stepping the copy never changes ``env`` and vice versa. Spaces and the attributes named
    in ``share`` (on any layer) are shared (see the module docstring for the rule).

    Args:
        env: the outermost layer.
        base: the class every wrapper layer and the innermost env derive from.
        share: attribute names whose values the clone shares instead of copying.

    Raises:
        TypeError: an attribute that cannot be deep-copied and is not a pygame object (the
            message names the layer and attribute, and what to do).
    """
    chain = wrapper_chain(env, base)
    memo: dict[int, Any] = {}
    for layer in chain:
        for key, value in layer.__dict__.items():
            if key in share or is_config(value):
                memo[id(value)] = value
    for layer in reversed(chain):  # innermost first, so outer layers find it in memo
        new = object.__new__(type(layer))
        memo[id(layer)] = new
        for key, value in layer.__dict__.items():
            if id(value) in memo:
                new.__dict__[key] = memo[id(value)]
            elif isinstance(value, np.random.Generator):
                new.__dict__[key] = memo[id(value)] = _copy_generator(value)
            else:
                new.__dict__[key] = _copy_attribute(layer, key, value, memo)
    return memo[id(env)]


def _copy_attribute(layer: Any, key: str, value: Any, memo: dict[int, Any]) -> Any:
    try:
        return copy.deepcopy(value, memo)
    except (TypeError, copy.Error, AttributeError) as e:
        if type(value).__module__.startswith("pygame"):
            return value  # rendering only: shared (the rule in the module docstring)
        raise TypeError(
            f"cannot clone {type(layer).__name__}.{key} ({type(value).__name__}): {e}; "
            f"use clone='replay' or add {key!r} to share= if it never changes"
        ) from None


def pickle_layers(env: Any, base: type) -> list[tuple[type, dict[str, Any]]]:
    """``(class, attributes without env)`` per wrapper layer, outermost first: what
    :func:`rebuild_wrapper_chain` needs to rebuild ``env`` after pickling."""
    return [
        (type(layer), {k: v for k, v in layer.__dict__.items() if k != "env"})
        for layer in wrapper_chain(env, base)
    ]


def rebuild_wrapper_chain(layers: list[tuple[type, dict[str, Any]]]) -> Any:
    """Rebuild an env from ``(class, attributes)`` per wrapper layer, outermost first,
    without ``__init__`` or ``__setstate__``."""
    inner = None
    for cls, attrs in reversed(layers):
        layer = object.__new__(cls)
        layer.__dict__.update(attrs)
        if inner is not None:
            layer.__dict__["env"] = inner
        inner = layer
    return inner
