"""Self-play and arena through Ray actors (skipped when ray is not installed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ray = pytest.importorskip("ray")

sys.path.insert(0, str(Path(__file__).parent))
from test_trainer import _check_run, tiny_params  # noqa: E402

from az_gym.training.trainer import Trainer  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_one_iteration_through_ray_actors(tmp_path, local_ray):
    # The arena runs on the trainer's self-play backend, so it goes through Ray too.
    overrides = ["self_play.sim.backend=ray", "self_play.sim.num_processes=2"]
    trainer = Trainer("tictactoe", tiny_params(), tmp_path, overrides=overrides, quiet=True)
    reports = trainer.train()
    assert [r.iteration for r in reports] == [1]
    record = reports[0].record
    assert record["self_play"]["num_games"] == 4 and record["self_play"]["num_samples"] > 0
    assert record["arena"]["runs"][0]["num_games"] == 2
    _check_run(tmp_path, 1, "tictactoe")
    assert ray.is_initialized()  # the pool joined the caller's Ray and left it running


def test_missing_ray_gives_a_clear_error(monkeypatch):
    import az_gym.training.ray_backend as rb

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"az-gym\[ray\]"):
        rb.import_ray()
