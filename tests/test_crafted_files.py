"""Crafted files (issue 17's security review, items 4-7, 12, 15, 16) are refused with one
message naming the file, before anything large is allocated: AlphaZero checkpoints with
zero-stride weights or wrong field types, DQN checkpoints that describe huge networks or
are not CRC-checked zip archives, memory buffers that hold strings, use zip features that
``zipfile`` cannot read, or decompress to more than the buffer holds; and a run directory's
agent is its committed network, whatever happened to the top-level copies."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from run_dir_helpers import assert_one_line_error, az_gym, fingerprint
from test_trainer import tiny_params

from az_gym.agent_specs import make_agent
from az_gym.agents import AlphaZeroAgent, DQNAgent
from az_gym.agents.dqn import DQNConfig
from az_gym.checkpoint_format import CheckpointError, safe_torch_load
from az_gym.envs.registry import make_game
from az_gym.mcts_params import MAX_SIMULATIONS, MctsParams
from az_gym.memory_budget import check_fits
from az_gym.networks import NetworkConfig, PolicyValueNet
from az_gym.training.memory import MemoryBuffer, TrainingData
from az_gym.training.trainer import Trainer

torch.set_num_threads(1)
TINY = NetworkConfig(kind="mlp", hidden=(8,), value_hidden=4)


@pytest.fixture(scope="module")
def agent_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("az") / "agent.pt"
    AlphaZeroAgent("tictactoe", TINY, seed=0).save(path)
    return path


def _crafted(agent_file: Path, tmp_path: Path, change: Any) -> Path:
    ckpt = safe_torch_load(agent_file)
    change(ckpt)
    out = tmp_path / "crafted.pt"
    torch.save(ckpt, out)
    return out


def _zero_stride(ckpt: dict[str, Any]) -> None:
    """The review's 7 KB file: a 20000x20000 network whose weights are one number each."""
    big = NetworkConfig(kind="mlp", hidden=(20000, 20000), value_hidden=4)
    with torch.device("meta"):
        probe = PolicyValueNet((3, 3, 2), 9, big)
    ckpt["network_config"] = big.to_dict()
    ckpt["weights"] = {
        k: torch.zeros((), dtype=v.dtype).expand(v.shape) for k, v in probe.state_dict().items()
    }


def test_zero_stride_weights_are_refused_before_the_network_is_built(agent_file, tmp_path):
    path = _crafted(agent_file, tmp_path, _zero_stride)
    assert path.stat().st_size < 50_000
    with pytest.raises(CheckpointError, match=r"crafted.pt.*backed by \d+ bytes, not"):
        AlphaZeroAgent.load(path)


def test_a_network_larger_than_the_available_memory_is_refused():
    with pytest.raises(ValueError, match=r"its network needs about .* GiB but only"):
        check_fits(1 << 62, "its network")


def _set_mcts(**fields: Any) -> Any:
    return lambda ck: ck.__setitem__("mcts", {**ck["mcts"], **fields})


CRAFTED = {
    "observation_shape=5": (lambda ck: ck.__setitem__("observation_shape", 5), "observation_shape"),
    "weights=[1,2]": (lambda ck: ck.__setitem__("weights", [1, 2]), "weights"),
    "num_actions='9'": (lambda ck: ck.__setitem__("num_actions", "9"), "num_actions = '9'"),
    "temperature=xs:5": (_set_mcts(temperature={"xs": 5, "ys": 1}), "bad mcts: not a schedule"),
    "temperature=None": (_set_mcts(temperature=None), "bad mcts: not a schedule"),
    "sims=1e12": (_set_mcts(num_iters_per_turn=10**12), "num_iters_per_turn"),
    "game_id=5": (lambda ck: ck.__setitem__("game_id", 5), "game_id"),
}


@pytest.mark.parametrize("kind", CRAFTED)
def test_crafted_checkpoint_fields_are_one_error_naming_the_file(agent_file, tmp_path, kind):
    change, needle = CRAFTED[kind]
    path = _crafted(agent_file, tmp_path, change)
    with pytest.raises(CheckpointError) as err:
        AlphaZeroAgent.load(path)
    assert str(path) in str(err.value) and needle in str(err.value), err.value


