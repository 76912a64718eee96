"""The buffer's packed storage (az_gym/training/packed.py): compact, exact, and its file
refuses crafted layouts; files of the earlier unpacked layout still load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_memory import random_game

from az_gym.envs.registry import make_game
from az_gym.training.memory import MemoryBuffer, TrainingData, position_keys


def _connect_four_buffer(games: int = 6, capacity: int = 1000) -> MemoryBuffer:
    game = make_game("connect_four")
    rng = np.random.default_rng(0)
    buf = MemoryBuffer(capacity)
    for _ in range(games):
        buf.add_game(*random_game(game, rng, max_moves=42))
    return buf


def _assert_same(a: TrainingData, b: TrainingData) -> None:
    for f in ("obs", "policy", "value", "mask", "moves_left", "key", "weight", "count"):
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and x.shape == y.shape, f
        np.testing.assert_array_equal(x, y, err_msg=f)


def test_a_connect_four_sample_takes_at_most_100_bytes():
    buf = _connect_four_buffer()
    assert buf.nbytes / len(buf) <= 100  # 56 bytes: 11 of board bits, 1 of mask bits
    data = buf.samples()  # unpacked on demand, as the network needs it
    assert data.obs.dtype == np.float32 and data.obs.shape[1:] == (6, 7, 2)
    syms = make_game("connect_four").symmetries()
    n, nbytes = len(buf), buf.nbytes
    assert len(buf.training_data(False, symmetries=syms)) == 2 * n
    assert (len(buf), buf.nbytes) == (n, nbytes)  # symmetric images are never stored


@pytest.mark.parametrize("kind", ["bits", "int8", "float32"])
def test_every_observation_format_round_trips_exactly(kind, tmp_path: Path):
    rng = np.random.default_rng(1)
    n, a = 30, 11
    obs = {
        "bits": (rng.random((n, 5, 3)) < 0.5),
        "int8": rng.integers(-128, 128, (n, 5, 3)),
        "float32": rng.standard_normal((n, 5, 3)),
    }[kind].astype(np.float32)
    mask = rng.random((n, a)) < 0.5
    policy = rng.dirichlet(np.ones(a), n).astype(np.float32) * mask
    data = TrainingData.from_arrays(obs, policy, rng.standard_normal(n), mask, rng.random(n))
    buf = MemoryBuffer(100)
    buf.add(data, num_games=2)
    assert buf._chunks[0].obs_format == kind
    _assert_same(buf.samples(), data)
    buf.save(tmp_path / "memory.npz")
    back = MemoryBuffer.load(tmp_path / "memory.npz")
    _assert_same(back.samples(), data)
    assert (back.num_games, back.num_samples_seen) == (2, n)


def test_chunks_of_different_formats_merge_into_the_widest():
    rng = np.random.default_rng(2)
    parts = [
        TrainingData.from_arrays(o, np.full((4, 3), 1 / 3), np.zeros(4), np.ones((4, 3), bool))
        for o in (np.ones((4, 2), np.float32), np.full((4, 2), 3.0), rng.random((4, 2)))
    ]
    buf = MemoryBuffer(100)
    for p in parts:
        buf.add(p)
    _assert_same(buf.samples(), TrainingData.concat(parts))
    assert buf._chunks[0].obs_format == "float32"
    buf.resize(5)  # FIFO across the merged chunk
    _assert_same(buf.samples(), TrainingData.concat(parts).take(slice(7, None)))


def test_a_file_of_the_unpacked_layout_still_loads(tmp_path: Path):
    buf = _connect_four_buffer(games=2)
    data = buf.samples()
    path = tmp_path / "memory.npz"
    # what MemoryBuffer.save wrote before the packed layout: float32 planes, bool masks
    np.savez(path, capacity=np.int64(1000), num_games=np.int64(2),
             num_samples_seen=np.int64(len(data)), obs=data.obs, policy=data.policy,
             value=data.value, mask=data.mask, moves_left=data.moves_left,
             key=data.key)  # fmt: skip
    _assert_same(MemoryBuffer.load(path).samples(), data)


def _craft(path: Path, **changes: np.ndarray) -> None:
    arrays = dict(np.load(path))
    arrays.update(changes)
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"obs_format": np.int64(7)}, "obs_format is not one of the codes"),
        ({"obs_shape": np.array([1 << 40], np.int64)}, "GiB unpacked, more than the memory"),
        ({"obs_shape": np.array([6, 7, 3], np.int64)}, r"obs has shape \(\d+, 11\)"),
        ({"obs_shape": np.array([[6, 7, 2]], np.int64)}, "obs_shape is not a shape"),
        ({"num_actions": np.int64(0)}, "num_actions is not positive"),
        ({"mask": np.zeros((5, 1), np.uint8)}, r"mask has shape \(5, 1\)"),
        ({"obs_format": np.int64(1)}, "obs has shape"),  # bits read as int8 planes
        ({"value": np.float32(0)}, r"value has shape \(\)"),
    ],
    ids=["format", "huge_shape", "shape", "shape_ndim", "actions", "mask", "int8", "value"],
)
def test_a_crafted_packed_file_is_a_value_error(tmp_path: Path, changes, reason):
    path = tmp_path / "memory.npz"
    _connect_four_buffer(games=2).save(path)
    _craft(path, **changes)
    with pytest.raises(ValueError, match=f"memory file {path}: .*{reason}"):
        MemoryBuffer.load(path)


def test_non_finite_targets_and_forged_keys_in_a_packed_file(tmp_path: Path):
    path = tmp_path / "memory.npz"
    buf = _connect_four_buffer(games=2)
    buf.save(path)
    n = len(buf)
    _craft(path, key=np.zeros(n, np.uint64))  # forged keys would merge distinct positions
    back = MemoryBuffer.load(path).samples()
    np.testing.assert_array_equal(back.key, position_keys(back.obs, back.mask))
    policy = np.array(np.load(path)["policy"])
    policy[0, 0] = np.nan
    _craft(path, policy=policy)
    with pytest.raises(ValueError, match="non-finite"):
        MemoryBuffer.load(path)
