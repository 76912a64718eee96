"""The ``az-gym`` command, run for real (in-process through ``main`` or as a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from az_gym.cli import build_parser, main

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


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    commands = ["train", "play", "evaluate", "tournament", "analyse", "bench", "list", "export"]
    for cmd in commands:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([cmd, "--help"])
        assert exit_info.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith("usage: az-gym " + cmd), out[:80]


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "connect_four" in out and "alphabeta" in out


def test_evaluate_writes_counts_that_add_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "duel.json"
    args = ["evaluate", "tictactoe", "alphabeta", "random", "--games", "6", "--seed", "0"]
    assert main([*args, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["wins"] + result["draws"] + result["losses"] == 6
    assert result["losses"] == 0  # exact alpha-beta never loses tic-tac-toe
    assert "alphabeta vs random" in capsys.readouterr().out


def test_unknown_agent_is_a_clear_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "tictactoe", "no_such_agent", "random", "--games", "1"])
    assert "unknown agent 'no_such_agent'" in str(exit_info.value.code)


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
    assert main([*base, "--resume", "--set", "num_iters=2"]) == 0
    assert json.loads((run / "state.json").read_text())["iteration"] == 2
    assert len((run / "report.jsonl").read_text().splitlines()) == 2
    capsys.readouterr()

    assert main(["analyse", "tictactoe", f"{run}:8", "b2"]) == 0
    out = capsys.readouterr().out
    assert "visits" in out and "network value" in out

    assert main(["evaluate", "tictactoe", f"network:{run}", "random", "--games", "2"]) == 0
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    model = tmp_path / "model.onnx"
    assert main(["export", "tictactoe", str(run), "--out", str(model)]) == 0
    assert model.stat().st_size > 0


def test_play_against_an_agent_with_typos(tmp_path: Path) -> None:
    # The human's typo and illegal move are asked again, never played.
    moves = "zz\nb2\nb2\na1\nc3\na3\nc1\nb1\nc2\na2\n"
    proc = subprocess.run(
        [sys.executable, "-m", "az_gym.cli", "play", "tictactoe", "--opponent", "alphabeta",
         "--seed", "0"],
        input=moves, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "'zz' is not a legal move" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1] in ("You win!", "You lose.", "Draw.")


def test_play_ends_cleanly_when_input_ends() -> None:
    # Ctrl-D (or a closed stdin) mid-game quits like 'quit': exit 130, no traceback.
    proc = subprocess.run(
        [sys.executable, "-m", "az_gym.cli", "play", "tictactoe", "--opponent", "random"],
        input="b2\n", capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "interrupted" in proc.stderr
