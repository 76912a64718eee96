"""Reading a run directory: ``state.json``, and each iteration's files with fallbacks.

See :mod:`az_gym.training.trainer_state` for the layout and :mod:`az_gym.training.run_dir`
for how a run is written (:class:`~az_gym.training.run_dir.RunDir` adds the writes to
:class:`RunDirReader`). Loads read only the committed ``iter-NNNNNN/`` (the one
``state.json`` names), so files of an iteration that died before its commit are never used;
a missing or corrupt file falls back to the previous iteration's copy (kept until the next
commit) with a warning that names the file.

Every load takes the ``state`` it belongs to (read once by the caller), so the files of one
load come from one commit even while a trainer commits the next iteration. Nothing here
writes.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from az_gym.training.checkpoint import CheckpointError
from az_gym.training.run_game import game_from_state
from az_gym.training.run_state import RunDirError, read_state_file
from az_gym.training.selfplay import GameSpec

ITER_DIR_PREFIX = "iter-"
ITER_DIR_PATTERN = re.compile(re.escape(ITER_DIR_PREFIX) + r"[0-9]+")
PUBLISHED = ("current.pt", "best.pt", "report.jsonl")
"""Files of the committed iteration linked to the top of the run directory."""


class RunDirReader:
    """The files of one run, read: paths, ``state.json``, the committed iteration's files."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.params_path = self.path / "params.toml"
        self.state_path = self.path / "state.json"
        self.networks_dir = self.path / "networks"

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

    def last_iteration(self) -> int:
        """The last completed iteration recorded in ``state.json`` (0 if none)."""
        state = self.read_state()
        return int(state["iteration"]) if state else 0

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

    def iteration_dir(self, iteration: int) -> Path:
        """``iter-NNNNNN/``: the directory of iteration ``iteration``'s files."""
        return self.path / f"{ITER_DIR_PREFIX}{iteration:06d}"

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
