"""Memory buffer: FIFO, resizing, position averaging, symmetry augmentation, npz files."""

from __future__ import annotations

import numpy as np
import pytest

from az_gym.envs.registry import make_game
from az_gym.training.memory import MemoryBuffer, TrainingData, position_keys
from az_gym.training.params import SamplesWeighingPolicy


def random_game(game, rng, max_moves=9, states=None):
    """Play random moves; return the arrays of one game for ``add_game`` (the positions
    are appended to ``states`` when given)."""
    s = game.initial_state()
    obs, pis, masks, players = [], [], [], []
    while not game.is_terminal(s) and len(obs) < max_moves:
        if states is not None:
            states.append(s)
        m = game.legal_mask(s)
        pi = rng.random(game.num_actions) * m
        obs.append(game.observation(s))
        pis.append(pi / pi.sum())
        masks.append(m)
        players.append(game.to_play(s))
        s = game.next_state(s, int(rng.choice(np.flatnonzero(m))))
    return np.stack(obs), np.stack(pis), np.stack(masks), players, game.returns(s)


def numbered(n, start=0, a=3):
    """``n`` distinct samples whose value is their number (to follow FIFO order)."""
    v = np.arange(start, start + n, dtype=np.float32)
    obs = np.broadcast_to(v[:, None], (n, 4)).copy()
    return TrainingData.from_arrays(obs, np.full((n, a), 1 / a), v, np.ones((n, a), bool))


def test_fifo_and_resize():
    buf = MemoryBuffer(10)
    buf.add(numbered(6), num_games=1)
    buf.add(numbered(6, start=6), num_games=1)
    assert len(buf) == 10 and buf.num_games == 2 and buf.num_samples_seen == 12
    assert buf.samples().value.tolist() == list(range(2, 12))  # the 2 oldest dropped
    buf.resize(4)
    assert buf.samples().value.tolist() == [8, 9, 10, 11]
    buf.resize(20)
    buf.add(numbered(3, start=12))
    assert buf.samples().value.tolist() == [8, 9, 10, 11, 12, 13, 14]
    with pytest.raises(ValueError, match="capacity=0 must be an integer >= 1"):
        buf.resize(0)
    with pytest.raises(ValueError, match="do not match"):
        buf.add(TrainingData.from_arrays(np.zeros((1, 5)), np.ones((1, 3)), [0], np.ones((1, 3))))


def test_add_game_targets_are_for_the_mover():
    game = make_game("tictactoe")
    s = game.initial_state()
    moves = [4, 0, 8, 2, 1, 6, 7]  # X: 4 8 1 7 (column b wins), O: 0 2 6
    obs, pis, masks, players = [], [], [], []
    for a in moves:
        if game.is_terminal(s):
            break
        obs.append(game.observation(s))
        masks.append(game.legal_mask(s))
        pis.append(masks[-1] / masks[-1].sum())
        players.append(game.to_play(s))
        s = game.next_state(s, a)
    ret = game.returns(s)
    assert ret.tolist() == [1.0, -1.0]
    buf = MemoryBuffer(100)
    buf.add_game(np.stack(obs), np.stack(pis), np.stack(masks), players, ret)
    d = buf.samples()
    assert d.value.tolist() == [ret[p] for p in players]
    assert d.moves_left.tolist() == list(range(len(players), 0, -1))
    assert buf.num_games == 1


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (SamplesWeighingPolicy.CONSTANT, [1.0, 1.0]),
        (SamplesWeighingPolicy.LOG, [1.0, np.log2(3) + 1]),
        (SamplesWeighingPolicy.LINEAR, [1.0, 3.0]),
    ],
)
def test_position_averaging(policy, expected):
    a = 3
    obs = np.array([[1, 0], [0, 1], [0, 1], [0, 1]], np.float32)
    pi = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    z = np.array([1, 1, -1, 0], np.float32)
    data = TrainingData.from_arrays(obs, pi, z, np.ones((4, a), bool), [5, 4, 2, 3])
    buf = MemoryBuffer(10)
    buf.add(data)
    out = buf.training_data(True, policy)
    order = np.argsort(out.count)
    out = out.take(order)
    assert out.count.tolist() == [1, 3]
    np.testing.assert_allclose(out.weight, expected, rtol=1e-6)
    np.testing.assert_allclose(out.rows.policy[1], [1 / 3, 1 / 3, 1 / 3], rtol=1e-6)
    np.testing.assert_allclose(out.rows.value, [1.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(out.moves_left, [5.0, 3.0])
    np.testing.assert_array_equal(out.batch(np.arange(2)).obs, [[1, 0], [0, 1]])
    plain = buf.training_data(False, policy)
    assert len(plain) == 4 and plain.weight.tolist() == [1, 1, 1, 1]


def test_same_observation_different_mask_is_another_position():
    obs = np.zeros((2, 2), np.float32)
    mask = np.array([[True, True], [True, False]])
    keys = position_keys(obs, mask)
    assert keys[0] != keys[1]
    assert position_keys(-0.0 * np.ones((1, 2)), mask[:1])[0] == position_keys(obs[:1], mask[:1])[0]


@pytest.mark.parametrize("name", ["tictactoe", "connect_four"])
def test_symmetry_augmentation_is_consistent(name):
    game = make_game(name)
    rng = np.random.default_rng(0)
    states = []
    obs, pis, masks, players, ret = random_game(game, rng, max_moves=5, states=states)
    buf = MemoryBuffer(100)
    buf.add_game(obs, pis, masks, players, ret)
    syms = game.symmetries()
    learning_set = buf.training_data(False, symmetries=syms)
    n = len(obs)
    assert len(learning_set) == n * len(syms)  # the identity is not duplicated
    rows = np.tile(np.arange(n), len(syms))  # every stored sample under every symmetry
    aug = learning_set.batch(rows, np.repeat(np.arange(len(syms)), n))
    for t, s in enumerate(states):
        for k, g in enumerate(syms):
            row = k * n + t
            gs = game.apply_symmetry(s, g)
            np.testing.assert_array_equal(aug.mask[row], game.legal_mask(gs))
            np.testing.assert_array_equal(aug.mask[row], masks[t][g.sigma])
            np.testing.assert_array_equal(aug.obs[row], game.observation(gs))
            np.testing.assert_allclose(aug.policy[row], pis[t][g.sigma])
            assert aug.value[row] == aug.value[t]
            assert not np.any(aug.policy[row][~aug.mask[row]])  # no mass on illegal moves


def test_augment_then_average_merges_symmetric_openings():
    game = make_game("tictactoe")
    s0 = game.initial_state()
    corner, other_corner = game.next_state(s0, 0), game.next_state(s0, 8)
    obs = np.stack([game.observation(corner), game.observation(other_corner)])
    masks = np.stack([game.legal_mask(corner), game.legal_mask(other_corner)])
    pi = masks / masks.sum(1, keepdims=True)
    data = TrainingData.from_arrays(obs, pi, [0.0, 1.0], masks)
    buf = MemoryBuffer(100)
    buf.add(data)
    out = buf.training_data(True, SamplesWeighingPolicy.LINEAR, game.symmetries())
    assert len(out) == 4  # the four corner openings, each seen 4 times in the 16 images
    assert out.num_rows == 1 and out.images.tolist() == [4]  # one class, made per batch
    assert out.count.tolist() == [4]
    np.testing.assert_allclose(out.rows.value, 0.5)


def test_game_stages_partition_by_moves_left():
    buf = MemoryBuffer(100)
    d = numbered(10)
    buf.add(TrainingData.from_arrays(d.obs, d.policy, d.value, d.mask, np.arange(10)[::-1] % 7))
    stages = buf.game_stages(3)
    assert [len(s) for s in stages] == [4, 3, 3]
    assert sum(len(s) for s in stages) == 10
    lo = [s.moves_left.min() for s in stages]
    hi = [s.moves_left.max() for s in stages]
    assert lo[0] >= hi[1] and lo[1] >= hi[2]  # opening first


def test_npz_round_trip(tmp_path):
    game = make_game("connect_four")
    rng = np.random.default_rng(1)
    buf = MemoryBuffer(50)
    for _ in range(4):
        buf.add_game(*random_game(game, rng, max_moves=20))
    path = tmp_path / "memory.npz"
    buf.save(path)
    back = MemoryBuffer.load(path)
    assert (back.capacity, back.num_games, back.num_samples_seen) == (50, 4, buf.num_samples_seen)
    a, b = buf.samples(), back.samples()
    for f in ("obs", "policy", "value", "mask", "moves_left", "key"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert not [p for p in tmp_path.iterdir() if p.name != "memory.npz"]
    empty = tmp_path / "empty.npz"
    MemoryBuffer(3).save(empty)
    assert len(MemoryBuffer.load(empty)) == 0
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"bad\.npz"):
        MemoryBuffer.load(bad)


def test_add_resizes_before_adding():
    buf = MemoryBuffer(3)
    z, mask = np.arange(5, dtype=np.float32), np.ones((5, 4), bool)
    data = TrainingData.from_arrays(np.zeros((5, 2), np.float32), mask / 4, z, mask)
    buf.add(data.take(slice(0, 3)))
    buf.add(data.take(slice(3, 5)), capacity=10)  # grown first: nothing is dropped
    assert len(buf) == 5 and buf.capacity == 10
    buf.add(data.take(slice(0, 1)), capacity=2)  # shrunk first, then the newest kept
    assert buf.samples().value.tolist() == [4.0, 0.0]


def test_training_applies_the_size_schedule_before_adding(tmp_path):
    """Iteration 2's capacity grows from 20 to 1000 samples: its self-play samples must all
    be kept (they used to be trimmed to the old capacity first, one iteration late)."""
    from az_gym.mcts import MctsParams
    from az_gym.networks import NetworkConfig
    from az_gym.schedules import PLSchedule
    from az_gym.training.params import LearningParams, Params, SelfPlayParams, SimParams
    from az_gym.training.report import load_reports
    from az_gym.training.trainer import Trainer

    sim = SimParams(num_games=4, num_workers=4, batch_size=4, num_processes=1)
    params = Params(
        self_play=SelfPlayParams(mcts=MctsParams(num_iters_per_turn=2), sim=sim),
        learning=LearningParams(batch_size=8, max_batches_per_checkpoint=1),
        arena=None,
        num_iters=2,
        mem_buffer_size=PLSchedule((1, 2), (20, 1000)),
        network=NetworkConfig(kind="mlp", hidden=(8,), value_hidden=4),
    )
    Trainer("tictactoe", params, tmp_path, quiet=True).train()
    first, second = load_reports(tmp_path)
    assert first["memory"]["size"] == 20  # 4 games of tic-tac-toe: > 20 samples
    assert second["memory"]["capacity"] == 1000
    assert second["memory"]["size"] == 20 + second["self_play"]["num_samples"]
