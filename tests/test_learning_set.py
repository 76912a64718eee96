"""The learning set: symmetric images made per batch, the same set as AlphaZero.jl's
materialised one (augment, then merge identical positions), memory that does not grow with
the number of symmetries."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

from az_gym.envs.registry import make_game
from az_gym.networks import NetworkConfig, PolicyValueNet
from az_gym.training import learning_set
from az_gym.training.learning import Learner
from az_gym.training.memory import MemoryBuffer
from az_gym.training.params import LearningParams, SamplesWeighingPolicy

torch.set_num_threads(1)


def play(game, num_games, max_moves, seed=0):
    """A buffer of random games (random policies over the legal moves) and, per stored
    sample, its state."""
    rng = np.random.default_rng(seed)
    buf, states = MemoryBuffer(100_000), []
    for _ in range(num_games):
        s, obs, pis, masks, players = game.initial_state(), [], [], [], []
        while not game.is_terminal(s) and len(obs) < max_moves:
            m = game.legal_mask(s)
            pi = np.zeros(game.num_actions, np.float32)
            pi[m] = rng.dirichlet(np.ones(int(m.sum())))
            states.append(s)
            obs.append(game.observation(s))
            pis.append(pi)
            masks.append(m)
            players.append(game.to_play(s))
            s = game.next_state(s, int(rng.choice(np.flatnonzero(m))))
        buf.add_game(np.stack(obs), np.stack(pis), np.stack(masks), players, rng.normal(size=2))
    return buf, states


def materialised(buf, symmetries, weighing):
    """AlphaZero.jl's learning set, built as it does: every image of every stored sample,
    then the samples of byte-equal positions merged. ``{(obs, mask) bytes: (W(n), n, pi,
    z)}``."""
    data = buf.samples()
    groups: dict[tuple[bytes, bytes], list] = {}
    for i in range(len(data)):
        for g in symmetries:
            obs = np.ascontiguousarray(g.transform_observation(data.obs[i]))
            key = (obs.tobytes(), data.mask[i][g.sigma].tobytes())
            groups.setdefault(key, []).append((data.policy[i][g.sigma], data.value[i]))
    return {
        k: (
            float(weighing.weight(len(v))),
            len(v),
            np.mean([p for p, _ in v], axis=0),
            np.mean([z for _, z in v]),
        )
        for k, v in groups.items()
    }


@pytest.mark.parametrize("name", ["tictactoe", "connect_four"])
def test_the_set_is_alphazero_jls_augmented_and_merged_one(name):
    """Same distinct images, each with AlphaZero.jl's count, weight W(n), mean policy and
    mean value; openings repeat and some are symmetric to themselves (the empty board)."""
    game = make_game(name)
    buf, _ = play(game, num_games=40, max_moves=4)
    weighing = SamplesWeighingPolicy.LOG
    want = materialised(buf, game.symmetries(), weighing)
    ls = buf.training_data(True, weighing, game.symmetries())
    assert len(ls) == len(want) and ls.num_rows < len(want)
    got: dict[tuple[bytes, bytes], list] = {}
    for part in ls.all_images(rows_per_chunk=7):
        for i in range(len(part)):
            key = (part.obs[i].tobytes(), part.mask[i].tobytes())
            got.setdefault(key, []).append(
                (part.weight[i], part.count[i], part.policy[i], part.value[i])
            )
    assert got.keys() == want.keys()
    for key, images in got.items():
        w, n, pi, z = want[key]
        assert sum(im[0] for im in images) == pytest.approx(w, rel=1e-5)  # W(n) per image
        for _, count, policy, value in images:
            assert count == n
            np.testing.assert_allclose(policy, pi, atol=1e-6)
            assert value == pytest.approx(z, abs=1e-6)


@pytest.mark.parametrize("averaging", [False, True])
@pytest.mark.parametrize(("name", "options"), [("connect_four", {}), ("gomoku", {"size": 9})])
def test_batch_images_are_the_games_symmetric_positions(name, options, averaging):
    """Each drawn sample is ``game.apply_symmetry(state, g)``'s observation and mask with the
    stored policy permuted by ``sigma``, for one stored position and one symmetry ``g``."""
    game = make_game(name, **options)
    syms = game.symmetries()
    # Distinct positions (one game), so that averaging merges nothing but the policies
    # of positions that are images of each other.
    buf, states = play(game, num_games=1, max_moves=12, seed=3)
    stored = buf.samples()
    images: dict[bytes, list] = {}
    for t, s in enumerate(states):
        for g in syms:
            gs = game.apply_symmetry(s, g)
            images.setdefault(game.observation(gs).tobytes(), []).append(
                (game.legal_mask(gs), stored.policy[t][g.sigma], stored.value[t])
            )
    ls = buf.training_data(averaging, symmetries=syms)
    batch = ls.draw(np.random.default_rng(0), 256)
    for i in range(256):
        candidates = images[batch.obs[i].tobytes()]
        if averaging:  # a position symmetric to itself: its images' mean policy
            mean = np.mean([p for _, p, _ in candidates], axis=0)
            candidates = [(m, mean, v) for m, _, v in candidates]
        assert any(
            np.array_equal(batch.mask[i], m)
            and np.allclose(batch.policy[i], p, atol=1e-6)
            and batch.value[i] == pytest.approx(v)
            for m, p, v in candidates
        )
        assert not batch.policy[i][~batch.mask[i]].any()  # no mass on illegal moves
    # The symmetries are drawn: many samples are not positions that were stored.
    seen = {o.tobytes() for o in stored.obs}
    assert sum(o.tobytes() not in seen for o in batch.obs) > 256 // 4
    # Averaging: the empty board stands for its one image, not |G| copies of it.
    assert len(ls) == len(stored) * len(syms) - averaging * (len(syms) - 1)


def test_batches_are_reproducible_from_the_seed():
    game = make_game("connect_four")
    buf, _ = play(game, num_games=5, max_moves=20)
    ls = buf.training_data(True, SamplesWeighingPolicy.LOG, game.symmetries())
    a, b = (ls.draw(np.random.default_rng(7), 64) for _ in range(2))
    c = ls.draw(np.random.default_rng(8), 64)
    for k in ("obs", "policy", "value", "mask", "weight"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert not np.array_equal(a.obs, c.obs)


def test_images_of_a_class_are_drawn_uniformly():
    """The four corner openings of tic-tac-toe (two stored, one class, four images)."""
    game = make_game("tictactoe")
    s0 = game.initial_state()
    buf = MemoryBuffer(10)
    for a in (0, 8):
        s = game.next_state(s0, a)
        m = game.legal_mask(s)
        buf.add_game(game.observation(s)[None], (m / m.sum())[None], m[None], [1], [0.0, 0.0])
    ls = buf.training_data(True, SamplesWeighingPolicy.LOG, game.symmetries())
    assert (ls.num_rows, len(ls), int(ls.count[0])) == (1, 4, 4)
    batch = ls.draw(np.random.default_rng(0), 4000)
    corners = np.argmax(batch.obs[..., 1].reshape(4000, 9), axis=1)  # O's stone: the opponent
    freq = np.bincount(corners, minlength=9)[[0, 2, 6, 8]] / 4000
    np.testing.assert_allclose(freq, 0.25, atol=0.03)


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_learning_sets_memory_does_not_grow_with_the_symmetries(monkeypatch):
    """9x9 gomoku, 8 symmetries against 2 (identity and a flip: also a group): the set
    holds the same bytes per row, its building peaks at the same transient memory, and
    both stay far below one materialised image per symmetry."""
    # Chunks of 128 rows: the transient arrays of a chunk are small beside the buffer, as
    # the default's 16384 are beside a buffer of a million samples.
    monkeypatch.setattr(learning_set, "CHUNK_ROWS", 128)
    game = make_game("gomoku", size=9)
    buf, _ = play(game, num_games=30, max_moves=60)
    n = len(buf)
    eight = game.symmetries()
    two = [eight[0], next(g for g in eight if g.name == "flip_rot0")]
    weighing = SamplesWeighingPolicy.LOG
    # Outside the peaks: the buffer's chunks concatenated, numpy's first np.unique of ints.
    buf.training_data(True, weighing, two)
    ls8, peak8 = _peak_bytes(lambda: buf.training_data(True, weighing, eight))
    ls2, peak2 = _peak_bytes(lambda: buf.training_data(True, weighing, two))
    assert ls8.num_rows <= ls2.num_rows <= n  # more classes merge under more symmetries
    assert ls8.nbytes / ls8.num_rows == ls2.nbytes / ls2.num_rows
    assert ls8.nbytes / n <= buf.nbytes / n + 20  # the packed rows, weights and counts
    unpacked = 4 * (81 * 2 + 81 + 3) + 81 + 16  # one unpacked image of a sample
    assert peak8 <= 1.25 * peak2
    assert peak8 / n < unpacked  # materialised: 8 unpacked images, then merged copies
    _, draw_peak = _peak_bytes(lambda: ls8.draw(np.random.default_rng(0), 64))
    assert draw_peak < 64 * 20 * unpacked  # only the batch is unpacked


def test_learning_with_symmetries_keeps_the_epoch_and_trains():
    """The updates per checkpoint come from the augmented set's size, as when it was
    materialised, and the loss goes down."""
    game = make_game("tictactoe")
    buf, _ = play(game, num_games=40, max_moves=9)
    weighing = SamplesWeighingPolicy.LOG
    ls = buf.training_data(True, weighing, game.symmetries())
    want = len(materialised(buf, game.symmetries(), weighing))
    params = LearningParams(batch_size=16, max_batches_per_checkpoint=10_000, num_checkpoints=1)
    net = PolicyValueNet(game.observation_shape, game.num_actions, NetworkConfig(
        kind="mlp", hidden=(32,), value_hidden=8))  # fmt: skip
    report = Learner(net, params).train(ls, 0, np.random.default_rng(0))
    assert report.num_samples == want
    assert report.batches_per_checkpoint == want // 16
    assert report.losses_after.total < report.losses_before.total


def test_training_with_symmetries_is_reproducible_from_the_seed():
    game = make_game("connect_four")
    buf, _ = play(game, num_games=4, max_moves=20)
    ls = buf.training_data(True, SamplesWeighingPolicy.LOG, game.symmetries())
    params = LearningParams(batch_size=8, max_batches_per_checkpoint=4, num_checkpoints=1)
    config = NetworkConfig(kind="mlp", hidden=(16,), value_hidden=4)
    nets = []
    for seed in (0, 0, 1):
        torch.manual_seed(0)  # the same initial weights
        net = PolicyValueNet(game.observation_shape, game.num_actions, config)
        Learner(net, params).train(ls, 0, np.random.default_rng(seed))
        nets.append(net.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(nets[0].values(), nets[1].values(), strict=True))
    assert not all(
        torch.equal(a, b) for a, b in zip(nets[0].values(), nets[2].values(), strict=True)
    )
