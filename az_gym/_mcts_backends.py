"""The two backends of :mod:`az_gym.mcts` and the selection rule they share.

A backend walks all trees of a :class:`~az_gym._mcts_tree.NodePool` from their roots to
leaves (:meth:`descend`, returning a :class:`Descent`), adds a simulation's leaf values
back along the paths (:meth:`backup`) and puts on or takes off the virtual loss of pending
descents (:meth:`virtual_loss`, leaf-parallel search):

* :class:`~az_gym._mcts_numba.NumbaBackend`: compiled loops, one tree at a time;
* :class:`~az_gym._mcts_numpy.NumpyBackend`: numpy passes vectorised across trees, one per
  depth level.

This module holds what they share: the :class:`Descent` record and the selection rule, and
picks one (:func:`make_backend`).

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

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit

from az_gym._lazy import lazy_exports

if TYPE_CHECKING:
    from az_gym._mcts_numba import NumbaBackend
    from az_gym._mcts_numpy import NumpyBackend

# The backends import the rule below, so they are imported on first use, not here.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {"NumbaBackend": "az_gym._mcts_numba", "NumpyBackend": "az_gym._mcts_numpy"},
    globals(),
)


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
    same rule on ``[k, A]`` arrays in
    :meth:`~az_gym._mcts_numpy.NumpyBackend.select`): the highest
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


def make_backend(name: str) -> NumbaBackend | NumpyBackend:
    """The backend called ``name``: ``"numba"``, ``"numpy"`` or ``"auto"`` (numba).

    Raises:
        ValueError: another name.
    """
    if name not in ("auto", "numba", "numpy"):
        raise ValueError(f"BatchedMcts: backend = {name!r}; must be auto, numba or numpy")
    from az_gym._mcts_numba import NumbaBackend
    from az_gym._mcts_numpy import NumpyBackend

    return NumpyBackend() if name == "numpy" else NumbaBackend()
