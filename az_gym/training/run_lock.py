"""One writer per run directory: an exclusive lock file with its owner's pid and host.

A trainer holds ``run_dir/lock`` for its whole run; a second trainer on the same directory
refuses, naming the owner (pid, host, since when). Readers (``Trainer.from_run_dir``,
``best_agent``, ``evaluate RUN``...) never take it: they read only committed files.

The lock is ``fcntl.flock`` on the file (released by the kernel when its owner dies, even
by ``kill -9``), and the file holds a JSON line ``{"pid", "host", "since"}`` for the
message. The file is never replaced nor deleted (a new inode would let a second process
lock it while the first holds the old one); a released lock is an empty file. When the file
still names an owner that is gone (killed), the next trainer takes the lock over with a
warning. Where the file system has no ``flock`` (some network file systems), the pid and
host alone decide: an owner on this host whose pid is gone is taken over, an owner on
another host refuses (delete the file if that run is known to be over).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import time
import warnings
from pathlib import Path
from typing import Any

from az_gym.training.run_state import RunDirError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: pid and host only
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "lock"


class RunLockedError(ValueError):
    """Another trainer holds the run directory (the message names it)."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such pid (or none could exist)
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _describe(owner: dict[str, Any]) -> str:
    """The owner, for a message; the file's values are data (a crafted ``since`` such as
    ``1e300`` or NaN reads as an unknown time, strings are shown with ``repr``)."""
    since, pid = owner.get("since"), owner.get("pid")
    try:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since))
    except (TypeError, ValueError, OverflowError, OSError):
        when = "an unknown time"
    shown = pid if isinstance(pid, int) and not isinstance(pid, bool) else repr(pid)[:40]
    return f"pid {shown} on host {str(owner.get('host'))[:80]!r} since {when}"


class RunLock:
    """The exclusive lock of one run directory (see the module docstring).

    Args:
        run_dir: the run directory (must exist).
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or refuse.

        Raises:
            RunLockedError: a live trainer holds it (the message names its pid, host and
                start time).
            RunDirError: ``lock`` holds something other than a lock's owner line (a file of
                the user's named ``lock``, which taking the lock would overwrite).
            OSError: the lock file cannot be created (e.g. a read-only file system).
        """
        if self._fd is not None:
            return
        fd = self._open()
        try:
            owner = self._read(fd)
            if (owner is None and os.fstat(fd).st_size > 0) or (owner and "pid" not in owner):
                raise RunDirError(
                    f"{self.path} is not a run's lock file (it holds other data); a trainer "
                    "writes over its lock file, so move this file out of the run directory "
                    "and start again"
                )
            locked = self._flock(fd)
            if locked is False:
                raise RunLockedError(
                    f"{self.path.parent} is being trained by another process "
                    f"({_describe(owner) if owner else 'owner unknown'}); one run directory "
                    "has one writer: wait for it to end, or train into another directory"
                )
            here = socket.gethostname()
            if owner and owner.get("pid") != os.getpid():
                if locked is None and not self._owner_gone(owner, here):
                    raise RunLockedError(
                        f"{self.path.parent} is locked by {_describe(owner)} and this file "
                        f"system cannot tell whether it still runs; delete {self.path} if it "
                        "does not"
                    )
                warnings.warn(
                    f"{self.path}: took over the lock of {_describe(owner)}, which ended "
                    "without releasing it (killed?)",
                    RuntimeWarning,
                    stacklevel=3,
                )
            text = json.dumps({"pid": os.getpid(), "host": here, "since": time.time()})
            os.ftruncate(fd, 0)
            os.pwrite(fd, (text + "\n").encode(), 0)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        """Empty the file (a clean release) and unlock it; no-op when not held."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        except OSError:  # pragma: no cover - the owner entry then reads as a dead owner
            pass
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _open(self) -> int:
        """Open (create) the lock file, never through a symlink, and only a plain file with
        one name: the lock is truncated and written, so a crafted ``lock`` that is a
        symlink or a hard link to a file elsewhere must not make that file the one written.

        Raises:
            RunDirError: ``lock`` is a symlink, not a regular file, or has other names.
        """
        flags = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as e:
            if e.errno not in (errno.ELOOP, errno.EISDIR):
                raise
            what = "is a symbolic link" if e.errno == errno.ELOOP else "is a directory"
        else:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
                return fd
            os.close(fd)
            what = "is not a regular file" if not stat.S_ISREG(st.st_mode) else "is a hard link"
        raise RunDirError(
            f"{self.path} {what}; the lock must be a plain file of this run directory: "
            "delete it (no trainer uses this run) and start again"
        )

    @staticmethod
    def _flock(fd: int) -> bool | None:
        """``True``: locked; ``False``: another process holds it; ``None``: this file
        system has no ``flock`` (the pid and host in the file decide)."""
        if fcntl is None:  # pragma: no cover
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as e:  # pragma: no cover - e.g. ENOLCK on some network file systems
            if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                return None
            raise
        return True

    @staticmethod
    def _owner_gone(owner: dict[str, Any], here: str) -> bool:
        pid = owner.get("pid")
        return owner.get("host") == here and isinstance(pid, int) and not _pid_alive(pid)

    @staticmethod
    def _read(fd: int) -> dict[str, Any] | None:
        """The owner recorded in the file (``None``: empty or unreadable)."""
        try:
            data = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "null")
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None
