"""The run directory of a training run: its files, compatibility checks, safe checkpoints.

See :mod:`az_gym.training.trainer` for the layout. Each iteration's files (networks,
optimiser, memory) go to a fresh directory ``iter-NNNNNN/``; ``state.json``, written last
and atomically, names it (the commit). Loads read only the committed directory, so files of
an iteration that died before its commit are never used; a missing or corrupt file falls
back to the previous iteration's copy (kept until the next commit) with a warning.
Runs of the older flat layout (``current.pt`` + ``current.prev.pt``...) still load: the copy
whose ``"iteration"`` tag matches ``state.json`` is chosen.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from az_gym.game import Game
from az_gym.training.checkpoint import (
    CheckpointError,
    atomic_link,
    atomic_write_bytes,
    fsync_dir,
    safe_torch_load,
)
from az_gym.training.selfplay import GameSpec

STATE_VERSION = 2
ITER_DIR_PREFIX = "iter-"
ITER_DIR_PATTERN = re.compile(re.escape(ITER_DIR_PREFIX) + r"[0-9]+")
LEGACY_FILES = ("current.prev.pt", "best.prev.pt", "optimiser.pt", "memory.npz")
"""Top-level files of runs written before iteration directories, deleted at the next commit."""
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

    # ------------------------------------------------------------------ iteration files
    def iteration_dir(self, iteration: int) -> Path:
        """``iter-NNNNNN/``: the directory of iteration ``iteration``'s files."""
        return self.path / f"{ITER_DIR_PREFIX}{iteration:06d}"

    def artifact_path(self, name: str) -> Path:
        """Where the committed copy of ``name`` (``"current.pt"``, ``"memory.npz"``...) is:
        in the iteration directory that ``state.json`` names, or at the top of a run
        written by az_gym before iteration directories (the *legacy* layout)."""
        state = self.read_state() or {}
        committed = self._committed_dir(state)
        return (committed if committed is not None else self.path) / name

    def checkpoint_path(self, kind: str) -> Path:
        """The committed ``current.pt`` or ``best.pt``."""
        return self.artifact_path(f"{kind}.pt")

    def begin_iteration(self, iteration: int) -> Path:
        """Create an empty ``iter-NNNNNN/`` for the files of an iteration being saved (a
        copy left by an attempt that died before its commit is removed first).

        Raises:
            RunDirError: ``iteration`` is the committed one (its files are never rewritten).
        """
        directory = self.iteration_dir(iteration)
        if (self.read_state() or {}).get("checkpoint_dir") == directory.name:
            raise RunDirError(f"{directory} holds the committed iteration; it is never rewritten")
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        fsync_dir(self.path)
        return directory

    def commit(self, iteration: int, **fields: Any) -> None:
        """Make ``iter-NNNNNN/`` the run's state: write ``state.json`` (iteration, directory
        and ``fields``, which must be JSON values) atomically, then point the top-level
        ``current.pt``/``best.pt`` at the new files and delete the files no longer needed
        (all but this iteration's and the previous one's directories)."""
        state = self.read_state() or {}
        state.pop("version", None)
        state.update(fields, iteration=iteration,
                     checkpoint_dir=self.iteration_dir(iteration).name)  # fmt: skip
        self.write_state(state)
        self.publish()
        self.prune()

    def publish(self) -> None:
        """Hard-link (or copy) the committed ``current.pt``/``best.pt`` to the top of the run
        directory, where ``AlphaZeroAgent.load`` and the CLI look for them."""
        committed = self._committed_dir(self.read_state() or {})
        if committed is None:
            return
        for name in ("current.pt", "best.pt"):
            if (committed / name).exists():
                atomic_link(committed / name, self.path / name)

    def prune(self) -> None:
        """Delete the iteration directories other than the committed one and its previous
        one (the fallback for corrupt files), and the files of the legacy layout."""
        state = self.read_state() or {}
        committed = self._committed_dir(state)
        if committed is None:
            return
        n = int(state["iteration"])
        keep = {self.iteration_dir(n).name, self.iteration_dir(n - 1).name}
        for p in self.path.iterdir():
            if p.is_dir() and ITER_DIR_PATTERN.fullmatch(p.name) and p.name not in keep:
                shutil.rmtree(p, ignore_errors=True)
        for name in LEGACY_FILES:
            (self.path / name).unlink(missing_ok=True)

    def load_checkpoint(self, kind: str) -> dict[str, Any]:
        """Load the committed ``current`` or ``best`` checkpoint (see :meth:`_load_artifact`).

        Raises:
            CheckpointError: no copy loads.
        """
        return self._load_artifact(f"{kind}.pt", safe_torch_load)

    def load_optimiser(self) -> dict[str, Any]:
        """Load the committed optimiser state (see :meth:`_load_artifact`).

        Raises:
            CheckpointError: no copy loads.
        """
        return self._load_artifact("optimiser.pt", safe_torch_load)

    def load_memory(self) -> Any:
        """Load the committed :class:`~az_gym.training.memory.MemoryBuffer` (``None`` for a
        legacy run without ``memory.npz``; see :meth:`_load_artifact`).

        Raises:
            CheckpointError: no copy loads.
        """
        from az_gym.training.memory import MemoryBuffer

        state = self.read_state() or {}
        if self._committed_dir(state) is None and not (self.path / "memory.npz").exists():
            return None
        return self._load_artifact("memory.npz", MemoryBuffer.load)

    def _committed_dir(self, state: dict[str, Any]) -> Path | None:
        name = state.get("checkpoint_dir")
        if name is None:
            return None  # a new run (iteration 0) or the legacy layout
        expected = self.iteration_dir(int(state["iteration"])).name
        if name != expected:
            raise RunDirError(
                f"{self.state_path}: checkpoint_dir={name!r} must be {expected!r}, the "
                f"directory of iteration {state['iteration']}"
            )
        return self.path / name

    def _candidates(self, name: str, state: dict[str, Any]) -> list[tuple[Path, int | None]]:
        """``(path, iteration)`` of each copy of ``name``, the committed one first (the
        iteration is ``None`` where only the file's own tag can tell)."""
        n = int(state.get("iteration", 0))
        if self._committed_dir(state) is not None:
            return [(self.iteration_dir(n) / name, n), (self.iteration_dir(n - 1) / name, n - 1)]
        legacy = [self.path / name]
        if name in ("current.pt", "best.pt"):
            legacy.append(self.path / name.replace(".pt", ".prev.pt"))
        return [(p, None) for p in legacy]

    def _load_artifact(self, name: str, load: Callable[[Path], Any]) -> Any:
        """Load the copy of ``name`` that belongs to ``state.json``'s iteration.

        A copy's iteration is its ``"iteration"`` entry (checkpoints and optimiser state)
        or its directory's. The committed copy is used when it loads and its iteration is
        the committed one; otherwise the first other readable copy, with a warning that
        says why (missing, corrupt, or from another iteration).

        Raises:
            CheckpointError: no copy loads (the message gives each copy's reason).
        """
        state = self.read_state() or {}
        n = int(state.get("iteration", 0))
        problems: list[str] = []
        fallback: tuple[Path, Any, Any] | None = None
        for path, dir_tag in self._candidates(name, state):
            if not path.exists():
                problems.append(f"{path} is missing")
                continue
            try:
                obj = load(path)
            except ValueError as e:  # CheckpointError, or MemoryBuffer.load's error
                problems.append(f"{path} is corrupt ({e})")
                continue
            tag = obj.get("iteration", dir_tag) if isinstance(obj, dict) else dir_tag
            if tag is None or int(tag) == n:  # None: an untagged legacy file
                if problems:
                    _warn(f"{'; '.join(problems)}; using {path} (iteration {n})")
                return obj
            problems.append(f"{path} holds iteration {tag}, but state.json says {n}")
            if fallback is None:
                fallback = (path, tag, obj)
        if fallback is not None:
            path, tag, obj = fallback
            _warn(f"no copy of {name} from iteration {n}: {'; '.join(problems)}; using "
                  f"{path} (iteration {tag}) instead")  # fmt: skip
            return obj
        raise CheckpointError(f"{self.path}: no readable {name}: {'; '.join(problems)}")


def _warn(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=3)


__all__ = ["Callbacks", "CheckpointError", "RunDir", "RunDirError", "resolve_game"]
