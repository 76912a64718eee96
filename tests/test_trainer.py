"""End-to-end training runs with tiny budgets, resume after kill -9 or a death at any
point of a save, run-dir safety."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from az_gym.agents.alphazero import AlphaZeroAgent
from az_gym.mcts import MctsParams
from az_gym.networks import NetworkConfig
from az_gym.schedules import PLSchedule
from az_gym.training.params import (
    ArenaParams,
    DuelSpec,
    LearningParams,
    MemAnalysisParams,
    Params,
    ParamsError,
    SelfPlayParams,
    SimParams,
)
from az_gym.training.report import ReportWriter, load_reports
from az_gym.training.run_dir import RunDirError
from az_gym.training.trainer import Trainer

torch.set_num_threads(1)
TINY_MLP = NetworkConfig(kind="mlp", hidden=(16,), value_hidden=8)
TINY_RESNET = NetworkConfig(kind="resnet", num_blocks=1, num_filters=8, value_hidden=8)


def tiny_params(num_iters: int = 1, network: NetworkConfig = TINY_MLP, **kw) -> Params:
    """A run that takes a second or two: 4 self-play games, 4 simulations per move."""
    sim = SimParams(num_games=4, num_workers=4, batch_size=4, num_processes=1)
    arena_sim = SimParams(num_games=2, num_workers=2, batch_size=2, num_processes=1,
                          alternate_colors=True)  # fmt: skip
    return Params(
        self_play=SelfPlayParams(mcts=MctsParams(num_iters_per_turn=4), sim=sim),
        learning=LearningParams(
            batch_size=16, max_batches_per_checkpoint=3, loss_computation_batch_size=256
        ),
        arena=ArenaParams(
            mcts=MctsParams(num_iters_per_turn=4, dirichlet_noise_epsilon=0.05),
            sim=arena_sim,
            update_threshold=0.0,
        ),
        memory_analysis=MemAnalysisParams(num_game_stages=2),
        num_iters=num_iters,
        mem_buffer_size=PLSchedule((0,), (2000,)),
        network=network,
        **kw,
    )


def _check_run(run: Path, iterations: int, game_id: str, game=None) -> None:
    state = json.loads((run / "state.json").read_text())
    assert state["iteration"] == iterations and state["game_id"] == game_id
    records = load_reports(run)
    assert [r["iteration"] for r in records] == list(range(1, iterations + 1))
    for r in records:
        assert r["self_play"]["num_games"] == 4 and r["self_play"]["num_samples"] > 0
        assert np.isfinite(r["learning"]["loss_after"]["total"])
        assert r["arena"]["score"] is not None
    assert state["checkpoint_dir"] == f"iter-{iterations:06d}"
    for name in ("params.toml", "current.pt", "best.pt"):
        assert (run / name).stat().st_size > 0, name
    for name in ("current.pt", "best.pt", "optimiser.pt", "memory.npz"):
        assert (run / state["checkpoint_dir"] / name).stat().st_size > 0, name
    kept = {p.name for p in run.glob("iter-*")}  # this iteration's and the previous one's
    assert state["checkpoint_dir"] in kept
    assert kept <= {f"iter-{i:06d}" for i in (iterations - 1, iterations)}
    assert not [p.name for p in run.iterdir() if ".tmp-" in p.name or ".prev." in p.name]
    assert (run / "plots" / "losses.png").exists()
    assert any((run / "tensorboard").iterdir())
    from az_gym.agents.alphazero import AlphaZeroAgent

    agent = AlphaZeroAgent.load(run / "best.pt", game)
    assert agent.game.game_id == game_id


@pytest.mark.parametrize(
    ("name", "options", "network"),
    [
        ("tictactoe", {}, TINY_MLP),
        ("connect_four", {}, TINY_RESNET),
        ("othello", {"size": 6}, TINY_MLP),
        ("gomoku", {"size": 9}, TINY_MLP),
    ],
)
def test_native_games_train_end_to_end(tmp_path, name, options, network):
    params = tiny_params(num_iters=2 if name == "tictactoe" else 1, network=network,
                         use_symmetries=True)  # fmt: skip
    seen = []
    trainer = Trainer(name, params, tmp_path / "run", game_options=options, quiet=True,
                      callbacks={"on_iteration_end": seen.append,
                                 "on_arena_end": seen.append})  # fmt: skip
    reports = trainer.train()
    assert [r.iteration for r in reports] == list(range(1, params.num_iters + 1))
    assert len(seen) == 2 * params.num_iters
    _check_run(tmp_path / "run", params.num_iters, trainer.game.game_id)
    for r in reports:  # the phases' times are disjoint parts of the iteration's
        phases = [r.record[k]["seconds"] for k in ("self_play", "learning", "arena")]
        assert min(phases) > 0 and sum(phases) <= r.seconds, (phases, r.seconds)
    agent = trainer.best_agent(seed=0)
    game = trainer.game
    assert game.legal_mask(game.initial_state())[agent.act_state(game, game.initial_state())]


def test_pettingzoo_env_through_the_adapter(tmp_path):
    from pettingzoo.classic import tictactoe_v3

    trainer = Trainer(tictactoe_v3.env, tiny_params(), tmp_path / "run", quiet=True)
    trainer.train()
    _check_run(tmp_path / "run", 1, trainer.game.game_id, trainer.game)
    # state.json describes the factory but is never imported: the user passes it again,
    # and it must be the recorded one (compared as data).
    with pytest.raises(RunDirError, match=r"tictactoe:env.*pass it again"):
        Trainer.from_run_dir(tmp_path / "run", quiet=True)
    from pettingzoo.classic import connect_four_v3

    with pytest.raises(RunDirError, match=r"connect_four.*env"):
        Trainer.from_run_dir(tmp_path / "run", env_or_name=connect_four_v3.env, quiet=True)
    again = Trainer.from_run_dir(tmp_path / "run", env_or_name=tictactoe_v3.env,
                                 overrides=["num_iters=2"], quiet=True)  # fmt: skip
    assert [r.iteration for r in again.resume()] == [2]


def test_benchmark_duels_are_reported(tmp_path):
    duels = (
        DuelSpec(opponent="random", num_games=2),
        DuelSpec(opponent="one_step", player="network_only", num_games=2),
    )
    Trainer("tictactoe", tiny_params(benchmark=duels), tmp_path, quiet=True).train()
    bench = load_reports(tmp_path)[0]["benchmark"]
    assert set(bench) == {d.name for d in duels}
    for res in bench.values():
        assert res["wins"] + res["draws"] + res["losses"] == 2 and 0 <= res["score"] <= 1
    assert (tmp_path / "plots" / "benchmark.png").exists()


def test_invalid_params_are_rejected_at_construction(tmp_path):
    with pytest.raises(ParamsError, match="num_games"):
        Trainer("tictactoe", tiny_params(), tmp_path, overrides=["self_play.sim.num_games=0"])
    with pytest.raises(ParamsError, match="flip_probability"):
        from pettingzoo.classic import tictactoe_v3  # no symmetries through the adapter

        Trainer(tictactoe_v3.env, tiny_params(), tmp_path,
                overrides=["self_play.sim.flip_probability=0.5"])  # fmt: skip
    assert not (tmp_path / "state.json").exists()


def test_run_dir_of_another_game_or_network_is_refused(tmp_path):
    Trainer("tictactoe", tiny_params(), tmp_path, quiet=True).train()
    with pytest.raises(RunDirError, match="tictactoe"):
        Trainer("connect_four", tiny_params(), tmp_path, quiet=True)
    other_net = tiny_params(network=NetworkConfig(kind="mlp", hidden=(32,)))
    with pytest.raises(RunDirError, match="network"):
        Trainer("tictactoe", other_net, tmp_path, quiet=True)
    with pytest.raises(RunDirError, match="resume"):
        Trainer("tictactoe", tiny_params(), tmp_path, quiet=True).train()


def test_corrupt_checkpoint_falls_back_to_previous_good_one(tmp_path):
    Trainer("tictactoe", tiny_params(num_iters=2), tmp_path, quiet=True).train()
    (tmp_path / "iter-000002" / "current.pt").write_bytes(b"not a checkpoint at all")
    trainer = Trainer("tictactoe", tiny_params(num_iters=3), tmp_path, quiet=True)
    with pytest.warns(RuntimeWarning, match=r"iter-000002/current\.pt is corrupt.*using "
                      r".*iter-000001/current\.pt \(iteration 1\)"):  # fmt: skip
        reports = trainer.resume()
    assert [r.iteration for r in reports] == [3]
    _check_run(tmp_path, 3, "tictactoe")


def test_iteration_line_shows_the_arena_score_in_evaluate_units(tmp_path, capsys):
    """The arena's score reads as evaluate and arena.png read it: in [0, 1], with the
    threshold in the same units (the line used to print the mean reward, e.g. +0.42)."""
    params = tiny_params()
    params = dataclasses.replace(
        params, arena=dataclasses.replace(params.arena, update_threshold=0.05)
    )
    Trainer("tictactoe", params, tmp_path).train()
    (record,) = load_reports(tmp_path)
    score = (record["arena"]["score"] + 1) / 2
    line = [x for x in capsys.readouterr().err.splitlines() if x.startswith("iteration 1:")]
    assert len(line) == 1 and record["summary"] in line[0]
    assert f", arena {score:.2f} (threshold 0.525)" in line[0], line[0]
    assert line[0].endswith(", promoted") == record["promoted"]


def test_keyboard_interrupt_keeps_the_last_completed_iteration(tmp_path, capsys):
    def stop(report):
        if stop.calls == 1:
            raise KeyboardInterrupt
        stop.calls += 1

    stop.calls = 0
    trainer = Trainer("tictactoe", tiny_params(num_iters=3), tmp_path,
                      callbacks={"on_self_play_end": stop})  # fmt: skip
    with pytest.raises(KeyboardInterrupt):  # the caller sees Ctrl-C (the CLI exits 130)
        trainer.train()
    assert trainer.iteration == 1
    err = capsys.readouterr().err
    # the command it suggests resumes THIS run, not the default run directory
    assert "interrupted" in err and f"--resume --run-dir {tmp_path}" in err, err
    _check_run(tmp_path, 1, "tictactoe")


KILL_SCRIPT = """
import sys, torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from test_trainer import tiny_params
from az_gym.training.trainer import Trainer
Trainer("tictactoe", tiny_params(num_iters=1000), {run!r}, quiet=True).train()
"""


def test_resume_after_kill_9(tmp_path):
    run = tmp_path / "run"
    script = textwrap.dedent(KILL_SCRIPT).format(tests=str(Path(__file__).parent), run=str(run))
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        state = run / "state.json"
        while time.monotonic() < deadline:
            if state.exists() and json.loads(state.read_text())["iteration"] >= 2:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
        else:
            pytest.fail("the training subprocess made no progress in 60 s")
        time.sleep(0.3)  # somewhere inside the next iteration
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    done = json.loads(state.read_text())["iteration"]
    assert done >= 2
    trainer = Trainer.from_run_dir(run, overrides=[f"num_iters={done + 1}"], quiet=True)
    reports = trainer.resume()
    assert [r.iteration for r in reports] == [done + 1]
    _check_run(run, done + 1, "tictactoe")


# ---------------------------------------------------------------- death at any point of a save
class Death(BaseException):
    """A simulated crash (no ``except`` clause of the trainer catches it)."""


def _fingerprint(trainer: Trainer) -> dict:
    """What a resume must restore: weights, optimiser state, memory counts."""

    def flat(tensors) -> torch.Tensor:
        return torch.cat([t.detach().cpu().reshape(-1).double() for t in tensors])

    opt = trainer.learner.optimiser.state_dict()["state"]
    return {
        "current": flat(trainer.current_net.state_dict().values()),
        "best": flat(trainer.best_net.state_dict().values()),
        "optimiser": flat(t for s in opt.values() for t in s.values() if torch.is_tensor(t)),
        "num_games": trainer.memory.num_games,
        "num_samples_seen": trainer.memory.num_samples_seen,
        "len": len(trainer.memory),
    }


def _assert_same(got: dict, want: dict, where: str) -> None:
    for key, value in want.items():
        same = torch.equal(got[key], value) if torch.is_tensor(value) else got[key] == value
        assert same, f"{where}: {key} differs from the committed iteration's"


class RecordingTrainer(Trainer):
    """An uninterrupted run that records what each save commits and, before iteration 2's
    save, copies the run directory (committed at 1) and the state about to be saved."""

    def _save(self, record, writer) -> None:
        if self.iteration == 2:
            shutil.copytree(self.run.path, self.snapshot)
            self.pending = copy.deepcopy({
                "current": self.current_net.state_dict(), "best": self.best_net.state_dict(),
                "learner": self.learner.state_dict(), "memory": self.memory,
                "rng": self.rng.bit_generator.state, "record": record,
            })  # fmt: skip
        self.committed[self.iteration] = copy.deepcopy(_fingerprint(self))
        super()._save(record, writer)


def _save_iteration_2(run: Path, pending: dict, replace) -> None:
    """Load ``run`` (committed at 1), put iteration 2's state in and save it, with
    ``os.replace`` (the last step of every atomic write) swapped for ``replace``."""
    trainer = Trainer.from_run_dir(run, quiet=True)
    trainer._ensure_loaded()
    trainer.current_net.load_state_dict(pending["current"])
    trainer.best_net.load_state_dict(pending["best"])
    trainer.learner.load_state_dict(pending["learner"])
    trainer.memory = copy.deepcopy(pending["memory"])
    trainer.rng.bit_generator.state = pending["rng"]
    trainer.iteration = 2
    writer = ReportWriter(run, tensorboard=False, plots=False)
    real = os.replace
    os.replace = replace
    try:
        trainer._save(dict(pending["record"]), writer)
    finally:
        os.replace = real
        writer.close()


def _dies_before(j: int, real):
    """An ``os.replace`` that raises :class:`Death` instead of doing its ``j``-th replace."""
    calls = []

    def replace(src, dst):
        if len(calls) == j:
            raise Death(f"killed before replacing {dst}")
        calls.append(dst)
        real(src, dst)

    return replace


def test_death_at_any_point_of_a_save_resumes_the_committed_iteration(tmp_path):
    uninterrupted = RecordingTrainer("tictactoe", tiny_params(num_iters=2), tmp_path / "full",
                                     quiet=True)  # fmt: skip
    uninterrupted.snapshot, uninterrupted.committed = tmp_path / "at1", {}
    uninterrupted.train()
    pending, committed = uninterrupted.pending, uninterrupted.committed

    targets: list[str] = []  # the files the save replaces, in order

    def counting(src, dst):
        targets.append(Path(dst).name)
        real(src, dst)

    real = os.replace
    shutil.copytree(tmp_path / "at1", tmp_path / "count")
    _save_iteration_2(tmp_path / "count", pending, counting)
    commit_at = targets.index("state.json")
    assert commit_at >= 4 and len(targets) > commit_at  # 4 files of the iteration, then commit

    for j in range(len(targets) + 1):  # die before the j-th replace (j = len: no death)
        run = tmp_path / f"died-{j}"
        shutil.copytree(tmp_path / "at1", run)
        dying = _dies_before(j, real)
        if j < len(targets):
            with pytest.raises(Death):
                _save_iteration_2(run, pending, dying)
        else:
            _save_iteration_2(run, pending, dying)
        expected = 2 if j > commit_at else 1
        where = f"death before {targets[j] if j < len(targets) else 'nothing'} (step {j})"
        loaded = Trainer.from_run_dir(run, quiet=True)
        loaded._ensure_loaded()
        assert loaded.iteration == expected, where
        _assert_same(_fingerprint(loaded), committed[expected], where)
        assert AlphaZeroAgent.load(run / "best.pt").game.game_id == "tictactoe"
        if j == commit_at:  # the worst case: every file of iteration 2 written, no commit
            again = Trainer.from_run_dir(run, quiet=True)
            assert [r.iteration for r in again.resume()] == [2]
            assert again.memory.num_games == committed[2]["num_games"], where
            _check_run(run, 2, "tictactoe")


def test_run_of_the_flat_layout_is_refused_with_what_to_do(tmp_path):
    from run_dir_helpers import assert_one_line_error, cli  # it imports this module

    Trainer("tictactoe", tiny_params(num_iters=2), tmp_path, quiet=True).train()
    # The layout of older versions: every file at the top, state.json names no directory.
    for name in ("optimiser.pt", "memory.npz"):
        shutil.copyfile(tmp_path / "iter-000002" / name, tmp_path / name)
    for d in tmp_path.glob("iter-*"):
        shutil.rmtree(d)
    state = json.loads((tmp_path / "state.json").read_text())
    del state["checkpoint_dir"]
    state.update(version=1)
    (tmp_path / "state.json").write_text(json.dumps(state))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(RunDirError, match=r"older az_gym \(flat layout.*start a new run"):
        Trainer.from_run_dir(tmp_path, quiet=True)
    proc = cli("train", "tictactoe", "--run-dir", tmp_path, "--resume")
    assert_one_line_error(proc, "state.json", "older az_gym (flat layout", "start a new run")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


@pytest.mark.parametrize("keep", [True, False])
def test_best_network_of_every_iteration_outlives_the_pruned_directories(tmp_path, keep):
    """``networks/best-NNNNNN.pt`` holds each iteration's best network (an agent file) after
    its ``iter-NNNNNN/`` is pruned; ``keep_best_networks = false`` keeps none."""
    run = tmp_path / "run"
    Trainer("tictactoe", tiny_params(num_iters=3, keep_best_networks=keep), run,
            quiet=True).train()  # fmt: skip
    assert sorted(p.name for p in run.glob("iter-*")) == ["iter-000002", "iter-000003"]
    kept = sorted(p.name for p in (run / "networks").glob("*.pt")) if keep else []
    assert kept == (["best-000001.pt", "best-000002.pt", "best-000003.pt"] if keep else [])
    assert (run / "networks").exists() == keep
    if keep:
        first = AlphaZeroAgent.load(run / "networks" / "best-000001.pt")
        assert first.game.game_id == "tictactoe"
        last = (run / "networks" / "best-000003.pt").read_bytes()
        assert last == (run / "best.pt").read_bytes()


@pytest.mark.parametrize("fraction", [1.0, 0.5])
def test_iteration_line_counts_positions_played_under_playout_caps(tmp_path, fraction):
    """Playout caps record fewer positions than the games played: the line says so (``553
    samples of 1082 positions``); without them it reads as before."""
    params = tiny_params()
    sp = dataclasses.replace(params.self_play, full_search_fraction=fraction,
                             fast_search_simulations=2)  # fmt: skip
    Trainer("tictactoe", dataclasses.replace(params, self_play=sp), tmp_path, quiet=True).train()
    (record,) = load_reports(tmp_path)
    played = record["self_play"]["num_positions"]
    recorded = record["self_play"]["num_samples"]
    assert played == round(record["self_play"]["num_games"] * record["self_play"]["average_length"])
    if fraction == 1.0:
        assert recorded == played and record["summary"].startswith(f"{recorded} samples (")
    else:
        assert 0 < recorded < played
        assert record["summary"].startswith(f"{recorded} samples of {played} positions (")
