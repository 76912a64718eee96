"""A misspelt name is answered with the name meant, in Python as on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

import az_gym
from az_gym._suggest import did_you_mean
from az_gym.envs.registry import make_game
from az_gym.training.params import ParamsError
from az_gym.training.params_io import apply_overrides, default_params, load_params


def test_close_names_are_found_and_far_ones_are_not() -> None:
    games = ["connect_four", "gomoku", "othello", "tictactoe"]
    assert did_you_mean("Connect-Four", games) == "connect_four"
    assert did_you_mean("connect4", games) == "connect_four"
    assert did_you_mean("chess", games) is None
    assert did_you_mean(7, games) is None


def test_a_misspelt_game_names_the_game() -> None:
    with pytest.raises(ValueError, match=r"unknown game 'tictacto' \(did you mean 'tictactoe'\?\)"):
        make_game("tictacto")
    with pytest.raises(ValueError, match=r"ships for 'otello' \(did you mean 'othello'\?\)"):
        az_gym.pretrained("otello")


def test_one_override_string_is_refused_not_read_letter_by_letter() -> None:
    with pytest.raises(ParamsError, match=r"is one string; give a list of them: \['num_iters=1'\]"):
        az_gym.Trainer("tictactoe", overrides="num_iters=1")


def test_a_misspelt_parameter_names_the_parameter(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match=r"\(did you mean 'self_play.mcts.cpuct'\?\)"):
        apply_overrides(default_params("tictactoe"), ["self_play.mcts.cpcut=2"])
    file = tmp_path / "p.toml"
    file.write_text("num_iter = 3\n")
    with pytest.raises(
        ParamsError, match=r"unknown key 'num_iter' .*\(did you mean 'num_iters'\?\)"
    ):
        load_params(file)
