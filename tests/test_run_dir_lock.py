"""One writer per run directory, with real processes: a second trainer refuses naming the
owner, readers work (and write nothing) while the run trains, and the lock of a trainer
killed by ``kill -9`` is taken over with a warning."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest
import torch
from run_dir_helpers import ROOT, assert_one_line_error, az_gym
from test_trainer import tiny_params

from az_gym.training.report import load_reports
from az_gym.training.run_lock import RunLock, RunLockedError
from az_gym.training.run_state import RunDirError
from az_gym.training.trainer import Trainer

torch.set_num_threads(1)

TRAIN = """
import sys, torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from test_trainer import tiny_params
from az_gym.training.trainer import Trainer
Trainer("tictactoe", tiny_params(num_iters=1000), {run!r}, quiet=True).train()
"""


def _iteration(run: Path) -> int:
    try:
        return json.loads((run / "state.json").read_text())["iteration"]
    except (OSError, ValueError):
        return 0


def test_two_trainers_one_run_directory(tmp_path):
    run = tmp_path / "run"
    script = textwrap.dedent(TRAIN).format(tests=str(ROOT / "tests"), run=str(run))
    owner = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    try:
        deadline, reads = time.monotonic() + 120, 0
        while _iteration(run) < 2:  # read while it trains: never fails, never writes
            assert time.monotonic() < deadline, "the trainer made no progress"
            assert owner.poll() is None, owner.stderr.read().decode()
            if _iteration(run) >= 1:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # a read that needed a fallback fails
                    agent = Trainer.from_run_dir(run, quiet=True).best_agent()
                assert agent.game.game_id == "tictactoe"
                reads += 1
            time.sleep(0.05)
        assert reads >= 1
        # A second writer, through the real CLI, refuses and names the owner.
        proc = az_gym("train", "tictactoe", "--run-dir", run, "--resume", cwd=tmp_path)
        assert_one_line_error(proc, f"pid {owner.pid}", socket.gethostname(), "since")
        with pytest.raises(RunLockedError, match=f"pid {owner.pid}"):
            Trainer("tictactoe", tiny_params(num_iters=1000), run, quiet=True).resume()
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(10)
    finally:
        if owner.poll() is None:
            owner.kill()
        owner.stderr.close()
    done = _iteration(run)
    trainer = Trainer.from_run_dir(run, overrides=[f"num_iters={done + 1}"], quiet=True)
    with pytest.warns(RuntimeWarning, match=rf"took over the lock of pid {owner.pid}"):
        assert [r.iteration for r in trainer.resume()] == [done + 1]
    assert [r["iteration"] for r in load_reports(run)] == list(range(1, done + 2))
    assert not [p for p in run.rglob("*") if ".tmp-" in p.name]
    assert (run / "lock").read_text() == ""  # released


def test_the_lock_is_exclusive_within_one_process_too(tmp_path):
    first, second = RunLock(tmp_path), RunLock(tmp_path)
    with first:
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
            second.acquire()
    with second:  # released: free again, without a warning
        assert second.held


@pytest.mark.parametrize("kind", ["symlink", "dangling", "hardlink", "fifo", "directory"])
def test_a_crafted_lock_never_writes_outside_the_run_directory(tmp_path, kind):
    run, outside = tmp_path / "run", tmp_path / "outside.txt"
    run.mkdir()
    if kind != "dangling":
        outside.write_text("precious\n")
    lock = run / "lock"
    {
        "symlink": lambda: lock.symlink_to(outside),
        "dangling": lambda: lock.symlink_to(outside),
        "hardlink": lambda: os.link(outside, lock),
        "fifo": lambda: os.mkfifo(lock),
        "directory": lambda: lock.mkdir(),
    }[kind]()
    with pytest.raises(RunDirError, match=f"{lock}.*delete it") as e:
        RunLock(run).acquire()
    assert "\n" not in str(e.value)
    if kind == "dangling":
        assert not outside.exists()  # not created through the link
    else:
        assert outside.read_text() == "precious\n"


def test_a_symlinked_lock_is_a_one_line_error_of_train_resume(tmp_path):
    run, outside = tmp_path / "run", tmp_path / "outside.txt"
    Trainer("tictactoe", tiny_params(num_iters=1), run, quiet=True).train()
    outside.write_text("precious\n")
    (run / "lock").unlink()
    (run / "lock").symlink_to(outside)
    proc = az_gym("train", "tictactoe", "--run-dir", run, "--resume", cwd=tmp_path)
    assert_one_line_error(proc, str(run / "lock"), "symbolic link")
    assert outside.read_text() == "precious\n"


@pytest.mark.parametrize("since", ["1e300", "NaN", '"x"', "-1e30"])
def test_crafted_lock_contents_are_taken_over_naming_the_lock(tmp_path, since):
    (tmp_path / "lock").write_text(
        f'{{"pid": 99999999999, "host": "h\\u001b[2J", "since": {since}}}'
    )
    lock = RunLock(tmp_path)
    with pytest.warns(RuntimeWarning, match="took over the lock") as w:
        lock.acquire()
    message = str(w[0].message)
    assert str(tmp_path / "lock") in message and "\x1b" not in message
    lock.release()
