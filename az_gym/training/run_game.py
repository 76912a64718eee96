"""Which game a run trains, and how a resume gets it back without running code from data.

A run records its game in ``state.json`` as data: a registry name and options, or, for a
factory (``pettingzoo.classic.tictactoe_v3.env``), its ``module:qualname`` and JSON keyword
arguments. On resume the game comes back by registry name, or from a factory *the user
passes again* (``az-gym train MODULE:FACTORY --resume`` or
``Trainer.from_run_dir(DIR, env_or_name=factory)``), which must match the recorded
description (compared as strings, never imported). Only what the user typed on the command
line is ever imported (:func:`import_factory`).
"""

from __future__ import annotations

import functools
import importlib
import json
import shlex
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from az_gym.game import Game
from az_gym.training.run_state import RunDirError, describe_game, shown
from az_gym.training.selfplay import GameSpec


def resolve_game(env_or_name: Any, options: dict[str, Any]) -> tuple[GameSpec, Game]:
    """Turn what the user gave into a picklable :class:`GameSpec` and its :class:`Game`.

    Accepts what :func:`~az_gym.envs.registry.as_game` accepts (``options`` with a
    registry name), and a :class:`GameSpec`. A name or a factory stays a recipe, so worker
    processes rebuild the game; anything else travels as the game itself.

    Raises:
        ValueError: options without a registry name, or options the game does not take.
    """
    from az_gym.envs.registry import as_game

    game = None if isinstance(env_or_name, GameSpec) else as_game(env_or_name, **options)
    if isinstance(env_or_name, GameSpec):
        spec = env_or_name
    elif isinstance(env_or_name, str):
        spec = GameSpec(name=env_or_name, options=dict(options))
    elif isinstance(env_or_name, tuple) and len(env_or_name) == 2 and callable(env_or_name[0]):
        spec = GameSpec(factory=functools.partial(env_or_name[0], **dict(env_or_name[1])))
    elif callable(env_or_name) and not hasattr(env_or_name, "agent_selection"):
        spec = GameSpec(factory=env_or_name)
    else:
        assert game is not None
        spec = GameSpec(game=game)
    return spec, game if game is not None else spec.build()


def factory_recipe(factory: Callable[[], Any] | None) -> dict[str, Any] | None:
    """``{"target": "module:qualname", "kwargs": {...}}`` describing an importable function
    or class (or a ``functools.partial`` of one with JSON keyword arguments), else ``None``.

    A description for display and comparison only: it is never imported back.
    """
    if factory is None:
        return None
    kwargs: dict[str, Any] = {}
    if isinstance(factory, functools.partial):
        if factory.args:
            return None
        factory, kwargs = factory.func, dict(factory.keywords)
    module = getattr(factory, "__module__", None)
    qualname = getattr(factory, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        return None
    try:
        kwargs = json.loads(json.dumps(kwargs))  # as state.json will hold them
    except (TypeError, ValueError):
        return None
    return {"target": f"{module}:{qualname}", "kwargs": kwargs}


def import_factory(text: str, options: dict[str, Any]) -> Callable[[], Any]:
    """The factory that ``MODULE:FACTORY`` names on the command line (e.g.
    ``pettingzoo.classic.connect_four_v3:env``), with ``options`` as keyword arguments.

    The current directory is searched first, as ``python -m`` does, so a game in
    ``./mygame.py`` is ``mygame:env``. Only what the user typed is imported.

    Raises:
        ValueError: not ``MODULE:FACTORY``, or the module or attribute cannot be imported.
    """
    module_name, sep, qualname = text.partition(":")
    if not sep or not module_name or not qualname or ":" in qualname:
        raise ValueError(f"game {text!r}: a factory is named MODULE:FACTORY (e.g. mygame:env)")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except ImportError as e:
        raise ValueError(f"game {text!r}: cannot import {module_name!r}: {e}") from None
    except AttributeError:
        raise ValueError(f"game {text!r}: {module_name} has no attribute {qualname!r}") from None
    if isinstance(obj, types.ModuleType):
        raise ValueError(
            f"game {text!r}: {qualname} is a module; name its factory, "
            f"e.g. {module_name}.{qualname}:env"
        )
    if not callable(obj):
        raise ValueError(f"game {text!r}: {qualname} is not callable")
    return functools.partial(obj, **options) if options else obj


def game_from_state(state: dict[str, Any], where: Path) -> GameSpec:
    """The registry game a run records (by name and options, never by import).

    Raises:
        RunDirError: the run was trained on a factory or an env instance, which the user
            must pass again (the message says how).
    """
    if state.get("game_name"):
        return GameSpec(name=state["game_name"], options=dict(state.get("game_options") or {}))
    recipe = state.get("game_factory")
    if recipe:
        # A suggested command holds no text from the file unless it is a plain name.
        target = recipe["target"]
        target = target if shown(target) == target else "MODULE:FACTORY"
        raise RunDirError(
            f"{where} was trained on {describe_game(state)}; az_gym never imports what a "
            f"run directory names, so pass it again: az-gym train {target} --run-dir "
            f"{shlex.quote(str(where.parent))} --resume, or "
            "Trainer.from_run_dir(..., env_or_name=factory)"
        )
    raise RunDirError(
        f"{where}: the run's game {state.get('game_id')!r} has no registry name; pass the "
        "env again: Trainer.from_run_dir(..., env_or_name=env)"
    )


def check_same_game(state: dict[str, Any], spec: GameSpec, game: Game, where: Path) -> None:
    """Refuse a game other than the run's: another registry name or options, another
    factory (its ``module:qualname`` and keyword arguments, compared as data), or another
    ``game_id``.

    Raises:
        RunDirError: naming the run's game and the one given.
    """
    recorded = describe_game(state)
    if spec.name is not None and state.get("game_name"):
        same = spec.name == state["game_name"]  # the options: by game_id, below
        given = describe_game({"game_name": spec.name, "game_options": game.options()})
    elif spec.factory is not None and state.get("game_factory"):
        recipe = factory_recipe(spec.factory)
        same = recipe == state["game_factory"]
        given = describe_game({"game_factory": recipe, "game_id": game.game_id})
    else:
        same, given = True, ""
    if same and state.get("game_id") not in (None, game.game_id):
        same, given = False, given or f"game {game.game_id!r}"
    if not same:
        raise RunDirError(
            f"{where} holds a run of {recorded}, not of {given}; resume it with the same "
            "game and options, or choose another run directory"
        )