def test_simulations_are_bounded():
    """A crafted ``num_iters_per_turn = 10**12`` would search forever: refused at once."""
    with pytest.raises(ValueError, match=f"integer in \\[1, {MAX_SIMULATIONS}\\]"):
        MctsParams(num_iters_per_turn=MAX_SIMULATIONS + 1)
    agent = AlphaZeroAgent("tictactoe", TINY, seed=0)
    with pytest.raises(ValueError, match="num_iters_per_turn"):
        agent.with_simulations(10**12)
    assert agent.with_simulations(MAX_SIMULATIONS).params.num_iters_per_turn == MAX_SIMULATIONS


@pytest.mark.parametrize("kind", ["stride", "temperature=None"])
def test_the_cli_names_the_crafted_file_in_one_line(agent_file, tmp_path, kind):
    change = _zero_stride if kind == "stride" else CRAFTED[kind][0]
    path = _crafted(agent_file, tmp_path, change)
    proc = az_gym("evaluate", "tictactoe", path, "random", "--games", "2", "--quiet", cwd=tmp_path)
    line = assert_one_line_error(proc, str(path))
    assert "internal error" not in line


# ---------------------------------------------------------------------- DQN


@pytest.fixture(scope="module")
def dqn_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dqn") / "dqn.pt"
    DQNAgent(make_game("tictactoe"), DQNConfig(hidden_sizes=(8,))).save(path)
    return path


