"""The run directory of a training run: its files, compatibility checks, safe checkpoints.

See :mod:`az_gym.training.trainer` for the layout. Everything is written atomically; a
checkpoint ``X.pt`` keeps its previous version as ``X.prev.pt`` so that a corrupt file
falls back to the previous good one (with a warning).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from az_gym.game import Game
from az_gym.training.checkpoint import (
    CheckpointError,
    atomic_torch_save,
    atomic_write_bytes,
    load_latest_good,
)
from az_gym.training.selfplay import GameSpec

STATE_VERSION = 1
CALLBACK_NAMES = ("on_self_play_end", "on_learning_end", "on_arena_end", "on_iteration_end")


class RunDirError(ValueError):
    """A run directory that cannot be used as asked (another game, another network...)."""


def resolve_game(env_or_name: Any, options: dict[str, Any]) -> tuple[GameSpec, Game]:
    """Turn what the user gave into a picklable :class:`GameSpec` and its :class:`Game`.

    Accepts a registry name, a :class:`Game`, ``(env_fn, kwargs)``, a zero-argument factory
    (a function, class or ``functools.partial``), or an env instance (az_gym or PettingZoo).
    """
    import functools

    if options and not isinstance(env_or_name, str):
        raise ValueError("game_options are only used with a registry name")
    if isinstance(env_or_name, GameSpec):
        spec = env_or_name
    elif isinstance(env_or_name, str):
        spec = GameSpec(name=env_or_name, options=dict(options))
    elif isinstance(env_or_name, Game):
        spec = GameSpec(game=env_or_name)
    elif isinstance(env_or_name, tuple) and len(env_or_name) == 2 and callable(env_or_name[0]):
        spec = GameSpec(factory=functools.partial(env_or_name[0], **dict(env_or_name[1])))
    elif callable(env_or_name) and not hasattr(env_or_name, "agent_selection"):
        spec = GameSpec(factory=env_or_name)
    else:
        from az_gym.envs.registry import game_and_state

        game, _ = game_and_state(env_or_name)
        spec = GameSpec(game=game)
    return spec, spec.build()


class Callbacks:
    """Dispatches the trainer's events to user callbacks (objects, dicts or lists)."""

    def __init__(self, callbacks: Any = None) -> None:
        items = callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]
        self._handlers: dict[str, list[Callable[[Any], None]]] = {n: [] for n in CALLBACK_NAMES}
        for cb in items:
            if cb is None:
                continue
            for name in CALLBACK_NAMES:
                fn = cb.get(name) if isinstance(cb, dict) else getattr(cb, name, None)
                if fn is not None:
                    self._handlers[name].append(fn)
            if isinstance(cb, dict):
                unknown = set(cb) - set(CALLBACK_NAMES)
                if unknown:
                    raise ValueError(
                        f"callbacks: unknown events {sorted(unknown)}; known: {CALLBACK_NAMES}"
                    )

    def fire(self, name: str, report: Any) -> None:
        """Call every handler of event ``name`` with ``report``."""
        for fn in self._handlers[name]:
            fn(report)


def _registry_name(game: Game) -> str | None:
    from az_gym.envs.registry import available_games

    return game.name if game.name in available_games() else None


def _factory_recipe(factory: Callable[[], Any] | None) -> dict[str, Any] | None:
    """``{"target": "module:qualname", "kwargs": {...}}`` for an importable function or
    class (or a ``functools.partial`` of one with JSON keyword arguments), else ``None``."""
    import functools

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
        json.dumps(kwargs)
    except TypeError:
        return None
    return {"target": f"{module}:{qualname}", "kwargs": kwargs}


def _factory_from_recipe(recipe: dict[str, Any], where: Path) -> Callable[[], Any]:
    import functools
    import importlib

    try:
        module_name, qualname = str(recipe["target"]).split(":")
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (KeyError, ValueError, ImportError, AttributeError) as e:
        raise RunDirError(f"{where}: cannot import the game factory {recipe!r}: {e}") from None
    return functools.partial(obj, **dict(recipe.get("kwargs") or {}))


