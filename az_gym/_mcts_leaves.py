"""Compiled per-step work on the leaves of :mod:`az_gym.mcts`, shared by both backends.

A simulation step stores what the evaluator said about the new leaves
(:func:`store_priors`) and turns every leaf into per-player values for the backup
(:func:`leaf_values`). Done with numpy, each is a handful of array passes whose fixed cost
dominates a search of one tree (one leaf per step); here each is one compiled loop. The
arithmetic is numpy's, operation for operation (:func:`pairwise_sum` is numpy's summation
order), so the searches are those of the numpy code they replace, bit for bit
(``tests/test_golden.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _block_sum(a, lo, n):
    """numpy's sum of ``a[lo : lo + n]`` for ``n <= 128``: in order below 8 elements, else
    eight running sums combined as a tree, then the tail in order."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r = a[lo : lo + 8].copy()
    i = 8
    while i < n - (n % 8):
        for j in range(8):
            r[j] += a[lo + i + j]
        i += 8
    res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True, nogil=True)
def pairwise_sum(a, lo, n):
    """Sum of ``a[lo : lo + n]`` in numpy's order for a contiguous ``float64`` row, so that
    a compiled sum equals ``np.sum`` to the last bit: blocks of up to 128 elements
    (:func:`_block_sum`), a longer run split at ``half - half % 8`` and its halves added.
    numpy recurses; this walks the same tree with an explicit stack (numba's cache cannot
    hold a recursive function)."""
    if n <= 128:
        return _block_sum(a, lo, n)
    seg_lo, seg_n = np.empty(64, np.int64), np.empty(64, np.int64)
    stage = np.zeros(64, np.int64)  # 0: left half next, 1: right half next, 2: add them
    sums = np.empty(64)
    top, count = 0, 0
    seg_lo[0], seg_n[0] = lo, n
    while top >= 0:
        start, length = seg_lo[top], seg_n[top]
        if length <= 128:
            sums[count] = _block_sum(a, start, length)
            count += 1
            top -= 1
            continue
        half = length // 2
        half -= half % 8
        if stage[top] == 2:
            count -= 1
            sums[count - 1] = sums[count - 1] + sums[count]
            top -= 1
            continue
        stage[top] += 1
        top += 1
        if stage[top - 1] == 1:
            seg_lo[top], seg_n[top] = start, half
        else:
            seg_lo[top], seg_n[top] = start + half, length - half
        stage[top] = 0
    return sums[0]


@njit(cache=True, nogil=True)
def store_priors(rows, priors, masks, values, pool_p, pool_penalty, pool_value):
    """Write the evaluator's output for new nodes ``rows int64[n]`` into the pool (in
    place): priors zeroed off the legal actions and renormalised (uniform over the legal
    actions where no prior mass is left), penalties ``0`` / ``-inf``, values.

    Args:
        priors: ``float64[n, A]`` the evaluator's priors (after the prior temperature).
        masks: ``bool[n, A]`` legal actions.
        values: ``float64[n]`` values for each node's mover.
        pool_p, pool_penalty, pool_value: the pool's ``P``, ``penalty``, ``value``.
    """
    num_actions = priors.shape[1]
    row = np.empty(num_actions)
    for i in range(rows.shape[0]):
        r = rows[i]
        legal = 0
        for a in range(num_actions):
            row[a] = priors[i, a] * (1.0 if masks[i, a] else 0.0)
            legal += masks[i, a]
            pool_penalty[r, a] = 0.0 if masks[i, a] else -np.inf
        total = pairwise_sum(row, 0, num_actions)
        for a in range(num_actions):
            if total > 0.0:
                pool_p[r, a] = row[a] / total
            else:
                pool_p[r, a] = (1.0 if masks[i, a] else 0.0) / max(legal, 1)
        pool_value[r] = values[i]


@njit(cache=True, nogil=True)
def leaf_values(leaf_child, value, to_play, proven, gamma):
    """``float64[n, P]`` each leaf's value per player, as the backups take it.

    A proven leaf gives its exact values (a terminal leaf its returns); another gives the
    evaluator's ``value`` for its mover, spread zero-sum over the players (``-value`` for
    the others) and discounted once (``* gamma``).

    Args:
        leaf_child: ``int64[n]`` leaf node ids; ``value``, ``to_play``, ``proven``: the
            pool's arrays of the same names.
    """
    g = np.empty((leaf_child.shape[0], proven.shape[1]), np.float64)
    for i in range(leaf_child.shape[0]):
        c = leaf_child[i]
        known = not np.isnan(proven[c, 0])
        for p in range(proven.shape[1]):
            if known:
                g[i, p] = proven[c, p]
            else:
                g[i, p] = (value[c] if p == to_play[c] else -value[c]) * gamma
    return g
