"""No code from data, and a resume that respects what the user typed: a crafted
``state.json`` never runs code, a shared ``params.toml`` never picks the Ray cluster, the
game / options / ``--config`` of a resume must be the run's, overrides are tried before
they are saved, and sizes that cannot fit are refused before anything is allocated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from run_dir_helpers import assert_one_line_error, az_gym, cli, tiny_config
from test_trainer import TINY_MLP, tiny_params

from az_gym.training.params import ParamsError, load_params
from az_gym.training.run_dir import RunDirError
from az_gym.training.trainer import Trainer

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def run1(tmp_path_factory) -> Path:
    """A committed tic-tac-toe run at iteration 1 (copy it before changing it)."""
    run = tmp_path_factory.mktemp("trust") / "run"
    Trainer("tictactoe", tiny_params(), run, quiet=True).train()
    return run


def _copy(run: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(run, to)
    return to


def test_a_crafted_game_factory_in_state_json_is_never_imported(run1, tmp_path):
    run, marker = _copy(run1, tmp_path / "run"), tmp_path / "pwned"
    state = json.loads((run / "state.json").read_text())
    state.update(
        game_name=None,
        game_factory={"target": "os:system", "kwargs": {"command": f"touch {marker}"}},
    )
    (run / "state.json").write_text(json.dumps(state))
    # The real CLI: the game the user typed is the one used; nothing of state.json is run.
    proc = az_gym("train", "tictactoe", "--run-dir", run, "--resume", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not marker.exists()
    with pytest.raises(RunDirError, match=r"os:system.*never imports.*pass it again"):
        Trainer.from_run_dir(run, quiet=True)
    assert not marker.exists()
    assert_one_line_error(
        cli("train", "connect_four", "--run-dir", run, "--resume"), "tictactoe", "connect_four"
    )
    assert not marker.exists()


def test_a_ray_address_in_a_shared_params_toml_is_dropped_on_resume(run1, tmp_path):
    run = _copy(run1, tmp_path / "run")
    text = (run / "params.toml").read_text()
    text = text.replace('backend = "local"', 'backend = "ray"')
    text = text.replace('ray_address = "none"', 'ray_address = "10.1.2.3:6379"')
    (run / "params.toml").write_text(text)
    assert load_params(run / "params.toml").self_play.sim.ray_address == "10.1.2.3:6379"
    with pytest.warns(RuntimeWarning, match=r"10\.1\.2\.3.*does not use it"):
        trainer = Trainer.from_run_dir(run, quiet=True)
    assert trainer.params.self_play.sim.backend == "local"
    assert trainer.params.self_play.sim.ray_address is None
    # Typed again on the command line, it is the user's choice.
    again = Trainer.from_run_dir(
        run,
        quiet=True,
        overrides=["self_play.sim.backend=ray", "self_play.sim.ray_address=127.0.0.1:1"],
    )
    assert again.params.self_play.sim.ray_address == "127.0.0.1:1"
    # Typing the backend alone keeps the backend, never the recorded address.
    for typed in (
        ["self_play.sim.backend=ray"],
        ["arena.sim.backend=ray", "self_play.sim.backend=ray"],
    ):
        with pytest.warns(RuntimeWarning, match=r"ray_address='10\.1\.2\.3:6379'.*does not use"):
            mine = Trainer.from_run_dir(run, quiet=True, overrides=typed)
        assert mine.params.self_play.sim.backend == "ray"
        assert mine.params.self_play.sim.ray_address is None
        assert mine.params.arena.sim.ray_address is None


def test_resume_refuses_other_options_or_config_naming_both(tmp_path):
    run = tmp_path / "run"
    config = tiny_config(tmp_path / "tiny.toml")
    proc = cli("train", "othello", "-o", "size=6", "--config", config, "--run-dir", run, "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_one_line_error(cli("train", "othello", "--run-dir", run, "--resume"), "size=6", "size=8")
    other = tiny_config(tmp_path / "other.toml", num_iters=1, seed=7)
    proc = cli("train", "othello", "-o", "size=6", "--config", other, "--run-dir", run, "--resume")
    assert_one_line_error(proc, "seed: 7 vs 0", str(run / "params.toml"))
    proc = cli(
        "train",
        "othello",
        "-o",
        "size=6",
        "--config",
        config,
        "--run-dir",
        run,
        "--resume",
        "--set",
        "num_iters=2",
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((run / "state.json").read_text())["iteration"] == 2


def test_an_override_is_tried_before_it_is_saved(run1, tmp_path):
    run = _copy(run1, tmp_path / "run")
    # Adam's state does not fit SGD: SGD starts afresh (was KeyError 'momentum' after self-play).
    trainer = Trainer.from_run_dir(
        run, quiet=True, overrides=["learning.optimiser.kind=sgd", "num_iters=2"]
    )
    with pytest.warns(RuntimeWarning, match=r"optimiser\.pt.*does not fit the SGD"):
        assert [r.iteration for r in trainer.resume()] == [2]
    assert load_params(run / "params.toml").learning.optimiser.kind == "sgd"

    def fail(_report):
        raise RuntimeError("broken by this override")

    trainer = Trainer.from_run_dir(
        run, quiet=True, overrides=["num_iters=9"], callbacks={"on_self_play_end": fail}
    )
    with pytest.raises(RuntimeError, match="broken"):
        trainer.resume()
    assert load_params(run / "params.toml").num_iters == 2  # never reached the file
    assert json.loads((run / "state.json").read_text())["iteration"] == 2


@pytest.mark.parametrize(
    "override", ["network.hidden=[100000, 100000]", "learning.batch_size=100000000"]
)
def test_sizes_that_cannot_fit_are_refused_before_anything_is_written(tmp_path, override):
    with pytest.raises(ParamsError, match=r"GiB.*available"):
        Trainer("tictactoe", tiny_params(), tmp_path / "run", overrides=[override])
    assert not (tmp_path / "run").exists()


def test_bad_first_starts_leave_no_directory_that_blocks_the_next(tmp_path):
    run = tmp_path / "run"
    assert_one_line_error(cli("train", "tictactoe", "--seed", "-1", "--run-dir", run), "seed")
    proc = cli("train", "tictactoe", "--run-dir", run, "--set", "network.hidden=[100000, 100000]")
    assert_one_line_error(proc, "GiB")
    assert not run.exists()

    def fail(_report):
        raise RuntimeError("out of memory, say")

    with pytest.raises(RuntimeError):
        Trainer(
            "tictactoe", tiny_params(), run, callbacks={"on_self_play_end": fail}, quiet=True
        ).train()
    assert not run.exists()
    run.mkdir()  # a directory the user made: emptied again, kept
    with pytest.raises(RuntimeError):
        Trainer(
            "tictactoe", tiny_params(), run, callbacks={"on_self_play_end": fail}, quiet=True
        ).train()
    assert {p.name for p in run.iterdir()} <= {"lock"}
    other = tiny_params(network=TINY_MLP.__class__(kind="mlp", hidden=(8,), value_hidden=4))
    assert [r.iteration for r in Trainer("tictactoe", other, run, quiet=True).train()] == [1]


def test_train_module_factory_imports_only_what_the_user_typed(tmp_path, monkeypatch):
    config = tiny_config(tmp_path / "tiny.toml")
    (tmp_path / "my_factory_game.py").write_text(
        "from pettingzoo.classic import tictactoe_v3\n\n\ndef env():\n"
        "    return tictactoe_v3.env()\n"
    )
    monkeypatch.chdir(tmp_path)  # MODULE is looked up in the current directory first
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    run = tmp_path / "run"
    proc = cli("train", "my_factory_game:env", "--config", config, "--run-dir", run, "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    state = json.loads((run / "state.json").read_text())
    assert state["iteration"] == 1 and state["game_factory"]["target"] == "my_factory_game:env"
    proc = cli("train", "pettingzoo.classic.tictactoe_v3:env", "--run-dir", run, "--resume")
    assert_one_line_error(proc, "my_factory_game:env", "tictactoe")
    proc = cli(
        "train",
        "my_factory_game:env",
        "--run-dir",
        run,
        "--resume",
        "--set",
        "num_iters=2",
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((run / "state.json").read_text())["iteration"] == 2
    assert_one_line_error(cli("train", "no_such_module:env"), "no_such_module")


@pytest.mark.parametrize(
    "duel, needle",
    [
        ('{opponent = "random", opponent_options = {bogus = 1}, num_games = 2}', "'bogus' unknown"),
        ('{opponent = "alphabeta", opponent_options = {depth = "x"}, num_games = 2}', "refused"),
        ('{opponent = "alphabeta", opponent_options = {depth = 100}, num_games = 2}', "depth=100"),
        (
            '{opponent = "rollout_mcts", opponent_options = {num_simulations = 1000000000}, '
            "num_games = 2}",
            "num_simulations=1000000000",
        ),
    ],
)
def test_benchmark_options_are_checked_before_any_iteration(run1, tmp_path, duel, needle):
    from run_dir_helpers import fingerprint

    run = _copy(run1, tmp_path / "run")
    text = (run / "params.toml").read_text().replace("benchmark = []", f"benchmark = [{duel}]")
    (run / "params.toml").write_text(text)
    before = fingerprint(run)
    proc = cli("train", "tictactoe", "--run-dir", run, "--resume", "--set", "num_iters=2")
    assert_one_line_error(proc, "benchmark[0]", needle)
    assert fingerprint(run) == before  # refused before anything ran or was written


def test_worker_processes_are_bounded_by_the_cores(tmp_path):
    with pytest.raises(ParamsError, match=r"self_play\.sim\.num_processes=100000 is more than"):
        Trainer(
            "tictactoe",
            tiny_params(),
            tmp_path / "run",
            overrides=["self_play.sim.num_processes=100000"],
            quiet=True,
        )
    assert not (tmp_path / "run").exists()
