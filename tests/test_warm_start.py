"""A new run started from a trained network (``Trainer(init_from=...)``, ``az-gym train
--init-from``): its networks begin with those weights, a resume before the first commit keeps
them, and a file of another game or network is refused before anything is written."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from run_dir_helpers import assert_one_line_error, az_gym, tiny_config
from test_trainer import TINY_RESNET, tiny_params

from az_gym.checkpoint_format import read_checkpoint
from az_gym.networks import NetworkConfig
from az_gym.training.run_dir import RunDirError
from az_gym.training.trainer import Trainer

NEVER_PROMOTE = 2.0
"""An arena threshold above any score: the best network stays the one the run began with."""


def _held(params):
    return dataclasses.replace(
        params, arena=dataclasses.replace(params.arena, update_threshold=NEVER_PROMOTE)
    )


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(path)["weights"]


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def source_run(tmp_path_factory) -> Path:
    """A finished one-iteration tic-tac-toe run whose best network the others start from."""
    run = tmp_path_factory.mktemp("source") / "run"
    Trainer("tictactoe", tiny_params(num_iters=1), run, quiet=True).train()
    return run


def test_a_run_started_from_a_network_begins_with_its_weights(tmp_path, source_run):
    start = _weights(source_run / "best.pt")
    run = tmp_path / "tuned"
    Trainer("tictactoe", _held(tiny_params(num_iters=1)), run, quiet=True,
            init_from=source_run).train()  # fmt: skip
    assert _same(_weights(run / "best.pt"), start)  # never promoted: still the start
    assert _same(_weights(run / "init.pt"), start)
    assert not _same(_weights(run / "current.pt"), start)  # it learned from there
    state = json.loads((run / "state.json").read_text())
    digest = hashlib.sha256((source_run / "best.pt").read_bytes()).hexdigest()
    assert state["iteration"] == 1
    assert state["init_from"] == {"path": str((source_run / "best.pt").resolve()),
                                  "sha256": digest}  # fmt: skip


KILLED_SCRIPT = """
import os, signal, sys, dataclasses, torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from test_trainer import tiny_params
from az_gym.training.trainer import Trainer
params = tiny_params(num_iters=1)
params = dataclasses.replace(params, arena=dataclasses.replace(params.arena, update_threshold=2.0))
die = {{"on_self_play_end": lambda report: os.kill(os.getpid(), signal.SIGKILL)}}
Trainer("tictactoe", params, {run!r}, quiet=True, init_from={source!r}, callbacks=die).train()
"""


def _killed_before_first_commit(run: Path, source: Path) -> None:
    script = KILLED_SCRIPT.format(tests=str(Path(__file__).parent), run=str(run),
                                  source=str(source))  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert json.loads((run / "state.json").read_text())["iteration"] == 0


def test_a_run_killed_before_its_first_commit_resumes_from_the_same_weights(tmp_path, source_run):
    run = tmp_path / "tuned"
    _killed_before_first_commit(run, source_run)
    Trainer.from_run_dir(run, quiet=True).resume()
    assert _same(_weights(run / "best.pt"), _weights(source_run / "best.pt"))

    again = tmp_path / "again"
    _killed_before_first_commit(again, source_run)
    (again / "init.pt").unlink()
    with pytest.raises(RunDirError, match=r"init\.pt: the network this run started from"):
        Trainer.from_run_dir(again, quiet=True).resume()


def test_a_file_of_another_network_game_or_kind_is_refused_before_anything_is_written(
    tmp_path, source_run
):
    run = tmp_path / "tuned"
    with pytest.raises(
        RunDirError, match=r"holds another network .*network\.kind: file mlp, run resnet"
    ):
        Trainer("tictactoe", tiny_params(network=TINY_RESNET), run, init_from=source_run)
    with pytest.raises(RunDirError, match="made for game 'tictactoe', not for 'connect_four'"):
        Trainer("connect_four", tiny_params(), run, init_from=source_run)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(RunDirError, match="init_from: "):
        Trainer("tictactoe", tiny_params(), run, init_from=junk)
    with pytest.raises(RunDirError, match="init_from: no checkpoint"):
        Trainer("tictactoe", tiny_params(), run, init_from=tmp_path / "missing.pt")
    with pytest.raises(RunDirError, match=r"for game 'gomoku\(size=9\)', not for 'gomoku\(size=15"):
        Trainer("gomoku", tiny_params(), run, init_from="pretrained", game_options={"size": 15})
    assert not run.exists()
    with pytest.raises(RunDirError, match="already holds a run at iteration 1"):
        Trainer("tictactoe", tiny_params(), source_run, init_from=source_run)


def test_cli_fine_tunes_the_shipped_agent(tmp_path):
    shipped = read_checkpoint(Path(__file__).parent.parent / "az_gym/pretrained/tictactoe.pt")
    network = NetworkConfig.from_dict(shipped["network_config"])
    config = tiny_config(tmp_path / "p.toml", network=network)
    proc = az_gym("train", "tictactoe", "--config", config, "--run-dir", "run", "--quiet",
                  "--set", f"arena.update_threshold={NEVER_PROMOTE}", "--init-from",
                  "pretrained", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _same(_weights(tmp_path / "run/best.pt"), shipped["weights"])


def test_cli_refuses_bad_init_from_in_one_line(tmp_path, source_run):
    config = tiny_config(tmp_path / "p.toml")
    base = ("train", "tictactoe", "--config", config, "--quiet")
    err = assert_one_line_error(
        az_gym(*base, "--run-dir", "a", "--init-from", "pretrained", cwd=tmp_path),
        "init_from:",
        "holds another network than the run's parameters",
        "network.hidden: file [128, 128], run [16]",
    )
    # the one field to set, as --set takes it (it once suggested num_filters for an MLP)
    assert "--set network.hidden=[128, 128]" in err
    assert_one_line_error(
        az_gym(*base, "--run-dir", "b", "--init-from", "nowhere.pt", cwd=tmp_path),
        "init_from: no checkpoint at 'nowhere.pt'",
    )
    assert_one_line_error(
        az_gym(*base, "--run-dir", source_run, "--resume", "--init-from", source_run, cwd=tmp_path),
        "--init-from starts a new run",
    )
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
