"""Compiled hot loops of :mod:`az_gym.mcts` (numba when installed; numpy only otherwise).

Both functions walk every tree of a :class:`az_gym.mcts.BatchedMcts` node pool with plain
loops, the same arithmetic in the same order as the vectorised numpy path, so the two
backends give identical searches. :data:`AVAILABLE` says whether numba compiled them; the
search falls back to its numpy path when it is False.
"""

from __future__ import annotations

import numpy as np

try:  # numba is optional: a speed-up, never a requirement
    from numba import njit

    AVAILABLE = True
except ImportError:  # pragma: no cover - exercised only without numba
    AVAILABLE = False

    def njit(*args, **kwargs):  # type: ignore[no-redef]
        """Stand-in decorator: leaves the function as plain Python."""
        return lambda f: f


@njit(cache=True, nogil=True)
def descend(
    roots: np.ndarray,
    root_priors: np.ndarray,
    n_visits: np.ndarray,
    w_sums: np.ndarray,
    priors: np.ndarray,
    penalty: np.ndarray,
    children: np.ndarray,
    terminal: np.ndarray,
    cpuct: float,
    max_depth: int,
):
    """PUCT descent of every tree from its root to a leaf.

    Args:
        roots: ``int64[B]`` root node ids.
        root_priors: ``float64[B, A]`` priors used at the roots (possibly noisy).
        n_visits, w_sums, priors, penalty: ``float64[nodes, A]`` pool arrays (``penalty``
            is 0 on legal actions, ``-inf`` on illegal ones).
        children: ``int32[nodes, A]`` child ids, ``-1`` unexpanded.
        terminal: ``bool[nodes]``.
        cpuct: c_puct.
        max_depth: capacity of the path arrays.

    Returns:
        ``(path_nodes int64[B, max_depth], path_actions int64[B, max_depth],
        path_len int64[B], leaf_parent int64[B], leaf_action int64[B], leaf_child int64[B],
        overflow bool)``; ``leaf_child`` is ``-1`` where the leaf must be created; when
        ``overflow`` the paths did not fit and the call must be repeated with a larger
        ``max_depth``.
    """
    b_count = roots.shape[0]
    num_actions = n_visits.shape[1]
    path_nodes = np.empty((b_count, max_depth), np.int64)
    path_actions = np.empty((b_count, max_depth), np.int64)
    path_len = np.zeros(b_count, np.int64)
    leaf_parent = np.empty(b_count, np.int64)
    leaf_action = np.empty(b_count, np.int64)
    leaf_child = np.empty(b_count, np.int64)
    for b in range(b_count):
        node = roots[b]
        d = 0
        while True:
            if d >= max_depth:
                return (
                    path_nodes,
                    path_actions,
                    path_len,
                    leaf_parent,
                    leaf_action,
                    leaf_child,
                    True,
                )
            total = 0.0
            for a in range(num_actions):
                total += n_visits[node, a]
            sqrt_total = np.sqrt(max(total, 1.0))
            best = 0
            best_score = -np.inf
            for a in range(num_actions):
                p = root_priors[b, a] if d == 0 else priors[node, a]
                n = n_visits[node, a]
                q = w_sums[node, a] / max(n, 1.0)
                score = q + (cpuct * sqrt_total) * p / (1.0 + n) + penalty[node, a]
                if score > best_score:
                    best_score = score
                    best = a
            path_nodes[b, d] = node
            path_actions[b, d] = best
            d += 1
            child = children[node, best]
            if child < 0 or terminal[child]:
                leaf_parent[b] = node
                leaf_action[b] = best
                leaf_child[b] = child
                path_len[b] = d
                break
            node = child
    return path_nodes, path_actions, path_len, leaf_parent, leaf_action, leaf_child, False


@njit(cache=True, nogil=True)
def backup(
    path_nodes: np.ndarray,
    path_actions: np.ndarray,
    path_len: np.ndarray,
    g: np.ndarray,
    to_play: np.ndarray,
    n_visits: np.ndarray,
    w_sums: np.ndarray,
    gamma: float,
) -> None:
    """Add one visit and the leaf value to every edge of every path (in place).

    Args:
        path_nodes, path_actions, path_len: from :func:`descend`.
        g: ``float64[B, num_players]`` leaf value per player (already ``gamma``-scaled for
            a non-terminal leaf).
        to_play: ``int64[nodes]`` the mover at each node.
        n_visits, w_sums: pool arrays, updated in place.
        gamma: discount per level above the leaf edge.
    """
    for b in range(path_len.shape[0]):
        length = path_len[b]
        for d in range(length - 1, -1, -1):
            node = path_nodes[b, d]
            a = path_actions[b, d]
            val = g[b, to_play[node]]
            if gamma != 1.0:
                val = val * gamma ** (length - 1 - d)
            n_visits[node, a] += 1.0
            w_sums[node, a] += val
