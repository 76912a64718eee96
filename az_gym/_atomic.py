"""Crash-safe file writes: a temporary file in the target's directory (named
``.<name>.tmp-<pid>-<rand>``), flushed and fsync'ed, then renamed over the target with
:func:`os.replace`, so a reader sees the old file or the new one, never half of one.

Below every layer that writes files (agents' ``save``, the training run directory); torch is
imported only by :func:`atomic_torch_save`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

TEMP_MARKER = ".tmp-"


def fsync_dir(directory: str | Path) -> None:
    """Flush ``directory``'s entries (new, renamed or removed files) to disk (no-op where
    directories cannot be opened, e.g. on Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file atomically: ``write(f)`` fills a temp file that then replaces ``path``.

    If ``write`` raises, the temp file is removed and ``path`` is untouched. Missing parent
    directories are made.

    Raises:
        IsADirectoryError: ``path`` is a directory (the message asks for a file name).
        ValueError: ``path`` is empty.
    """
    if not str(path).strip():  # Path("") is "."
        raise ValueError(f"path {str(path)!r}: give a file name (e.g. agent.pt)")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a directory; give a file name (e.g. agent.pt)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(path)
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}{TEMP_MARKER}{os.getpid()}-{secrets.token_hex(4)}")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see the module docstring)."""
    atomic_write(path, lambda f: f.write(data))


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save(obj)`` to ``path`` atomically.

    ``obj`` should hold only what :func:`safe_torch_load` accepts: tensors, numbers,
    strings, ``None``, lists, tuples and dicts (e.g. ``state_dict()`` plus metadata).
    """
    import torch

    atomic_write(path, lambda f: torch.save(obj, f))
