"""The run directory of a training run: its files, compatibility checks, safe checkpoints.

See :mod:`az_gym.training.trainer_state` for the layout. Each iteration's files (networks,
optimiser, memory, the report so far) go to a fresh directory ``iter-NNNNNN/``;
``state.json``, written last and atomically, names it (the commit). Loads read only the
committed directory, so files of an iteration that died before its commit are never used; a
missing or corrupt file falls back to the previous iteration's copy (kept until the next
commit) with a warning that names the file. Runs of the older flat layout (every file at
the top, no iteration directories) are refused (see :mod:`az_gym.training.run_state`).

Every load takes the ``state`` it belongs to (read once by the caller), so the files of one
load come from one commit even while a trainer commits the next iteration; nothing here
writes except :meth:`RunDir.start`, :meth:`RunDir.begin_iteration` and
:meth:`RunDir.commit`, which only the lock's holder calls.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from az_gym.game import Game
from az_gym.training.checkpoint import (
    CheckpointError,
    atomic_link,
    atomic_write_bytes,
    fsync_dir,
)
from az_gym.training.run_game import (
    check_same_game,
    factory_recipe,
    game_from_state,
    resolve_game,
)
from az_gym.training.run_lock import RunLock
from az_gym.training.run_state import STATE_VERSION, RunDirError, read_state_file
from az_gym.training.selfplay import GameSpec

ITER_DIR_PREFIX = "iter-"
ITER_DIR_PATTERN = re.compile(re.escape(ITER_DIR_PREFIX) + r"[0-9]+")
PUBLISHED = ("current.pt", "best.pt", "report.jsonl")
"""Files of the committed iteration linked to the top of the run directory."""


def _registry_name(game: Game) -> str | None:
    from az_gym.envs.registry import available_games

    return game.name if game.name in available_games() else None


class RunDir:
    """The files of one run (paths, state, checkpoints) and its writer's lock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.params_path = self.path / "params.toml"
        self.state_path = self.path / "state.json"
        self.lock = RunLock(self.path)

    # ------------------------------------------------------------------ state.json
    def read_state(self) -> dict[str, Any] | None:
        """The checked content of ``state.json`` (``None`` if absent).

        Raises:
            RunDirError: unreadable, malformed, or naming a directory other than its
                iteration's (see :mod:`az_gym.training.run_state`).
        """
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"{self.path} is a file, not a run directory")
        state = read_state_file(self.state_path)
        if state is not None:
            self._committed_dir(state)  # checks checkpoint_dir
        return state

    def write_state(self, state: dict[str, Any]) -> None:
        """Write ``state.json`` atomically (the commit point of an iteration)."""
        data = {"version": STATE_VERSION, **state}
        atomic_write_bytes(self.state_path, (json.dumps(data, indent=1) + "\n").encode())

    def last_iteration(self) -> int:
        """The last completed iteration recorded in ``state.json`` (0 if none)."""
        state = self.read_state()
        return int(state["iteration"]) if state else 0

    # ------------------------------------------------------------------ lifecycle
    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the lock for a run (create the directory if needed); a run that fails or is
        interrupted before its first commit removes what it created, so that it blocks no
        later one (a directory the user made is kept, emptied of the run's files).

        Raises:
            RunDirError: the path is a file, or cannot be written (read-only file system,
                permissions): the message names the run directory.
            RunLockedError: another trainer holds the lock.
        """
        import os

        from az_gym.training.run_lock import RunLockedError

        path = self.path
        if path.exists() and not path.is_dir():
            raise RunDirError(f"{path} is a file, not a run directory")
        created = not path.exists()
        try:
            path.mkdir(parents=True, exist_ok=True)
            before = set(os.listdir(path))
            self.lock.acquire()
        except RunLockedError:
            raise
        except OSError as e:
            raise RunDirError(
                f"cannot write to the run directory {path}: {e.strerror or e}"
            ) from None
        try:
            self._check_layout()
            yield
        except BaseException:
            try:
                state = read_state_file(self.state_path)
            except RunDirError:  # damaged: keep everything for the user to look at
                state = {"iteration": -1}
            if state is None or state["iteration"] == 0:  # nothing committed: discard
                if created:
                    shutil.rmtree(path, ignore_errors=True)
                else:  # what this start added, and the files of an earlier failed start
                    earlier = {"state.json", "params.toml"} if "state.json" in before else set()
                    for name in (set(os.listdir(path)) - before) | earlier:
                        p = path / name
                        if name != self.lock.path.name and p.exists():
                            shutil.rmtree(p) if p.is_dir() else p.unlink()
            raise
        finally:
            self.lock.release()

    def start(self, game: Game, spec: GameSpec, params: Any) -> None:
        """Write ``params.toml`` and ``state.json`` at iteration 0 for a new run (the
        directory exists and the caller holds its lock).

        Raises:
            RunDirError: the directory holds iteration directories but no ``state.json`` (a
                damaged run, which a new one would prune).
        """
        from az_gym.training.params import save_params

        if self.read_state() is None and any(
            ITER_DIR_PATTERN.fullmatch(p.name) for p in self.path.iterdir()
        ):
            raise RunDirError(
                f"{self.path} holds iteration directories but no state.json (a damaged run): "
                "restore state.json from a backup, or choose another run directory"
            )

        save_params(params, self.params_path)
        name, options = spec.name, dict(game.options()) if spec.name else {}
        if name is None and spec.game is not None and not spec.game.options():
            name = _registry_name(spec.game)
        self.write_state(
            {
                "iteration": 0,
                "game_id": game.game_id,
                "game_name": name,
                "game_options": options if name else {},
                "game_factory": factory_recipe(spec.factory),
                "network": params.network.to_dict(),
                "rng": None,
            }
        )

    def check_compatible(self, game: Game, spec: GameSpec, network: Any) -> None:
        """Refuse a directory that holds a run of another game (name, options, factory or
        id) or another architecture. A run still at iteration 0 holds nothing to protect.

        Raises:
            RunDirError: the message names the stored and the requested value.
        """
        state = self.read_state()
        if state is None or state["iteration"] == 0:
            return
        check_same_game(state, spec, game, self.path)
        stored = state.get("network")
        if stored is not None and stored != network.to_dict():
            raise RunDirError(
                f"{self.path} holds a network {stored} but the parameters ask for "
                f"{network.to_dict()}; the checkpoints cannot be loaded into it (use the "
                "run's params.toml or another run directory)"
            )

    def stored_game(self) -> GameSpec:
        """The run's game by registry name and options (see
        :func:`~az_gym.training.run_game.game_from_state`; nothing is imported).

        Raises:
            RunDirError: no state, or a game the user must pass again.
        """
        state = self.read_state()
        if state is None:
            raise RunDirError(f"{self.path} holds no run (no state.json)")
        return game_from_state(state, self.state_path)

    def _check_layout(self) -> None:
        """Refuse, before anything is written, the entries a writer would write through or
        fail on: ``plots/``, ``tensorboard/`` and ``iter-NNNNNN/`` that are symlinks (the
        writes would land outside the run directory) or not directories, and symlinks
        inside ``plots/`` and ``tensorboard/`` (their files are opened for writing).

        Raises:
            RunDirError: one line naming the entry and what to do.
        """
        entries = [self.path / "plots", self.path / "tensorboard"]
        entries += [p for p in self.path.iterdir() if ITER_DIR_PATTERN.fullmatch(p.name)]
        for p in entries:
            if p.is_symlink() or (p.exists() and not p.is_dir()):
                what = "a symbolic link" if p.is_symlink() else "not a directory"
                raise RunDirError(
                    f"{p} is {what}; the trainer writes into it, so it must be a directory "
                    "of this run (or absent): remove it and resume"
                )
        for p in entries[:2]:
            inner = [q for q in p.iterdir() if q.is_symlink()] if p.is_dir() else []
            if inner:
                raise RunDirError(
                    f"{inner[0]} is a symbolic link; the trainer writes the files of {p}: "
                    "remove it and resume"
                )

    # ------------------------------------------------------------------ iteration files
    def iteration_dir(self, iteration: int) -> Path:
        """``iter-NNNNNN/``: the directory of iteration ``iteration``'s files."""
        return self.path / f"{ITER_DIR_PREFIX}{iteration:06d}"

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
        files at the new ones and delete the files no longer needed (all but this
        iteration's and the previous one's directories)."""
        state = self.read_state() or {}
        state.pop("version", None)
        state.update(fields, iteration=iteration, checkpoint_dir=self.iteration_dir(iteration).name)
        self.write_state(state)
        self.publish()
        self.prune()

    def publish(self) -> None:
        """Hard-link (or copy) the committed ``current.pt``, ``best.pt`` and
        ``report.jsonl`` to the top of the run directory, where ``AlphaZeroAgent.load``,
        the CLI and the live pages look for them."""
        committed = self._committed_dir(self.read_state() or {})
        if committed is None:
            return
        for name in PUBLISHED:
            if (committed / name).exists():
                atomic_link(committed / name, self.path / name)

    def prune(self) -> None:
        """Delete the iteration directories other than the committed one and its previous
        one (the fallback for corrupt files)."""
        state = self.read_state() or {}
        committed = self._committed_dir(state)
        if committed is None:
            return
        n = int(state["iteration"])
        keep = {self.iteration_dir(n).name, self.iteration_dir(n - 1).name}
        for p in self.path.iterdir():
            if p.is_dir() and ITER_DIR_PATTERN.fullmatch(p.name) and p.name not in keep:
                shutil.rmtree(p, ignore_errors=True)

    # ------------------------------------------------------------------ loads
    def load_artifact(self, name: str, load: Callable[[Path], Any], state: dict[str, Any]) -> Any:
        """Load the copy of ``name`` that belongs to ``state``'s iteration with ``load``
        (which raises ``ValueError`` for a file it cannot use: corrupt, unsafe, or not
        fitting the run).

        A copy's iteration is its ``"iteration"`` entry (checkpoints and optimiser state)
        or its directory's. The committed copy is used when it loads and its iteration is
        the committed one; otherwise the first other usable copy, with a warning that
        names the files and says why (missing, corrupt, or from another iteration).

        Raises:
            CheckpointError: no copy loads (one line: each copy's reason, what to do).
        """
        n = int(state.get("iteration", 0))
        candidates = self._candidates(name, state)
        problems = [] if candidates else ["no iteration is committed yet"]
        fallback: tuple[Path, Any, Any] | None = None
        for path, dir_tag in candidates:
            if not path.is_file():
                problems.append(f"{path} is missing")
                continue
            try:
                obj = load(path)
            except (ValueError, OSError) as e:  # CheckpointError, a validator's refusal
                problems.append(f"{path} is corrupt ({_one_line(e)})")
                continue
            tag = obj.get("iteration", dir_tag) if isinstance(obj, dict) else dir_tag
            if isinstance(tag, int) and tag == n:
                if problems:
                    _warn(f"{'; '.join(problems)}; using {path} (iteration {n})")
                return obj
            problems.append(f"{path} holds iteration {tag!r}, but state.json says {n}")
            if fallback is None and isinstance(tag, int):
                fallback = (path, tag, obj)
        if fallback is not None:
            path, tag, obj = fallback
            _warn(
                f"no copy of {name} from iteration {n}: {'; '.join(problems)}; using "
                f"{path} (iteration {tag}) instead"
            )
            return obj
        raise CheckpointError(
            f"{self.path}: no usable {name}: {'; '.join(problems)}; restore the file from a "
            "backup, or start a new run directory"
        )

    def load_reports(self, state: dict[str, Any]) -> list[dict[str, Any]]:
        """The ``report.jsonl`` records of iterations 1..N of ``state``'s iteration N: the
        committed copy, else the top-level file, else the previous iteration's copy (its
        last record lost), with a warning naming the files. Reports are not needed to
        train, so a loss of all copies is a warning and an empty history, never an error."""
        n = int(state["iteration"])
        committed = self._committed_dir(state)
        if committed is None:
            return []  # iteration 0
        candidates = [
            (committed / "report.jsonl", n),
            (self.path / "report.jsonl", n),
            (self.iteration_dir(n - 1) / "report.jsonl", n - 1),
        ]
        problems: list[str] = []
        for path, upto in candidates:
            if not path.is_file():
                continue
            try:
                records = _parse_records(path, upto)
            except (ValueError, OSError, RecursionError) as e:  # RecursionError: deep nesting
                problems.append(f"{path} is corrupt ({_one_line(e)})")
                continue
            if problems or upto < n:
                _warn(
                    f"{'; '.join(problems) or 'no copy of iteration ' + str(n)}; the report "
                    f"history comes from {path} (iterations 1..{upto})"
                )
            return records
        if n > 0:
            _warn(
                f"{self.path}: no readable report.jsonl ({'; '.join(problems) or 'missing'});"
                " the report history starts afresh"
            )
        return []

    def _committed_dir(self, state: dict[str, Any]) -> Path | None:
        name = state.get("checkpoint_dir")
        if name is None:
            return None  # a new run (iteration 0; read_state refuses any other)
        expected = self.iteration_dir(int(state["iteration"])).name
        if name != expected:  # also refuses any path ("../x"): only this name is used
            raise RunDirError(
                f"{self.state_path}: checkpoint_dir={str(name)[:80]!r} must be {expected!r}, "
                f"the directory of iteration {state['iteration']}; the file is damaged: "
                "restore it from a backup or start a new run directory"
            )
        return self.path / name

    def _candidates(self, name: str, state: dict[str, Any]) -> list[tuple[Path, int]]:
        """``(path, iteration)`` of each copy of ``name``, the committed one first (none
        before the first commit)."""
        n = int(state.get("iteration", 0))
        if self._committed_dir(state) is None:
            return []
        return [(self.iteration_dir(n) / name, n), (self.iteration_dir(n - 1) / name, n - 1)]


def _parse_records(path: Path, upto: int) -> list[dict[str, Any]]:
    """The records of iterations ``1..upto`` in ``path``, strictly: every line a JSON object
    with an integer ``"iteration"``, ascending, ending at ``upto`` once later ones (of an
    iteration never committed) are dropped.

    Raises:
        ValueError: a line or the sequence is malformed.
    """
    records = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        r = json.loads(line)
        it = r.get("iteration") if isinstance(r, dict) else None
        if not isinstance(it, int) or isinstance(it, bool):
            raise ValueError(f"line {i + 1} is not an iteration record")
        if it <= upto:
            records.append(r)
    iterations = [r["iteration"] for r in records]
    if iterations != sorted(set(iterations)) or (iterations or [0])[-1] != upto:
        raise ValueError(f"its iterations {iterations[:3]}... do not end at {upto}")
    return records


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else type(e).__name__


def _warn(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=3)


__all__ = ["CheckpointError", "RunDir", "RunDirError", "resolve_game"]
