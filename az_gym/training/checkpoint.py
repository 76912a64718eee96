"""Crash-safe file writes (and the fallback load over a list of checkpoints).

The writes themselves live in :mod:`az_gym._atomic` (below the agents, whose ``save`` uses
them too) and are re-exported here with :func:`atomic_link`: a temporary file in the
target's directory (named ``.<name>.tmp-<pid>-<rand>``), flushed and fsync'ed, then renamed
over the target with :func:`os.replace`, so a reader sees the old file or the new one, never
half of one. A crash leaves at most a stray temp file, which loaders never read
(:func:`remove_stale_temp_files` cleans them).

Loads go through :func:`az_gym.checkpoint_format.safe_torch_load` (zip and CRC-32 checks,
``torch.load(weights_only=True)``), the one loader that agent files use too; it and
:class:`CheckpointError` are re-exported here. torch is imported lazily so that this module
stays light.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from az_gym._atomic import (
    TEMP_MARKER,
    _temp_path,
    atomic_torch_save,
    atomic_write,
    atomic_write_bytes,
    fsync_dir,
)
from az_gym.checkpoint_format import CheckpointError, safe_torch_load

__all__ = [
    "CheckpointError",
    "atomic_link",
    "atomic_torch_save",
    "atomic_write",
    "atomic_write_bytes",
    "fsync_dir",
    "is_temp_file",
    "load_latest_good",
    "remove_stale_temp_files",
    "safe_torch_load",
]


def atomic_link(source: str | Path, path: str | Path) -> None:
    """Make ``path`` a hard link to ``source`` atomically (a full copy where the file
    system has no hard links), replacing what ``path`` held.

    Safe because :func:`atomic_write` never modifies a file in place: a later write of
    ``source`` makes a new file and leaves ``path`` holding the old content.
    """
    source, path = Path(source), Path(path)
    tmp = _temp_path(path)
    try:
        os.link(source, tmp)
    except OSError:  # no hard links here: an atomic copy
        with open(source, "rb") as src:
            atomic_write(path, lambda dst: shutil.copyfileobj(src, dst))
        return
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def load_latest_good(
    paths: Sequence[str | Path], map_location: Any = "cpu"
) -> tuple[Path, dict[str, Any]]:
    """Load the first readable checkpoint of ``paths`` (newest first, e.g. current then
    previous), skipping missing or corrupt ones.

    Returns:
        ``(path, checkpoint)`` of the file that loaded.

    Raises:
        CheckpointError: none loaded; the message gives each file's reason.
    """
    reasons = []
    for p in paths:
        try:
            return Path(p), safe_torch_load(p, map_location)
        except CheckpointError as e:
            reasons.append(str(e))
    raise CheckpointError("no readable checkpoint: " + ("; ".join(reasons) or "no paths given"))


def is_temp_file(path: str | Path) -> bool:
    """Whether ``path`` is a leftover temp file of :func:`atomic_write`."""
    name = Path(path).name
    return name.startswith(".") and TEMP_MARKER in name


def remove_stale_temp_files(directory: str | Path) -> list[Path]:
    """Delete the temp files a crashed :func:`atomic_write` left in ``directory``.

    Only call it when no other process is writing there. Returns the removed paths.
    """
    removed = []
    d = Path(directory)
    if d.is_dir():
        for p in d.iterdir():
            if p.is_file() and is_temp_file(p):
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed
