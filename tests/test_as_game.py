"""One game resolver (issue 13): ``as_game`` accepts the same inputs for every public entry
point that asks for a game: ``AlphaZeroAgent(...)``, ``az_gym.evaluate(...)``,
``Trainer(...)`` (and the CLI's ``GAME -o KEY=VALUE``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import pytest
from pettingzoo.classic import tictactoe_v3

import az_gym
from az_gym.agents import RandomAgent
from az_gym.agents.alphazero import AlphaZeroAgent
from az_gym.envs.registry import as_game
from az_gym.envs.tictactoe import TicTacToe
from az_gym.networks import NetworkConfig
from az_gym.training.trainer import Trainer

TINY = NetworkConfig(kind="mlp", hidden=(8,), value_hidden=4)

# name -> (a builder of the input, the game id it stands for)
TWO_PLAYER: dict[str, tuple[Callable[[], Any], str]] = {
    "registry name": (lambda: "tictactoe", "tictactoe"),
    "Game": (TicTacToe, "tictactoe"),
    "(game, state)": (lambda: (TicTacToe(), TicTacToe().initial_state()), "tictactoe"),
    "native AEC env, not reset": (lambda: az_gym.make("tictactoe"), "tictactoe"),
    "Gymnasium view": (lambda: gymnasium.make("az_gym/TicTacToe-v0"), "tictactoe"),
    "PettingZoo env, not reset": (lambda: tictactoe_v3.env(), "tictactoe_v3"),
    "PettingZoo env, reset": (lambda: _reset(tictactoe_v3.env()), "tictactoe_v3"),
    "PettingZoo factory": (lambda: tictactoe_v3.env, "tictactoe_v3"),
    "(env_fn, kwargs)": (lambda: (tictactoe_v3.env, {}), "tictactoe_v3"),
}


def _reset(env: Any) -> Any:
    env.reset(seed=0)
    return env


def _name(game_id: str) -> str:
    return game_id.split("(")[0]


@pytest.mark.parametrize("case", list(TWO_PLAYER))
def test_every_entry_point_accepts_the_same_inputs(case: str, tmp_path: Path) -> None:
    make, expected = TWO_PLAYER[case]
    assert _name(as_game(make()).game_id) == expected
    assert _name(AlphaZeroAgent(make(), TINY, seed=0).game.game_id) == expected
    result = az_gym.evaluate(RandomAgent(seed=0), RandomAgent(seed=1), make(), 2, seed=0)
    assert result.wins + result.draws + result.losses == 2
    trainer = Trainer(make(), run_dir=tmp_path / "run", quiet=True)
    assert _name(trainer.game.game_id) == expected


def test_a_single_player_gymnasium_env_is_a_game_for_the_agent_and_the_trainer(
    tmp_path: Path,
) -> None:
    env = gymnasium.make("FrozenLake-v1", map_name="4x4", is_slippery=False)
    game = as_game(env)
    assert game.num_players == 1 and game.num_actions == 4
    assert AlphaZeroAgent(env, TINY, seed=0).game is game  # one adapter per env object
    one_player = ["arena.sim.alternate_colors=false"]
    assert Trainer(env, run_dir=tmp_path / "run", overrides=one_player, quiet=True).game is game
    factory = Trainer(
        lambda: gymnasium.make("FrozenLake-v1"), run_dir=tmp_path / "f", overrides=one_player,
        quiet=True,
    )  # fmt: skip
    assert factory.game.num_actions == 4


def test_options_go_with_a_name_only_and_bad_ones_name_the_game_options() -> None:
    assert as_game("othello", size=6).game_id == "othello(size=6)"
    with pytest.raises(ValueError, match=r"tictactoe takes no option size \(its options: none\)"):
        as_game("tictactoe", size=4)
    with pytest.raises(ValueError, match="only used with a registry name"):
        as_game(TicTacToe(), size=3)
    with pytest.raises(ValueError, match="unknown game"):
        as_game("no_such_game")
    with pytest.raises(TypeError, match="cannot get a game"):
        as_game(42)
