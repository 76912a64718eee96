"""The compiled leaf kernels of the search (:mod:`az_gym._mcts_leaves`) against the numpy
code they stand for: bit for bit, since the golden visit counts depend on the last bit."""

from __future__ import annotations

import numpy as np
import pytest

from az_gym._mcts_leaves import leaf_values, pairwise_sum, store_priors


@pytest.mark.parametrize("n", [1, 7, 8, 9, 81, 128, 129, 225, 361, 1000, 4097])
def test_pairwise_sum_is_numpys_sum(n: int) -> None:
    rng = np.random.default_rng(n)
    for _ in range(20):
        x = rng.random(n) ** rng.integers(1, 30) * (rng.random(n) < 0.7)
        x = x.astype(np.float32).astype(np.float64)  # network priors are float32
        assert pairwise_sum(x, 0, n) == x[None, :].sum(1, keepdims=True)[0, 0]


def test_store_priors_masks_renormalises_and_falls_back_to_uniform() -> None:
    rng = np.random.default_rng(0)
    a = 81
    priors = rng.random((4, a)).astype(np.float32).astype(np.float64)
    masks = rng.random((4, a)) < 0.6
    priors[2] = 0.0  # no mass left: uniform over the legal moves
    priors[3] = np.where(masks[3], 0.0, priors[3])  # mass only on illegal moves: uniform
    values = np.array([0.5, -0.25, 0.0, 1.0])
    rows = np.array([5, 1, 3, 0])
    p, pen, v = np.zeros((6, a)), np.zeros((6, a)), np.zeros(6)
    store_priors(rows, priors, masks, values, p, pen, v)
    ref = priors * masks
    total = ref.sum(1, keepdims=True)
    uniform = masks / np.maximum(masks.sum(1, keepdims=True), 1)
    ref = np.where(total > 0, ref / np.where(total > 0, total, 1.0), uniform)
    assert np.array_equal(p[rows], ref)
    assert np.array_equal(pen[rows], np.where(masks, 0.0, -np.inf))
    assert np.array_equal(v[rows], values)


def test_leaf_values_spread_zero_sum_or_take_the_returns() -> None:
    value = np.array([0.5, -0.2, 0.0])
    to_play = np.array([1, 0, 0])
    proven = np.array([[np.nan, np.nan], [np.nan, np.nan], [-1.0, 1.0]])  # node 2 terminal
    g = leaf_values(np.array([0, 1, 2, 0]), value, to_play, proven, 0.9)
    assert g.tolist() == [[-0.5 * 0.9, 0.5 * 0.9], [-0.2 * 0.9, 0.2 * 0.9], [-1.0, 1.0],
                          [-0.5 * 0.9, 0.5 * 0.9]]  # fmt: skip
