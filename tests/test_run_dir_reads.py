"""Reading a run never writes: ``from_run_dir``, ``best_agent``, ``AlphaZeroAgent.load``
and ``az-gym evaluate RUN`` on a read-only copy change no byte, no time stamp, and add no
file (checked by content, since the tests may run as root, whom ``chmod`` does not stop)."""

from __future__ import annotations

import json
import os
import shutil
import stat

import torch
from run_dir_helpers import az_gym, fingerprint
from test_trainer import tiny_params

from az_gym.agents.alphazero import AlphaZeroAgent
from az_gym.training.trainer import Trainer

torch.set_num_threads(1)


def _chmod_tree(root, writable: bool) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames, "."]:
            p = os.path.join(dirpath, name)
            mode = os.stat(p).st_mode
            os.chmod(p, mode | stat.S_IWUSR if writable else mode & ~0o222)


def test_reading_a_run_writes_nothing_and_works_read_only(tmp_path):
    run = tmp_path / "run"
    Trainer("tictactoe", tiny_params(num_iters=2), run, quiet=True).train()
    # What a reader between a writer's record and its commit saw in older versions: a
    # record of an iteration that state.json does not name yet. A read used to rewrite
    # report.jsonl to the iteration it read, deleting history.
    report = run / "report.jsonl"
    os.unlink(report)  # a separate file, not the link to the committed copy
    records = [json.loads(line) for line in (run / "iter-000002" / "report.jsonl").open()]
    report.write_text("".join(json.dumps(r) + "\n" for r in [*records, {"iteration": 3}]))
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    _chmod_tree(copy, writable=False)
    before = fingerprint(copy)
    try:
        trainer = Trainer.from_run_dir(copy, quiet=True)
        agent = trainer.best_agent(seed=0)
        assert trainer.iteration == 2 and agent.game.game_id == "tictactoe"
        assert AlphaZeroAgent.load(copy / "best.pt").game.game_id == "tictactoe"
        proc = az_gym("evaluate", "tictactoe", copy, "random", "--games", "2", "--quiet",
                      cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert fingerprint(copy) == before
    finally:
        _chmod_tree(copy, writable=True)
    assert len(report.read_text().splitlines()) == 3  # and the original is untouched too
