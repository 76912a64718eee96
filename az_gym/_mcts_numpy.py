"""The numpy backend of :mod:`az_gym.mcts`: the descent, the backup and the virtual loss as
numpy passes vectorised across trees, one per depth level.

It runs the selection rule of :mod:`az_gym._mcts_backends` un-compiled on ``[k, A]`` arrays
(``.py_func``) and adds value sums left to right, as the compiled loops of
:mod:`az_gym._mcts_numba` do, so the two backends give bit-identical searches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from az_gym._gumbel import gumbel_select_nodes
from az_gym._mcts_backends import Descent, discounted, fpu_value, puct_score
from az_gym._mcts_solver import prove_numpy, solver_rows
from az_gym._mcts_tree import NodePool


def _python(f: Callable) -> Callable:
    """The plain-Python function behind a numba dispatcher."""
    return getattr(f, "py_func", f)


_puct_score, _fpu_value, _discounted = map(_python, (puct_score, fpu_value, discounted))


def _row_sums(x: np.ndarray) -> np.ndarray:
    """``float64[k]`` sums of the rows of ``x [k, A]`` in left-to-right order (as the
    compiled loop adds them; ``np.sum`` adds pairwise and may differ in the last bit, which
    is enough to flip a tie between first-play values)."""
    return np.cumsum(x, axis=1)[:, -1] if x.shape[1] else np.zeros(len(x))


class NumpyBackend:
    """Descent and backup as numpy passes vectorised across trees, one per depth level."""

    name = "numpy"

    def select(
        self, pool: NodePool, nodes: np.ndarray, priors: np.ndarray,
        cpuct: float, fpu_reduction: float | None,
        rows: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:  # fmt: skip
        """``int64[k]`` the PUCT action at each of ``nodes int64[k]`` (``priors [k, A]``);
        ``rows``: the value sums and penalties ``[k, A]`` to use instead of the pool's (the
        solver's, :func:`~az_gym._mcts_solver.solver_rows`)."""
        n = pool.N[nodes]
        w, penalty = rows if rows is not None else (pool.W[nodes], pool.penalty[nodes])
        total = n.sum(1, keepdims=True)  # whole counts: exact in any order
        q = w / np.maximum(n, 1.0)
        if fpu_reduction is not None:
            w_total = _row_sums(w)[:, None]
            q = np.where(
                n > 0, q, _fpu_value(pool.value[nodes, None], w_total, total, fpu_reduction)
            )
        sqrt_total = np.sqrt(np.maximum(total, 1.0))
        return _puct_score(q, priors, n, sqrt_total, cpuct, penalty).argmax(1)

    def descend(
        self, pool: NodePool, roots: np.ndarray, root_priors: np.ndarray,
        cpuct: float, fpu_reduction: float | None, *,
        root_actions: np.ndarray | None = None, gumbel: tuple[float, float] | None = None,
        solver: bool = False,
    ) -> Descent:  # fmt: skip
        """As :meth:`NumbaBackend.descend`."""
        b = roots.size
        cur, alive = roots.copy(), np.arange(b)
        levels: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        leaf_parent, leaf_action, leaf_child = (np.empty(b, np.int64) for _ in range(3))
        path_len = np.zeros(b, np.int64)
        while alive.size:
            nodes = cur[alive]
            rows = solver_rows(pool, nodes) if solver else None
            if not levels and root_actions is not None:
                a = np.asarray(root_actions, np.int64)
            elif gumbel is not None and rows is not None:
                a = gumbel_select_nodes(np.arange(nodes.size), pool.N[nodes], rows[0],
                                        pool.P[nodes], rows[1], pool.value[nodes],
                                        float(gumbel[0]), float(gumbel[1]))  # fmt: skip
            elif gumbel is not None:
                a = gumbel_select_nodes(nodes, pool.N, pool.W, pool.P, pool.penalty, pool.value,
                                        float(gumbel[0]), float(gumbel[1]))  # fmt: skip
            else:
                pri = root_priors if not levels else pool.P[nodes]
                a = self.select(pool, nodes, pri, cpuct, fpu_reduction, rows)
            levels.append((alive, nodes, a))
            child = pool.C[nodes, a].astype(np.int64)
            stop = child < 0
            stop[~stop] = ~np.isnan(pool.proven[child[~stop], 0])
            if stop.any():
                done = alive[stop]
                leaf_parent[done], leaf_action[done] = nodes[stop], a[stop]
                leaf_child[done], path_len[done] = child[stop], len(levels)
                alive, child = alive[~stop], child[~stop]
            cur[alive] = child
        path_nodes = np.zeros((b, len(levels)), np.int64)
        path_actions = np.zeros((b, len(levels)), np.int64)
        for depth, (idx, nodes, a) in enumerate(levels):
            path_nodes[idx, depth], path_actions[idx, depth] = nodes, a
        return Descent(path_nodes, path_actions, path_len, leaf_parent, leaf_action, leaf_child)

    def backup(self, pool: NodePool, descent: Descent, g: np.ndarray, gamma: float) -> None:
        """As :meth:`NumbaBackend.backup`, one depth level at a time, deepest first (the
        edges of one level are distinct, so each gets exactly one addition)."""
        d = descent
        for depth in range(d.path_nodes.shape[1] - 1, -1, -1):
            idx = np.flatnonzero(d.path_len > depth)
            nodes, a = d.path_nodes[idx, depth], d.path_actions[idx, depth]
            vals = g[idx, pool.to_play[nodes]]
            if gamma != 1.0:
                vals = _discounted(vals, gamma, d.path_len[idx] - 1 - depth)
            pool.N[nodes, a] += 1.0
            pool.W[nodes, a] += vals

    def prove(self, pool: NodePool, descent: Descent, leaf_child: np.ndarray) -> None:
        """As :meth:`NumbaBackend.prove` (:func:`~az_gym._mcts_solver.prove_numpy`)."""
        prove_numpy(pool, descent.path_nodes, descent.path_len, leaf_child)

    def virtual_loss(self, pool: NodePool, descent: Descent, sign: float, loss: float) -> None:
        """As :meth:`NumbaBackend.virtual_loss`, one depth level at a time (the edges of
        one level are distinct, as the paths lie in distinct trees)."""
        d = descent
        dn, dw = float(sign), -float(sign) * float(loss)
        for depth in range(d.path_nodes.shape[1]):
            idx = np.flatnonzero(d.path_len > depth)
            nodes, a = d.path_nodes[idx, depth], d.path_actions[idx, depth]
            pool.N[nodes, a] += dn
            pool.W[nodes, a] += dw
