"""Worker processes (az_gym._procs): they exit with their parent at any moment of their
start-up, leave Ctrl-C to it quietly, and start from stdin and unguarded scripts. Real
processes throughout: a trainer in a subprocess, killed or interrupted while its self-play
workers start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from run_dir_helpers import ctrl_c_as_in_a_terminal

import az_gym

ROOT = str(Path(az_gym.__file__).resolve().parent.parent)
MARK = "AZ_GYM_TEST_WORKERS_MARK"

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/environ").exists(), reason="finds the workers through /proc"
)

# Tic-tac-toe, two self-play workers, a budget of a few seconds.
OVERRIDES = [
    "num_iters=1",
    "self_play.sim.num_games=4",
    "self_play.sim.num_workers=2",
    "self_play.sim.batch_size=2",
    "self_play.sim.num_processes=2",
    "self_play.mcts.num_iters_per_turn=4",
    "arena.sim.num_games=2",
    "arena.sim.num_workers=2",
    "arena.sim.batch_size=2",
    "arena.sim.num_processes=1",
    "arena.mcts.num_iters_per_turn=4",
    "learning.batch_size=16",
    "learning.max_batches_per_checkpoint=2",
    "network.kind=mlp",
    "network.hidden=[16]",
    "benchmark=[]",
]


def train_script(game: str = '"tictactoe"', guard: bool = False, quiet: bool = True) -> str:
    """A training script as a newcomer writes it (``guard``: under ``__main__``; not
    ``quiet``: the trainer's messages, and Ctrl-C exits 130 without the script's traceback)."""
    body = f"Trainer({game}, run_dir=sys.argv[1], overrides={OVERRIDES!r}, quiet={quiet}).train()\n"
    if not quiet:
        body = f"try:\n    {body}except KeyboardInterrupt:\n    sys.exit(130)\n"
    body += 'print("DONE")\n'
    if guard:
        body = 'if __name__ == "__main__":\n' + textwrap.indent(body, "    ")
    return "import sys\nfrom az_gym import Trainer, make_game\n\n" + body


FACTORY = 'def make():\n    return make_game("tictactoe")\n\n\n'


def _env(mark: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=ROOT)
    env[MARK] = mark
    return env


def _marked(mark: str) -> dict[int, bytes]:
    """``{pid: command line}`` of the live processes whose environment carries ``mark``
    (zombies count as gone: in a container nobody may reap them)."""
    found = {}
    needle = f"{MARK}={mark}".encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            environ = Path(f"/proc/{d}/environ").read_bytes().split(b"\0")
            stat = Path(f"/proc/{d}/stat").read_text()
            cmdline = Path(f"/proc/{d}/cmdline").read_bytes()
        except OSError:
            continue
        if needle in environ and stat.rsplit(")", 1)[1].split()[0] != "Z":
            found[int(d)] = cmdline
    return found


def _wait_for_workers(mark: str, parent: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(b"spawn_main" in cmd for cmd in _marked(mark).values()):
            return
        assert parent.poll() is None, "the trainer ended before it started its workers"
        time.sleep(0.02)
    raise AssertionError("no worker started")


def _assert_all_gone(mark: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _marked(mark), f"processes outlived the trainer: {_marked(mark)}"


@pytest.mark.parametrize("delay", [0.0, 0.8])
def test_workers_exit_when_the_trainer_is_killed_while_they_start(tmp_path, delay) -> None:
    mark = uuid.uuid4().hex
    trainer = subprocess.Popen(
        [sys.executable, "-c", train_script(guard=True), str(tmp_path / "run")],
        env=_env(mark),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_workers(mark, trainer)
        time.sleep(delay)  # the workers are importing torch (seconds) meanwhile
        trainer.kill()
        trainer.wait()
        _assert_all_gone(mark)
    finally:
        trainer.kill()
        for pid in _marked(mark):  # do not leave orphans behind a failing test
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_ctrl_c_while_workers_start_prints_no_worker_traceback(tmp_path, sig) -> None:
    # SIGTERM (kill, a scheduler) to the process group ends the training as Ctrl-C does;
    # before, it killed the trainer where it stood (exit -15) and left the lock behind.
    mark = uuid.uuid4().hex
    trainer = subprocess.Popen(
        [sys.executable, "-c", train_script(guard=True, quiet=False), str(tmp_path / "run")],
        env=_env(mark),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        preexec_fn=ctrl_c_as_in_a_terminal,
    )
    try:
        _wait_for_workers(mark, trainer)
        time.sleep(0.3)
        os.killpg(trainer.pid, sig)  # SIGINT: what Ctrl-C in a terminal does
        _, err = trainer.communicate(timeout=120)
        assert trainer.returncode == 130 and "interrupted" in err, err
        assert "Traceback" not in err, err
        _assert_all_gone(mark)
        lock = tmp_path / "run" / "lock"  # nothing committed yet: the run may keep nothing
        assert not lock.exists() or lock.read_text() == ""
    finally:
        trainer.kill()
        for pid in _marked(mark):
            os.kill(pid, signal.SIGKILL)


def _run(args: list[str], mark: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=_env(mark), capture_output=True, text=True, timeout=300, **kw)


def test_training_from_stdin_without_a_guard_uses_the_workers(tmp_path) -> None:
    # `python - < script.py`: spawn could not re-run this __main__ ('<stdin>' is no file),
    # and need not: the game is a registry name.
    done = _run([sys.executable, "-", str(tmp_path / "run")], "stdin", input=train_script())
    assert done.returncode == 0 and "DONE" in done.stdout, done.stderr
    assert "Traceback" not in done.stderr and "RuntimeWarning" not in done.stderr


def test_a_factory_defined_on_stdin_trains_in_process_with_a_warning(tmp_path) -> None:
    script = train_script(game="make").replace("\n\n", "\n\n" + FACTORY, 1)
    done = _run([sys.executable, "-", str(tmp_path / "run")], "stdin", input=script)
    assert done.returncode == 0 and "DONE" in done.stdout, done.stderr
    assert "self-play runs in this process: make is defined in __main__" in done.stderr


def test_an_unguarded_script_with_its_own_factory_gets_one_clear_error(tmp_path) -> None:
    path = tmp_path / "train.py"
    path.write_text(train_script(game="make").replace("\n\n", "\n\n" + FACTORY, 1))
    done = _run([sys.executable, str(path), str(tmp_path / "run")], "script")
    assert done.returncode != 0
    assert done.stderr.count("Traceback") == 1, done.stderr  # the trainer's, not the workers'
    assert "WorkerError" in done.stderr and 'if __name__ == "__main__":' in done.stderr


def test_evaluation_workers_start_from_stdin() -> None:
    # Before: every worker failed to re-run '<stdin>' and multiprocessing.Pool replaced it
    # for ever (a hang). Now the workers start without __main__.
    script = (
        "from az_gym import evaluate, make_game\n"
        "from az_gym.agents import OneStepLookaheadAgent, RandomAgent\n"
        "game = make_game('tictactoe')\n"
        "a, b = OneStepLookaheadAgent(seed=0), RandomAgent(seed=1)\n"
        "r = evaluate(a, b, game, 8, seed=0, num_processes=2)\n"
        "print('GAMES', r.num_games)\n"
    )
    done = _run([sys.executable, "-"], "eval", input=script)
    assert done.returncode == 0 and "GAMES 8" in done.stdout, done.stderr
    assert "Traceback" not in done.stderr
