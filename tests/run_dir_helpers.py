"""Shared pieces of the run-directory tests: a tiny run, the real CLI in a subprocess, and
a fingerprint of a directory tree to prove that nothing changed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from test_trainer import tiny_params

from az_gym.training.params import save_params

ROOT = Path(__file__).resolve().parent.parent


def tiny_config(path: Path, num_iters: int = 1, **kw) -> Path:
    """A parameter file of :func:`test_trainer.tiny_params` (a run of a second or two)."""
    save_params(tiny_params(num_iters=num_iters, **kw), path)
    return path


def az_gym(*args: str, cwd: Path, timeout: float = 120, **popen) -> subprocess.CompletedProcess:
    """Run ``az-gym ARGS`` (this tree's) in a subprocess; text output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "az_gym.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """The process failed with exactly one ``az-gym: error:`` line (warnings aside) and no
    traceback; returns that line."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("az-gym: error:")]
    assert len(errors) == 1, proc.stderr[-2000:]
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def fingerprint(root: Path) -> dict[str, tuple[int, int, str]]:
    """``{relative path: (size, mtime_ns, sha1)}`` of every file and directory under root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            digest = hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns, digest)
    return out


def cli(*args: str) -> subprocess.CompletedProcess:
    """Run ``az-gym ARGS`` in this process through ``az_gym.cli.main`` (the same code as
    the command, without a second torch import); stderr captured, warnings included."""
    import contextlib
    import io
    import warnings

    from az_gym.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("default")
        code = main([str(a) for a in args])
    return subprocess.CompletedProcess(list(args), code, "", err.getvalue())


def ctrl_c_as_in_a_terminal() -> None:
    """``preexec_fn`` of a child that a test sends SIGINT: its Ctrl-C handling restored.

    A shell starts background jobs (``cmd &``, ``nohup``) with SIGINT ignored, children
    inherit that, and Python then installs no ``KeyboardInterrupt`` handler, so a test run
    from such a job saw the child carry on (exit 0) where a terminal's Ctrl-C stops it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
