"""The numba backend of :mod:`az_gym.mcts`: the descent, the backup and the virtual loss
as compiled loops, one tree at a time.

The contract (:class:`~az_gym._mcts_backends.Descent`) and the selection rule it calls
(:func:`~az_gym._mcts_backends.puct_select`) live in :mod:`az_gym._mcts_backends`; the numpy
backend (:mod:`az_gym._mcts_numpy`) gives bit-identical searches.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from az_gym._gumbel import gumbel_select
from az_gym._mcts_backends import Descent, discounted, puct_select
from az_gym._mcts_solver import prove_numba, solver_row
from az_gym._mcts_tree import NodePool


@njit(cache=True, nogil=True)
def _descend_kernel(
    roots, root_priors, n_visits, w_sums, priors, penalty, children, proven,
    cpuct, max_depth, node_value, use_fpu, fpu_reduction, root_actions, gumbel, c_visit, c_scale,
    to_play, solver,
):  # fmt: skip
    """:meth:`NumbaBackend.descend` as one compiled loop; returns the :class:`Descent`
    fields and an overflow flag (the paths did not fit in ``max_depth``)."""
    b_count = roots.shape[0]
    w_buf = np.empty(children.shape[1])  # the solver's rewritten rows of one node
    pen_buf = np.empty(children.shape[1])
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
            if d == 0 and root_actions[b] >= 0:  # forced (Gumbel root)
                best = root_actions[b]
            else:
                w_row, pen_row = w_sums[node], penalty[node]
                if solver:
                    solver_row(node, n_visits, w_sums, penalty, children, proven, to_play,
                               w_buf, pen_buf)  # fmt: skip
                    w_row, pen_row = w_buf, pen_buf
                if gumbel:
                    best = gumbel_select(
                        n_visits[node], w_row, priors[node], pen_row, node_value[node],
                        c_visit, c_scale,
                    )  # fmt: skip
                else:
                    best = puct_select(
                        n_visits[node], w_row, root_priors[b] if d == 0 else priors[node],
                        pen_row, node_value[node], cpuct, use_fpu, fpu_reduction,
                    )  # fmt: skip
            path_nodes[b, d] = node
            path_actions[b, d] = best
            d += 1
            child = children[node, best]
            if child < 0 or not np.isnan(proven[child, 0]):
                leaf_parent[b] = node
                leaf_action[b] = best
                leaf_child[b] = child
                path_len[b] = d
                break
            node = child
    return path_nodes, path_actions, path_len, leaf_parent, leaf_action, leaf_child, False


@njit(cache=True, nogil=True)
def _backup_kernel(path_nodes, path_actions, path_len, g, to_play, n_visits, w_sums, gamma):
    """:meth:`NumbaBackend.backup` as one compiled loop (in place)."""
    for b in range(path_len.shape[0]):
        length = path_len[b]
        for d in range(length - 1, -1, -1):
            node = path_nodes[b, d]
            a = path_actions[b, d]
            val = g[b, to_play[node]]
            if gamma != 1.0:
                val = discounted(val, gamma, length - 1 - d)
            n_visits[node, a] += 1.0
            w_sums[node, a] += val


@njit(cache=True, nogil=True)
def _virtual_loss_kernel(path_nodes, path_actions, path_len, n_visits, w_sums, dn, dw):
    """:meth:`NumbaBackend.virtual_loss` as one compiled loop (in place)."""
    for b in range(path_len.shape[0]):
        for d in range(path_len[b]):
            n_visits[path_nodes[b, d], path_actions[b, d]] += dn
            w_sums[path_nodes[b, d], path_actions[b, d]] += dw


class NumbaBackend:
    """Compiled descent and backup."""

    name = "numba"

    def __init__(self) -> None:
        self._max_path = 1  # capacity of the path arrays; paths grow by <= 1 per simulation
        self._free = np.zeros(0, np.int64)

    def descend(
        self, pool: NodePool, roots: np.ndarray, root_priors: np.ndarray,
        cpuct: float, fpu_reduction: float | None, *,
        root_actions: np.ndarray | None = None, gumbel: tuple[float, float] | None = None,
        solver: bool = False,
    ) -> Descent:  # fmt: skip
        """Descent of every tree (``roots int64[B]``) to a leaf.

        Args:
            root_priors: ``float64[B, A]`` the roots' priors for PUCT (possibly noisy).
            root_actions: ``int64[B]`` the root actions when forced (Gumbel root), or
                ``None``.
            gumbel: ``(c_visit, c_scale)``: below the root, select by
                :func:`~az_gym._gumbel.gumbel_select` instead of PUCT; ``None``: PUCT.
            solver: select on the rows the solver rewrites (proven children's exact values,
                dominated children illegal; :func:`~az_gym._mcts_solver.solver_row`).
        """
        if root_actions is None:  # no forced root action: -1 per tree (kept between calls)
            if self._free.shape[0] != len(roots):
                self._free = np.full(len(roots), -1, np.int64)
            forced = self._free
        else:
            forced = np.asarray(root_actions, np.int64)
        c_visit, c_scale = gumbel if gumbel is not None else (0.0, 0.0)
        while True:
            *fields, overflow = _descend_kernel(
                roots, root_priors, pool.N, pool.W, pool.P, pool.penalty, pool.C,
                pool.proven, float(cpuct), self._max_path + 1, pool.value,
                fpu_reduction is not None, float(fpu_reduction or 0.0),
                forced, gumbel is not None, float(c_visit), float(c_scale), pool.to_play,
                bool(solver),
            )  # fmt: skip
            if not overflow:
                break
            self._max_path *= 2
        out = Descent(*fields)
        self._max_path = max(self._max_path, int(out.path_len.max(initial=0)))
        return out

    def backup(self, pool: NodePool, descent: Descent, g: np.ndarray, gamma: float) -> None:
        """Add one visit and the leaf value to every edge of every path (in place).

        Args:
            g: ``float64[B, num_players]`` leaf value per player (already ``gamma``-scaled
                for a non-terminal leaf); each edge takes its own node's mover's entry,
                times ``gamma`` per level above the leaf edge.
        """
        d = descent
        _backup_kernel(
            d.path_nodes, d.path_actions, d.path_len, g, pool.to_play, pool.N, pool.W,
            float(gamma),
        )  # fmt: skip

    def prove(self, pool: NodePool, descent: Descent, leaf_child: np.ndarray) -> None:
        """Back the solver's proofs up the paths (:func:`~az_gym._mcts_solver.prove_numba`;
        ``leaf_child int64[B]``: the node each path ended in, expanded)."""
        prove_numba(pool, descent.path_nodes, descent.path_len, leaf_child)

    def virtual_loss(self, pool: NodePool, descent: Descent, sign: float, loss: float) -> None:
        """Add ``sign`` pending visits and ``-sign * loss`` to the value sum of every edge
        of every path (in place): ``sign = 1`` puts a descent's virtual loss on, ``-1``
        takes it off. The paths must lie in distinct trees."""
        d = descent
        _virtual_loss_kernel(
            d.path_nodes, d.path_actions, d.path_len, pool.N, pool.W, float(sign),
            -float(sign) * float(loss),
        )  # fmt: skip
