"""The two backends of :mod:`az_gym.mcts` and the selection rule they share.

A backend walks all trees of a :class:`~az_gym._mcts_tree.NodePool` from their roots to
leaves (:meth:`descend`, returning a :class:`Descent`), adds a simulation's leaf values
back along the paths (:meth:`backup`) and puts on or takes off the virtual loss of pending
descents (:meth:`virtual_loss`, leaf-parallel search):

* :class:`NumbaBackend`: compiled loops, one tree at a time;
* :class:`NumpyBackend`: numpy passes vectorised across trees, one per depth level.

The selection rule lives once, in :func:`puct_score` and :func:`fpu_value`: plain
arithmetic that numba compiles for the scalar loop and that the numpy backend runs
un-compiled on ``[k, A]`` arrays (``.py_func``). Value sums over actions run left to right
in both (a loop; ``np.cumsum`` in numpy, whose order is sequential, unlike ``np.sum``'s
pairwise one; visit counts are whole numbers, exact in any order) and discounts are
``gamma ** float(k)`` in both, so the two backends give bit-identical searches.

With ``root_policy = "gumbel"`` the root's action is forced (``root_actions``, from
:class:`~az_gym._gumbel.GumbelRoot`) and the nodes below it select by
:func:`~az_gym._gumbel.gumbel_select`, one compiled function that both backends call (the
numpy backend once per depth level over all its nodes), since it needs ``exp``, whose
numpy and C-library results differ in the last bit on some CPUs.

With ``MctsParams.solver`` (:mod:`az_gym._mcts_solver`) a descent stops at any proven child
(as at a terminal one); either selection rule reads a node's rows as the solver rewrites
them (:func:`~az_gym._mcts_solver.solver_row`: a proven child's ``Q`` is its exact value, a
dominated child is illegal), and :meth:`prove` backs the proofs up after each backup.
Without it only terminal nodes are proven and the searches are those of before, bit for
bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numba import njit

from az_gym._gumbel import gumbel_select, gumbel_select_nodes
from az_gym._mcts_solver import prove_numba, prove_numpy, solver_row, solver_rows
from az_gym._mcts_tree import NodePool


def _python(f: Callable) -> Callable:
    """The plain-Python function behind a numba dispatcher."""
    return getattr(f, "py_func", f)


class Descent(NamedTuple):
    """Where one simulation's descent of ``B`` trees went.

    Path arrays are ``int64[B, D]`` with ``D`` at least the longest path; entries past
    ``path_len[b]`` are unspecified.
    """

    path_nodes: np.ndarray
    """``int64[B, D]`` node ids from the root down, one per edge taken."""
    path_actions: np.ndarray
    """``int64[B, D]`` the action taken at each of those nodes."""
    path_len: np.ndarray
    """``int64[B]`` edges on each path (>= 1)."""
    leaf_parent: np.ndarray
    """``int64[B]`` the last node of each path."""
    leaf_action: np.ndarray
    """``int64[B]`` the action taken there."""
    leaf_child: np.ndarray
    """``int64[B]`` the child it leads to: a proven node (terminal, or proven by the
    solver), or ``-1`` (to create)."""


# ------------------------------------------------------------------ the selection rule
@njit(cache=True, nogil=True)
def puct_score(q, prior, n, sqrt_total, cpuct, penalty):
    """PUCT score of an edge (AlphaZero.jl's ``uct_scores``), on scalars or arrays:

    ``Q(a) + c_puct * P(a) * sqrt(N) / (1 + N(a)) + penalty(a)``

    with ``sqrt_total = sqrt(max(1, sum_a N(a)))`` (the ``max`` lets the priors order the
    very first visit) and ``penalty`` 0 on legal actions, ``-inf`` on illegal ones. The
    search takes the highest score, the lowest action index on ties.
    """
    return q + (cpuct * sqrt_total) * prior / (1.0 + n) + penalty


@njit(cache=True, nogil=True)
def fpu_value(node_value, w_total, n_total, reduction):
    """First-play urgency: the ``Q`` of an unvisited action when
    ``MctsParams.fpu_reduction`` is set, the node's own mean value minus the reduction:
    ``(v + sum_a W(a)) / (1 + sum_a N(a)) - reduction`` (``v``: the evaluator's value of
    the node). Without it an unvisited action's ``Q`` is 0."""
    return (node_value + w_total) / (1.0 + n_total) - reduction


@njit(cache=True, nogil=True)
def puct_select(n_row, w_row, p_row, penalty_row, node_value, cpuct, use_fpu, fpu_reduction):
    """The PUCT action of one node (the numba descent's loop; the numpy backend runs the
    same rule on ``[k, A]`` arrays in :meth:`NumpyBackend.select`): the highest
    :func:`puct_score`, the lowest action index on ties.

    Args:
        n_row, w_row, p_row, penalty_row: ``float64[A]`` visits, value sums (for the
            node's mover), priors (possibly noisy at a root) and penalties of the node.
        node_value: the evaluator's value of the node, for its mover (first-play urgency).
        cpuct, use_fpu, fpu_reduction: :class:`~az_gym.mcts_params.MctsParams` settings.
    """
    total = 0.0
    w_total = 0.0
    for a in range(n_row.shape[0]):
        total += n_row[a]
        w_total += w_row[a]
    sqrt_total = np.sqrt(max(total, 1.0))
    fpu_q = fpu_value(node_value, w_total, total, fpu_reduction) if use_fpu else 0.0
    best = 0
    best_score = -np.inf
    for a in range(n_row.shape[0]):
        n = n_row[a]
        q = w_row[a] / n if n > 0.0 else fpu_q
        score = puct_score(q, p_row[a], n, sqrt_total, cpuct, penalty_row[a])
        if score > best_score:
            best_score = score
            best = a
    return best


@njit(cache=True, nogil=True)
def discounted(value, gamma, steps):
    """``value * gamma ** steps`` with a float exponent (the same ``pow`` in both backends)."""
    return value * gamma ** (steps * 1.0)


# --------------------------------------------------------------------- numba backend
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


# --------------------------------------------------------------------- numpy backend
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


def make_backend(name: str) -> NumbaBackend | NumpyBackend:
    """The backend called ``name``: ``"numba"``, ``"numpy"`` or ``"auto"`` (numba).

    Raises:
        ValueError: another name.
    """
    if name not in ("auto", "numba", "numpy"):
        raise ValueError(f"BatchedMcts: backend = {name!r}; must be auto, numba or numpy")
    return NumpyBackend() if name == "numpy" else NumbaBackend()
