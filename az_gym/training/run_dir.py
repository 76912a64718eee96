"""The run directory of a training run, written: its start, compatibility checks, commits.

See :mod:`az_gym.training.trainer_state` for the layout. Each iteration's files (networks,
optimiser, memory, the report so far) go to a fresh directory ``iter-NNNNNN/``;
``state.json``, written last and atomically, names it (the commit). Runs of the older flat
layout (every file at the top, no iteration directories) are refused (see
:mod:`az_gym.training.run_state`).

:class:`RunDir` adds the writes to :class:`~az_gym.training.run_dir_reads.RunDirReader`
(``state.json`` and the loads of the committed iteration's files, with their fallbacks);
nothing writes except :meth:`RunDir.start`, :meth:`RunDir.begin_iteration`,
:meth:`RunDir.commit` and :meth:`RunDir.keep_network` (after the commit), which only the
lock's holder calls.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
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
from az_gym.training.run_dir_reads import ITER_DIR_PATTERN, PUBLISHED, RunDirReader
from az_gym.training.run_game import check_same_game, factory_recipe, resolve_game
from az_gym.training.run_lock import RunLock
from az_gym.training.run_state import STATE_VERSION, RunDirError, read_state_file
from az_gym.training.selfplay import GameSpec


def _registry_name(game: Game) -> str | None:
    from az_gym.envs.registry import available_games

    return game.name if game.name in available_games() else None


class RunDir(RunDirReader):
    """The files of one run (paths, state, checkpoints), their writes and the writer's lock."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.lock = RunLock(self.path)

    # ------------------------------------------------------------------ state.json
    def write_state(self, state: dict[str, Any]) -> None:
        """Write ``state.json`` atomically (the commit point of an iteration)."""
        data = {"version": STATE_VERSION, **state}
        atomic_write_bytes(self.state_path, (json.dumps(data, indent=1) + "\n").encode())

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
                    if self.lock.path.name not in before:  # left as the user made it
                        self.lock.path.unlink(missing_ok=True)
            raise
        finally:
            self.lock.release()

    def check_new(self) -> None:
        """Refuse to start a new run here unless the directory holds a run at iteration 0
        or nothing (the caller holds the lock; files whose names start with ``.``, such as
        ``.gitignore``, may stay). Called before the run writes its first file.

        Raises:
            RunDirError: the directory holds iteration directories but no ``state.json`` (a
                damaged run, which a new one would prune), or files that are not a run's (a
                new run wrote its ``params.toml`` over one of the user's own, deleted an
                ``init.pt`` and mixed its files with theirs).
        """
        if self.read_state() is not None:
            return
        entries = sorted(
            p.name
            for p in self.path.iterdir()
            if p.name != self.lock.path.name and not p.name.startswith(".")
        )
        if any(ITER_DIR_PATTERN.fullmatch(name) for name in entries):
            raise RunDirError(
                f"{self.path} holds iteration directories but no state.json (a damaged "
                "run): restore state.json from a backup, or choose another run directory"
            )
        if entries:
            shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
            raise RunDirError(
                f"{self.path} is not empty and holds no run ({shown}); a new run is "
                "written into a new or empty directory only, so that it overwrites "
                "nothing of yours: choose another run directory"
            )

    def start(self, game: Game, spec: GameSpec, params: Any, **fields: Any) -> None:
        """Write ``params.toml`` and ``state.json`` at iteration 0 for a new run (the
        directory exists, the caller holds its lock and :meth:`check_new` passed);
        ``fields`` (JSON values) go into ``state.json`` too and stay there (e.g.
        ``init_from``)."""
        from az_gym.training.params import save_params

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
                **fields,
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
        want = network.to_dict()
        if stored is not None and stored != want:
            if isinstance(stored, dict):
                from az_gym.networks import network_differences

                what = network_differences(stored, want, ("run", "asked"))
            else:
                what = f"run {str(stored)[:200]}, asked {want}"
            raise RunDirError(
                f"{self.path} holds another network than the parameters ask for ({what}); "
                "the checkpoints cannot be loaded into it (resume without changing network.*, "
                "or use another run directory)"
            )

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

    def keep_network(self, iteration: int) -> None:
        """Link the committed ``iter-NNNNNN/best.pt`` of ``iteration`` to
        ``networks/best-NNNNNN.pt``, where it outlives the pruned iteration directory."""
        source = self.iteration_dir(iteration) / "best.pt"
        if source.is_file():
            self.networks_dir.mkdir(exist_ok=True)
            atomic_link(source, self.networks_dir / f"best-{iteration:06d}.pt")

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


__all__ = ["CheckpointError", "RunDir", "RunDirError", "resolve_game"]
