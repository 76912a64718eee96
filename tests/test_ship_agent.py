"""scripts/ship_agent.py: a shipped agent file made by a command from a run's network."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from az_gym.agents.alphazero import AlphaZeroAgent
from az_gym.envs.tictactoe import TicTacToe
from az_gym.mcts import MctsParams
from az_gym.networks import NetworkConfig

torch.set_num_threads(1)

_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ship_agent.py"
_spec = importlib.util.spec_from_file_location("ship_agent", _SCRIPT)
ship_agent = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ship_agent)


@pytest.fixture
def run_network(tmp_path: Path) -> Path:
    """A run directory holding the best network of its iteration 3, as the trainer keeps."""
    agent = AlphaZeroAgent(
        TicTacToe(), NetworkConfig(kind="mlp", hidden=(16,), value_hidden=8),
        MctsParams(num_iters_per_turn=20, root_policy="gumbel", cpuct=1.7), seed=0,
    )  # fmt: skip
    (tmp_path / "run" / "networks").mkdir(parents=True)
    agent.save(tmp_path / "run" / "networks" / "best-000003.pt")
    return tmp_path / "run"


def test_replaces_the_play_settings_and_keeps_weights_and_the_rest(
    run_network: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "shipped.pt"
    rc = ship_agent.main(
        [f"{run_network}@3", str(out), "--simulations", "400", "--root-policy", "puct",
         "--solver", "--symmetry-averaging"]
    )  # fmt: skip
    assert rc == 0
    assert (
        "num_iters_per_turn=400, root_policy=puct, solver=True, symmetry_averaging=True"
        in capsys.readouterr().out
    )
    src = AlphaZeroAgent.load(run_network / "networks" / "best-000003.pt")
    new = AlphaZeroAgent.load(out)
    assert (new.params.num_iters_per_turn, new.params.root_policy, new.params.solver) == (
        400, "puct", True,
    )  # fmt: skip
    assert new.params.symmetry_averaging and not src.params.symmetry_averaging
    assert new.params.cpuct == 1.7 == src.params.cpuct
    for a, b in zip(src.network.state_dict().values(), new.network.state_dict().values()):
        assert torch.equal(a, b)


def test_without_options_the_copy_plays_as_the_run_did(run_network: Path, tmp_path: Path) -> None:
    src = run_network / "networks" / "best-000003.pt"
    assert ship_agent.main([str(src), str(tmp_path / "same.pt")]) == 0
    assert AlphaZeroAgent.load(tmp_path / "same.pt").params == AlphaZeroAgent.load(src).params


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{run}@x"], "must be a number"),
        (["{run}@7"], "no checkpoint file"),
        (["{run}@3", "--simulations", "0"], "num_iters_per_turn"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    run_network: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args, message
) -> None:
    out = tmp_path / "never.pt"
    argv = [args[0].format(run=run_network), str(out), *args[1:]]
    assert ship_agent.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ship_agent.py: error: ") and message in err and "\n" not in err
    assert not out.exists()
