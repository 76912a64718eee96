"""``az-gym train`` and the commands on its run, in-process through ``main``.

The rest of the surface (help, errors, play, analyse) is in ``tests/test_cli_*.py``."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from az_gym.cli import main

TINY = [
    "num_iters=1",
    "self_play.sim.num_games=4",
    "self_play.sim.num_workers=4",
    "self_play.sim.batch_size=4",
    "self_play.sim.num_processes=1",
    "self_play.mcts.num_iters_per_turn=4",
    "arena.sim.num_games=2",
    "arena.sim.num_workers=2",
    "arena.sim.batch_size=2",
    "arena.mcts.num_iters_per_turn=4",
    "learning.max_batches_per_checkpoint=2",
]


def _sets(overrides: list[str]) -> list[str]:
    return [arg for o in overrides for arg in ("--set", o)]


def test_bad_override_names_the_field(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(
        ["train", "tictactoe", "--run-dir", str(tmp_path), "--set", "self_play.sim.num_games=-1"]
    )
    assert code == 2
    assert "num_games" in capsys.readouterr().err


def test_train_resume_evaluate_analyse_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    base = ["train", "tictactoe", "--run-dir", str(run), "--quiet", *_sets(TINY)]
    assert main(base) == 0
    assert json.loads((run / "state.json").read_text())["iteration"] == 1
    longer = [a.replace("num_iters=1", "num_iters=2") for a in base]  # --set once per key
    assert main([*longer, "--resume"]) == 0
    assert json.loads((run / "state.json").read_text())["iteration"] == 2
    assert len((run / "report.jsonl").read_text().splitlines()) == 2
    capsys.readouterr()

    assert main(["analyse", "tictactoe", f"{run}:8", "b2"]) == 0
    out = capsys.readouterr().out
    assert "visits" in out and "network value" in out
    assert out.count("a b c") == 1  # the board once

    assert main(["evaluate", "tictactoe", f"network:{run}", "random", "--games", "2"]) == 0
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    model = tmp_path / "model.onnx"
    assert main(["export", "tictactoe", str(run), "--out", str(model)]) == 0
    assert model.stat().st_size > 0


def test_every_game_command_takes_module_factory(capsys: pytest.CaptureFixture[str]) -> None:
    """``MODULE:FACTORY`` names a game for evaluate, tournament and analyse as it does for
    train (only what the user typed is imported), with ``-o`` options as its arguments."""
    classic = "pettingzoo.classic.connect_four_v3:env"
    assert main(["evaluate", classic, "one_step", "random", "--games", "2", "--quiet"]) == 0
    assert "one_step vs random" in capsys.readouterr().out
    assert main(["tournament", classic, "random", "one_step", "--games-per-pair", "2"]) == 0
    assert "one_step" in capsys.readouterr().out
    assert main(["analyse", "pettingzoo.classic.tictactoe_v3:env", "alphabeta:9"]) == 0
    assert "alphabeta, depth 9" in capsys.readouterr().out
    assert main(["evaluate", classic, "random", "random", "-o", "no_such_option=1"]) == 2
    assert "no_such_option" in capsys.readouterr().err


def test_training_into_a_used_run_dir_gives_the_command_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The refusal once mixed Python and shell advice ("call resume() (az-gym train GAME
    --resume)"); the CLI now gives the one command that continues this run directory."""
    run = tmp_path / "my run"
    base = ["train", "tictactoe", "--run-dir", str(run), "--quiet", *_sets(TINY)]
    assert main(base) == 0
    capsys.readouterr()
    for extra in ([], ["--init-from", "pretrained"]):
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"az-gym: error: {run} already holds a run at iteration 1")
        # the run is complete (num_iters=1): --resume alone would do nothing
        assert f"`az-gym train tictactoe --resume --run-dir '{run}' --set num_iters=11`" in err
        assert "resume()" not in err and len(err.splitlines()) == 1
        assert ("--init-from starts a new run only" in err) == bool(extra)
    # without --resume, another network is still "already holds a run" (it was the
    # network mismatch, as if the user had meant to resume)
    assert main([*base, "--set", "network.hidden=[64, 64]"]) == 2
    assert capsys.readouterr().err.startswith(f"az-gym: error: {run} already holds a run")
    # another network is refused naming the one field that differs (it printed both
    # whole network dicts, ~300 characters each)
    assert main(["train", "tictactoe", "--resume", "--run-dir", str(run),
                 "--set", "network.hidden=[64, 64]"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "(network.hidden: run [128, 128], asked [64, 64])" in err and "'kind'" not in err
    # resumed as it is, it says how to train further (it once just stopped), as a command
    assert main(["train", "tictactoe", "--resume", "--run-dir", str(run)]) == 0
    err = capsys.readouterr().err
    assert "1 of 1 iterations done" in err
    assert f"raise num_iters: `az-gym train tictactoe --resume --run-dir '{run}' --set" in err
    # --quiet hides progress, not that nothing was trained (it once printed nothing)
    assert main(["train", "tictactoe", "--resume", "--run-dir", str(run), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "the run is complete; to train further" in err and "1 of 1" not in err


def test_resuming_a_run_dir_that_does_not_exist_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--resume`` on a missing (or empty) directory once said to "restore the files from
    a backup", as if a run had been lost; now it says there is none and how to start one."""
    (tmp_path / "empty").mkdir()
    for name, what in (("nothing here", "does not exist"), ("empty", "is empty")):
        run = tmp_path / name
        assert main(["train", "tictactoe", "--resume", "--run-dir", str(run), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"az-gym: error: {run} {what}, so there is no run to resume")
        assert f"`az-gym train tictactoe --run-dir {shlex.quote(str(run))}`" in err
        assert "backup" not in err and len(err.splitlines()) == 1
    assert not (tmp_path / "nothing here").exists()


def test_ray_backend_without_ray_is_refused_before_the_run_starts(tmp_path: Path) -> None:
    # The run once printed "0 of 1 iterations done", made its directory, then failed.
    # `sys.modules["ray"] = None` is how Python marks a module as missing: import fails.
    code = (
        "import sys; sys.modules['ray'] = None; from az_gym.cli import main; "
        f"sys.exit(main(['train', 'tictactoe', '--run-dir', {str(tmp_path / 'run')!r}, "
        "'--set', 'self_play.sim.backend=ray']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("az-gym: error: SimParams.backend='ray' needs Ray")
    assert len(proc.stderr.splitlines()) == 1 and not (tmp_path / "run").exists()