def test_a_dqn_file_with_a_flipped_byte_is_refused(dqn_file, tmp_path):
    data = bytearray(dqn_file.read_bytes())
    at = data.index(b"data/0") + 200  # inside the first tensor's bytes
    data[at] ^= 0x01
    (tmp_path / "flip.pt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"flip[.]pt is corrupt: bad CRC-32"):
        DQNAgent.load(tmp_path / "flip.pt")


def test_a_legacy_non_zip_dqn_file_is_refused(dqn_file, tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save(safe_torch_load(dqn_file), path, _use_new_zipfile_serialization=False)
    with pytest.raises(
        CheckpointError, match=r"legacy[.]pt is not a readable torch[.]save archive"
    ):
        DQNAgent.load(path)


@pytest.mark.parametrize(
    "change",
    [
        {"config": {"hidden_sizes": [60000, 60000]}},  # 3.6e9 weights, none in the file
        {"obs_shape": [100000, 100000, 10]},  # a 93 GiB observation space
        {"obs_shape": 5},
        {"num_actions": "9"},
        {"q_net": [1, 2]},
    ],
    ids=["hidden", "obs_shape", "shape_int", "num_actions", "q_net"],
)
def test_a_dqn_file_describing_another_network_is_refused_before_building(
    dqn_file, tmp_path, change
):
    path = tmp_path / "crafted.pt"
    torch.save({**safe_torch_load(dqn_file), **change}, path)
    with pytest.raises(ValueError, match=r"crafted[.]pt is a damaged DQN checkpoint"):
        DQNAgent.load(path)


# ---------------------------------------------------------------------- memory.npz


def _memory_file(tmp_path: Path, capacity: int = 100, n: int = 20) -> Path:
    rng = np.random.default_rng(0)
    buf = MemoryBuffer(capacity)
    policy = rng.dirichlet(np.ones(9), n).astype(np.float32)
    obs = rng.random((n, 3, 3, 2), dtype=np.float32)
    buf.add(TrainingData.from_arrays(obs, policy, np.zeros(n), np.ones((n, 9), bool)))
    buf.save(tmp_path / "memory.npz")
    return tmp_path / "memory.npz"


def _patch_central_headers(path: Path, offset: int, patch: Any) -> None:
    """Change every central directory record of a zip file (the review's craft.py)."""
    data = bytearray(path.read_bytes())
    i = data.find(b"PK\x01\x02")
    while i >= 0:
        patch(data, i + offset)
        i = data.find(b"PK\x01\x02", i + 4)
    path.write_bytes(bytes(data))


def _strings(path: Path) -> None:
    arrays = dict(np.load(path))
    arrays["obs"] = np.full(arrays["obs"].shape, "a", dtype="<U1")
    np.savez(path, **arrays)


def _encrypted(path: Path) -> None:  # general purpose flag bit 0: zipfile -> RuntimeError
    _patch_central_headers(path, 8, lambda d, at: d.__setitem__(at, d[at] | 1))


def _deflate64(path: Path) -> None:  # method 9: zipfile -> NotImplementedError
    _patch_central_headers(
        path, 10, lambda d, at: d.__setitem__(slice(at, at + 2), (9).to_bytes(2, "little"))
    )


def _bomb(path: Path) -> None:  # savez_compressed: 1000x more rows than the capacity of 100
    arrays = dict(np.load(path))
    n = 100_000
    arrays.update(obs=np.zeros((n, 3, 3, 2), np.float32), policy=np.zeros((n, 9), np.float32),
                  value=np.zeros(n, np.float32), mask=np.ones((n, 9), bool),
                  moves_left=np.zeros(n, np.float32), key=np.zeros(n, np.uint64))  # fmt: skip
    np.savez_compressed(path, **arrays)


@pytest.mark.parametrize(
    "craft, reason",
    [
        (_strings, "obs.npy holds <U1 values, not numbers"),
        (_encrypted, "encrypted"),
        (_deflate64, "compression method is not supported"),
        (_bomb, "obs holds 100000 samples, more than the buffer's capacity 100"),
    ],
    ids=["strings", "encrypted", "deflate64", "zip_bomb"],
)
def test_a_crafted_memory_file_is_the_value_error_the_fallback_catches(tmp_path, craft, reason):
    path = _memory_file(tmp_path)
    assert len(MemoryBuffer.load(path)) == 20
    craft(path)
    with pytest.raises(ValueError, match=f"memory file {path} is unreadable: .*{reason}"):
        MemoryBuffer.load(path)


@pytest.fixture(scope="module")
def run2(tmp_path_factory) -> Path:
    """A committed tic-tac-toe run at iteration 2 (copy it before changing it)."""
    run = tmp_path_factory.mktemp("run") / "run"
    Trainer("tictactoe", tiny_params(num_iters=2), run, quiet=True).train()
    return run


def test_a_resume_with_a_crafted_memory_file_falls_back(run2, tmp_path):
    run = Path(shutil.copytree(run2, tmp_path / "run"))
    memory = run / "iter-000002" / "memory.npz"
    memory.unlink()  # break the hard link to the fixture's copy
    shutil.copy(run2 / "iter-000002" / "memory.npz", memory)
    _deflate64(memory)
    trainer = Trainer.from_run_dir(run, quiet=True, overrides=["num_iters=3"])
    pattern = "iter-000002/memory[.]npz is corrupt.*not supported.*iter-000001/memory[.]npz"
    with pytest.warns(RuntimeWarning, match=pattern):
        assert [r.iteration for r in trainer.resume()] == [3]


def test_the_cli_names_a_crafted_dqn_file_in_one_line(dqn_file, tmp_path):
    path = tmp_path / "crafted.pt"
    torch.save({**safe_torch_load(dqn_file), "config": {"hidden_sizes": [60000, 60000]}}, path)
    proc = az_gym("evaluate", "tictactoe", f"dqn:{path}", "random", "--games", "2", cwd=tmp_path)
    assert "internal error" not in assert_one_line_error(proc, str(path))


# ---------------------------------------------------------------------- RUN_DIR specs


def test_a_run_dir_agent_is_the_committed_network_with_its_fallback(run2, tmp_path):
    run = Path(shutil.copytree(run2, tmp_path / "run"))
    game = make_game("tictactoe")
    (run / "best.pt").unlink()  # the top-level copies are not what is read
    (run / "current.pt").write_bytes(b"")
    before = fingerprint(run)
    agent = make_agent(str(run), game)
    want = safe_torch_load(run / "iter-000002" / "best.pt")["weights"]
    assert all(torch.equal(v, want[k]) for k, v in agent.network.state_dict().items())
    (run / "iter-000002" / "best.pt").write_bytes(b"truncated")
    with pytest.warns(RuntimeWarning, match="iter-000002/best.pt is corrupt.*iter-000001"):
        assert make_agent(f"{run}:3", game).params.num_iters_per_turn == 3
    before.pop("iter-000002/best.pt")
    after = fingerprint(run)
    after.pop("iter-000002/best.pt")
    assert after == before  # reads never write
