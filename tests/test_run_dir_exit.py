"""How ``az-gym train`` ends: Ctrl-C exits 130 and SIGTERM 143 with the run committed and
its lock released, and the user's mistakes about the run directory are one ``az-gym:
error:`` line naming it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from run_dir_helpers import ROOT, assert_one_line_error, cli, tiny_config


def _signal_inside_iteration_2(tmp_path: Path, sig: int, *extra: str):
    """Run ``az-gym train`` (the tiny file), send ``sig`` inside iteration 2 and wait.

    Returns:
        ``(proc, stderr, run_dir, config, children)``, ``children`` the trainer's child
        processes (its workers) just before the signal.
    """
    run, config = tmp_path / "run", tiny_config(tmp_path / "tiny.toml", num_iters=1000)
    argv = [sys.executable, "-m", "az_gym.cli", "train", "tictactoe", "--config", str(config),
            "--run-dir", str(run), "--quiet", *extra]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=tmp_path, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (run / "iter-000001").exists():
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        time.sleep(0.2)  # inside iteration 2
        children = _children(proc.pid)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc, err, run, config, children


def _assert_committed_and_unlocked(run: Path) -> dict:
    state = json.loads((run / "state.json").read_text())
    assert state["iteration"] >= 1 and state["checkpoint_dir"] == f"iter-{state['iteration']:06d}"
    assert not [p for p in run.rglob("*") if ".tmp-" in p.name]
    assert (run / "lock").read_text() == ""
    return state


def _children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (Linux's /proc)."""
    kids = set()
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.add(int(stat_file.parent.name))
    return kids


def test_ctrl_c_during_training_exits_130_with_the_run_committed(tmp_path):
    proc, err, run, config, _ = _signal_inside_iteration_2(tmp_path, signal.SIGINT)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "interrupted" in err
    _assert_committed_and_unlocked(run)
    # the message gives the one command that resumes this run (once "az-gym train GAME ..."
    # beside a Python call), with the --config a resume must repeat; under --quiet too (it
    # printed nothing but "az-gym: interrupted" there)
    again = f"`az-gym train tictactoe --config {config} --resume --run-dir {run}`"
    assert again in err and "Trainer.from_run_dir" not in err, err[-2000:]
    assert "az-gym: interrupted" not in err  # once said again under the trainer's message


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux's /proc")
def test_sigterm_during_training_saves_releases_the_lock_and_stops_the_workers(tmp_path):
    # Before: SIGTERM killed the trainer where it stood (exit -15), its lock file still
    # named it, and the next start had to take a dead owner's lock over with a warning.
    proc, err, run, _, workers = _signal_inside_iteration_2(
        tmp_path, signal.SIGTERM, "--set", "self_play.sim.num_processes=2"
    )
    assert proc.returncode == 143, err[-2000:]
    assert "Traceback" not in err and "az-gym: terminated" in err
    state = _assert_committed_and_unlocked(run)
    assert workers
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{w}").exists() for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if Path(f"/proc/{w}").exists()]
    proc = cli("train", "tictactoe", "--run-dir", run, "--resume", "--quiet",
               "--set", f"num_iters={state['iteration'] + 1}",
               "--set", "self_play.sim.num_processes=1")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "took over the lock" not in proc.stderr


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux's /sys")
def test_an_unwritable_run_directory_is_named(tmp_path):
    proc = cli("train", "tictactoe", "--run-dir", "/sys/kernel/az_gym_run", "--quiet")
    assert_one_line_error(proc, "cannot write to the run directory /sys/kernel/az_gym_run")


def test_run_dir_and_config_of_the_wrong_kind(tmp_path):
    (tmp_path / "file").write_text("x")
    assert_one_line_error(cli("train", "tictactoe", "--run-dir", tmp_path / "file"), "is a file")
    proc = cli("train", "tictactoe", "--run-dir", tmp_path / "file", "--resume")
    assert_one_line_error(proc, "is a file")
    proc = cli("train", "tictactoe", "--config", tmp_path, "--run-dir", tmp_path / "r")
    assert_one_line_error(proc, "is a directory, not a parameter file")
    assert not (tmp_path / "r").exists()


def test_ctrl_c_before_the_first_commit_keeps_nothing(tmp_path, capsys):
    from test_trainer import tiny_params

    from az_gym.training.trainer import Trainer

    def interrupt(_report):
        raise KeyboardInterrupt

    trainer = Trainer("tictactoe", tiny_params(), tmp_path / "run",
                      callbacks={"on_self_play_end": interrupt})  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        trainer.train()
    assert "keeps nothing" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # so a later start is not refused
