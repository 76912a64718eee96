"""bench/strength.py on a run directory: it measures the best network of every iteration the
trainer kept in ``networks/`` (a real tiny Connect Four run), not only the two iteration
directories left after pruning."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import strength
from test_trainer import TINY_RESNET, tiny_params

from az_gym.envs.connect_four import ConnectFour
from az_gym.training.trainer import Trainer

torch.set_num_threads(1)


def test_every_kept_iteration_is_measured_against_training_time(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    Trainer("connect_four", tiny_params(num_iters=3, network=TINY_RESNET), run,
            quiet=True).train()  # fmt: skip
    assert sorted(strength._networks(run)) == [1, 2, 3]
    rows = strength.positions(200, 0, 20_000_000)[:12]  # from the committed set
    strength._iterations(run, ":4", ConnectFour(), rows, seed=0, every=2)
    out = capsys.readouterr().out
    summary = out.split("best network:\n")[1].splitlines()
    assert [line.split()[1] for line in summary] == ["2", "3"]  # every 2nd, and the last
    assert all("min" in line and line.count("/") == 2 for line in summary)


def test_without_kept_networks_the_iteration_directories_are_used(tmp_path) -> None:
    run = tmp_path / "run"
    Trainer("connect_four", tiny_params(num_iters=3, network=TINY_RESNET,
            keep_best_networks=False), run, quiet=True).train()  # fmt: skip
    assert sorted(strength._networks(run)) == [2, 3]


def test_a_sym_run_spec_averages_every_iteration_too(tmp_path, monkeypatch, capsys) -> None:
    """``strength.py RUN:sym`` once measured the best network with averaging but the
    per-iteration table without it."""
    run = tmp_path / "run"
    Trainer("connect_four", tiny_params(num_iters=2, network=TINY_RESNET), run,
            quiet=True).train()  # fmt: skip
    built = []
    real = strength.make_agent

    def spy(spec, game, seed=None):
        agent = real(spec, game, seed=seed)
        built.append((spec, agent.params.symmetry_averaging))
        return agent

    monkeypatch.setattr(strength, "make_agent", spy)
    full = strength.positions
    monkeypatch.setattr(strength, "positions", lambda n, seed, budget: full(200, 0, budget)[:12])
    strength.main([f"{run}:sym", "--sims", "2"])
    assert [on for _, on in built] == [True, True, True]  # the run, iterations 1 and 2
    assert all(spec.endswith(":2:sym") or spec.endswith(":sym:2") for spec, _ in built)
