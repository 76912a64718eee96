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


def _ray_cluster_running() -> bool:
    """Whether any Ray GCS server runs on this machine ("auto" would join it)."""
    for d in Path("/proc").glob("[0-9]*"):
        try:
            if b"gcs_server" in (d / "cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="looks for Ray clusters in /proc")
def test_auto_address_without_a_cluster_is_a_clear_error(tmp_path):
    # First in this file and in a fresh process: no Ray instance of these tests is running.
    import os
    import subprocess

    if _ray_cluster_running():
        pytest.skip("a Ray cluster runs on this machine: 'auto' would join it")

    script = (
        "from az_gym.training.ray_backend import RayPool, RayUnavailableError\n"
        "try:\n"
        "    RayPool(1, address='auto')\n"
        "except RayUnavailableError as e:\n"
        "    assert isinstance(e, RuntimeError)\n"
        "    print('ERROR', e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("ERROR no Ray cluster at address 'auto'"), line
    assert "ray start --head" in line and "self_play.sim.ray_address" in line


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


def test_each_weight_set_is_put_once(local_ray):
    """Self-play builds a fresh ``(weights,)`` tuple per job and the arena a fresh
    ``(candidate, best)`` per job; the weights used to be put once per job. Now each
    distinct weight set is put once, and not again in the next call (by content)."""
    import numpy as np

    from az_gym.mcts import MctsParams
    from az_gym.training.ray_backend import _ObjectStore
    from az_gym.training.selfplay import GameSpec, NetSpec, WorkerJob

    best, cand = {"w": np.zeros(3)}, {"w": np.ones(3)}
    spec = NetSpec((3, 3, 2), 9, None)

    def job(weights):
        return WorkerJob(game=GameSpec(name="tictactoe"), net=spec, weights=weights,
                         mcts=MctsParams(), num_games=1, num_concurrent=1, seed=0)  # fmt: skip

    puts = []

    def put(obj):
        puts.append(obj)
        return ray.put(obj)

    store = _ObjectStore(put)
    jobs = [job((cand, best)) for _ in range(3)] + [job((best,)) for _ in range(3)]
    refs = store.share([j.shared() for j in jobs])
    assert len(puts) == 2
    assert [len(r) for r in refs] == [2, 2, 2, 1, 1, 1]
    assert refs[0][1] == refs[5][0]  # the best network's one copy, shared
    assert np.array_equal(ray.get(refs[0][0])["w"], cand["w"])
    # The next call (next iteration's self-play) with a new dict of the same weights
    # reuses the reference; new weights are put.
    again = store.share([({"w": np.ones(3)},), ({"w": np.full(3, 2.0)},)])
    assert again[0][0] == refs[0][0] and len(puts) == 3
