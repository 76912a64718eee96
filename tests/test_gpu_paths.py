"""GPU paths on a machine without one: mixed-precision learning (autocast bf16 / fp16 with
loss scaling) runs on the learner's device, and bench/gpu_check.sh says clearly when the
GPU check did not run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from az_gym.networks import NetworkConfig, PolicyValueNet
from az_gym.training.learning import Learner
from az_gym.training.params import LearningParams
from az_gym.training.samples import TrainingData

ROOT = Path(__file__).resolve().parents[1]


def _data(n: int = 256) -> TrainingData:
    rng = np.random.default_rng(0)
    obs = (rng.random((n, 6, 7, 2)) < 0.3).astype(np.float32)
    mask = rng.random((n, 7)) < 0.7
    mask[:, 3] = True  # some illegal actions: the masked logit must survive float16
    pi = rng.random((n, 7)).astype(np.float32) * mask
    return TrainingData.from_arrays(
        obs, pi / pi.sum(1, keepdims=True), rng.choice([-1, 1], n), mask
    )


@pytest.mark.parametrize("mp", ["bf16", "fp16"])
def test_mixed_precision_learning_runs_and_learns(mp: str) -> None:
    torch.manual_seed(0)
    net = PolicyValueNet((6, 7, 2), 7, NetworkConfig(num_blocks=1, num_filters=8))
    start = [p.detach().clone() for p in net.parameters()]
    params = LearningParams(mixed_precision=mp, batch_size=32, max_batches_per_checkpoint=3)
    rep = Learner(net, params).train(_data(), 0, np.random.default_rng(0))
    assert np.isfinite(rep.losses_before.total) and np.isfinite(rep.losses_after.total)
    assert all(p.dtype == torch.float32 for p in net.parameters())  # weights stay float32
    assert any(not torch.equal(a, b) for a, b in zip(start, net.parameters()))


def test_mixed_precision_is_validated() -> None:
    with pytest.raises(ValueError, match=r"LearningParams.mixed_precision='fp8' must be one of"):
        LearningParams(mixed_precision="fp8")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a CUDA-less host")
def test_gpu_check_without_cuda_prints_the_cpu_figures_and_fails_clearly() -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(
        ["bash", str(ROOT / "bench" / "gpu_check.sh"), "--quick", "--no-ray"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "GPU check NOT RUN: torch.cuda.is_available() is False" in proc.stdout
    for figure in ("updates/s", "positions/s", "samples/s"):
        assert figure in proc.stdout
    assert "Traceback" not in proc.stderr
