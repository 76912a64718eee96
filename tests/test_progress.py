"""Progress without a terminal: periodic log lines on a piped stderr, silence with --quiet."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import TINY as CLI_TINY

from az_gym.progress import LogProgress, format_seconds, log_interval

ROOT = Path(__file__).resolve().parents[1]
TINY = [*CLI_TINY, "arena.sim.num_processes=1"]  # the CLI tests' tiny run, arena in-process


def az_gym(*args: str, seconds: str = "0") -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess whose stderr is a pipe (not a terminal)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AZ_GYM_PROGRESS_SECONDS": seconds}
    code = "import sys; from az_gym.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_evaluate_prints_progress_lines_to_a_pipe() -> None:
    run = az_gym("evaluate", "tictactoe", "random", "random", "--games", "6", "--processes", "1")
    assert run.returncode == 0, run.stderr
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("evaluate:")]
    assert lines[0].startswith("evaluate: 1/6 games, ") and "ETA" in lines[0], run.stderr
    assert re.fullmatch(r"evaluate: 6/6 games, \d+ s, done", lines[-1]), run.stderr
    assert "\r" not in run.stderr  # no tqdm bar written into the log


def test_evaluate_quiet_and_long_interval_stay_silent() -> None:
    quiet = az_gym("evaluate", "tictactoe", "random", "random", "--games", "4", "--quiet")
    assert quiet.returncode == 0 and "evaluate:" not in quiet.stderr, quiet.stderr
    short = az_gym("evaluate", "tictactoe", "random", "random", "--games", "4", seconds="600")
    assert short.returncode == 0 and "evaluate:" not in short.stderr, short.stderr


def test_training_phases_print_progress_lines_to_a_pipe(tmp_path: Path) -> None:
    sets = [arg for o in TINY for arg in ("--set", o)]
    run = az_gym("train", "tictactoe", "--run-dir", str(tmp_path / "run"), *sets)
    assert run.returncode == 0, run.stderr
    for phase, unit in (("self-play", "games"), ("learning", "batches"), ("arena 1", "games")):
        assert re.search(rf"^\[1\] {phase}: \d+/\d+ {unit}, ", run.stderr, re.M), run.stderr
    assert "[1] self-play: 4/4 games" in run.stderr
    quiet = az_gym("train", "tictactoe", "--run-dir", str(tmp_path / "q"), *sets, "--quiet")
    assert quiet.returncode == 0 and "self-play:" not in quiet.stderr, quiet.stderr


def test_log_lines_format_and_the_interval_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with LogProgress(4, "work", "steps", interval=0.0, stream=sys.stdout) as p:
        for _ in range(4):
            p.update(1)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("work: 1/4 steps, 0 s, ETA ")
    assert out[-1] == "work: 4/4 steps, 0 s, done"
    assert len(out) == 4, out  # the last step had a line of its own before "done" too
    assert [format_seconds(s) for s in (40, 227, 7500)] == ["40 s", "3m 47s", "2h 05m"]
    monkeypatch.setenv("AZ_GYM_PROGRESS_SECONDS", "2.5")
    assert log_interval() == 2.5
    monkeypatch.setenv("AZ_GYM_PROGRESS_SECONDS", "soon")
    with pytest.raises(ValueError, match="AZ_GYM_PROGRESS_SECONDS"):
        log_interval()