class RunDir:
    """The files of one run (paths, state, checkpoints)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.params_path = self.path / "params.toml"
        self.state_path = self.path / "state.json"
        self.memory_path = self.path / "memory.npz"
        self.optimiser_path = self.path / "optimiser.pt"

    # ------------------------------------------------------------------ state.json
    def read_state(self) -> dict[str, Any] | None:
        """The content of ``state.json`` (``None`` if absent).

        Raises:
            RunDirError: unreadable (it is always written atomically, so this means damage).
        """
        if not self.state_path.exists():
            return None
        try:
            return json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise RunDirError(f"{self.state_path} is unreadable: {e}") from None

    def write_state(self, state: dict[str, Any]) -> None:
        """Write ``state.json`` atomically (the commit point of an iteration)."""
        data = {"version": STATE_VERSION, **state}
        atomic_write_bytes(self.state_path, (json.dumps(data, indent=1) + "\n").encode())

    def last_iteration(self) -> int:
        """The last completed iteration recorded in ``state.json`` (0 if none)."""
        state = self.read_state()
        return int(state["iteration"]) if state else 0

    # ------------------------------------------------------------------ lifecycle
    def start(self, game: Game, spec: GameSpec, params: Any) -> None:
        """Create the directory for a new run: ``params.toml`` and ``state.json`` at 0."""
        from az_gym.training.params import save_params

        self.path.mkdir(parents=True, exist_ok=True)
        save_params(params, self.params_path)
        name, options = spec.name, dict(spec.options)
        if name is None and spec.game is not None and not spec.game.options():
            name = _registry_name(spec.game)
        self.write_state(
            {
                "iteration": 0,
                "game_id": game.game_id,
                "game_name": name,
                "game_options": options if name else {},
                "game_factory": _factory_recipe(spec.factory),
                "network": params.network.to_dict(),
                "rng": None,
            }
        )

    def check_compatible(self, game: Game, network: Any) -> None:
        """Refuse a directory that holds a run of another game or another architecture.

        Raises:
            RunDirError: the message names the stored and the requested value.
        """
        state = self.read_state()
        if state is None:
            return
        if state.get("game_id") != game.game_id:
            raise RunDirError(
                f"{self.path} holds a run of game {state.get('game_id')!r}, not of "
                f"{game.game_id!r}; choose another run directory"
            )
        stored = state.get("network")
        if stored is not None and stored != network.to_dict():
            raise RunDirError(
                f"{self.path} holds a network {stored} but the parameters ask for "
                f"{network.to_dict()}; the checkpoints cannot be loaded into it (use the "
                "run's params.toml or another run directory)"
            )

    def stored_game(self) -> Any:
        """Rebuild the run's game from ``state.json``: a registry name and options, or the
        import path of a factory (``module:qualname`` plus JSON keyword arguments).

        Nothing is unpickled: a run directory may come from someone else.

        Raises:
            RunDirError: neither is recorded (pass the env to ``from_run_dir``).
        """
        state = self.read_state() or {}
        if state.get("game_name"):
            return GameSpec(name=state["game_name"], options=state.get("game_options", {}))
        recipe = state.get("game_factory")
        if recipe:
            return GameSpec(factory=_factory_from_recipe(recipe, self.state_path))
        raise RunDirError(
            f"{self.path}: cannot rebuild game {state.get('game_id')!r}; pass env_or_name"
        )

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_path(self, kind: str, previous: bool = False) -> Path:
        """``current.pt``/``best.pt`` (or their ``.prev.pt`` copies)."""
        return self.path / (f"{kind}.prev.pt" if previous else f"{kind}.pt")

    def save_checkpoint(self, kind: str, ckpt: dict[str, Any]) -> None:
        """Keep the old ``kind.pt`` as ``kind.prev.pt``, then write the new one atomically."""
        path = self.checkpoint_path(kind)
        if path.exists():
            os.replace(path, self.checkpoint_path(kind, previous=True))
        atomic_torch_save(ckpt, path)

    def load_checkpoint(self, kind: str) -> dict[str, Any]:
        """Load ``kind.pt``, or warn and use ``kind.prev.pt`` if it is missing or corrupt.

        Raises:
            CheckpointError: neither loads.
        """
        main, prev = self.checkpoint_path(kind), self.checkpoint_path(kind, previous=True)
        path, ckpt = load_latest_good([main, prev])
        if path != main:
            reason = "missing" if not main.exists() else "corrupt"
            warnings.warn(
                f"{main} is {reason}; using the previous good checkpoint {prev} "
                f"(iteration {ckpt.get('iteration', '?')})",
                RuntimeWarning,
                stacklevel=2,
            )
        return ckpt


__all__ = ["Callbacks", "CheckpointError", "RunDir", "RunDirError", "resolve_game"]
