"""bench/play_sweep.py on tic-tac-toe: every setting plays the same games, the settings
are MctsParams fields, and bad input is one error line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import play_sweep


def test_parse_try_reads_toml_values_none_and_bare_words() -> None:
    got = play_sweep.parse_try("cpuct=1.5,fpu_reduction=none,root_policy=gumbel,solver=true")
    assert got == {"cpuct": 1.5, "fpu_reduction": None, "root_policy": "gumbel", "solver": True}
    with pytest.raises(ValueError, match="has no field 'cpcut'"):
        play_sweep.parse_try("cpcut=1")
    with pytest.raises(ValueError, match="is not KEY=VALUE"):
        play_sweep.parse_try("cpuct")


def test_the_reference_and_a_setting_play_the_same_games(capsys) -> None:
    args = ["tictactoe", "pretrained:16", "one_step", "--games", "4", "--processes", "1"]
    assert play_sweep.main([*args, "--try", "cpuct=1.0", "--try", "cpuct=1.0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("as loaded") and lines[2].startswith("cpuct=1.0")
    # the same setting twice: the same figures (the seconds aside)
    assert lines[2].rsplit("  ", 1)[0] == lines[3].rsplit("  ", 1)[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tictactoe", "random", "one_step"], "is not an AlphaZero agent"),
        (["tictactoe", "pretrained", "one_step", "--try", "cpuct=-1"], "cpuct"),
        (["no_such_game", "pretrained", "one_step"], "unknown game"),
        (["tictactoe", "pretrained", "one_step", "--games", "0"], "--games must be >= 1"),
        (["tictactoe", "pretrained", "one_step", "--try", "cpuc=1"], "did you mean 'cpuct'?"),
    ],
)
def test_bad_input_is_one_error_line(args: list[str], message: str, capsys) -> None:
    assert play_sweep.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("play_sweep: error: ") and message in err and err.count("\n") == 1
