"""MCTS-Solver backups of :mod:`az_gym.mcts` (``MctsParams.solver``; numpy and numba).

The rules (Winands, Björnsson and Saito, "Monte-Carlo Tree Search Solver", 2008; OpenSpiel's
``MCTSBot(solve=True)``), for deterministic zero-sum games of two players whose returns lie
in ``[-1, 1]`` (:data:`MAX_UTILITY` is the best return there is):

* A node's *proven value* is an exact value per player, ``NodePool.proven [node, players]``
  (NaN while unknown). A terminal node is proven by its returns (with or without the
  solver: that is how the search has always scored terminal leaves).
* Backup (:func:`prove_numba`, :func:`prove_numpy`, after each simulation's value backup,
  from the leaf up): a node is proven when one of its children is proven at
  :data:`MAX_UTILITY` *for the node's mover* (a child that is a proven loss for its own
  mover, or a terminal win), or when every legal child is proven; its value is then the
  best child value for its mover, and ``-value`` for the other player. A child's value is
  read for the parent's mover from the child's per-player vector, so a double move (the
  child's mover is the parent's) needs no sign rule: players are never assumed to alternate.
* Selection (PUCT or the Gumbel rule below the root) reads a node's rows as
  :func:`solver_row` / :func:`solver_rows` rewrite them: a proven child's value sum is its
  exact value times its visits (its ``Q`` is exact); a child worse than the best proven
  sibling, or proven at the worst return (:func:`dominated`), is treated as illegal (never
  chosen while any other child can be: there is one, else the node would be proven). The
  descent stops at a proven child as at a terminal one and backs its exact values up, so a
  proven subtree is never searched again. A Gumbel root reads its rows the same way and
  forces no simulation onto a proven child while another move is open
  (:meth:`az_gym._gumbel.GumbelRoot.next_actions`).
* A proven root ends its search (:meth:`az_gym.mcts.BatchedMcts.search` reports the
  simulations each root used and its proven value).

One-player games get plain terminal proofs: terminal children are exact and dominated ones
are avoided, but nothing is backed up. One-player games come through the Gymnasium adapter,
whose stochastic envs are searched determinised by their RNG state (:mod:`az_gym.envs.gym_state`),
so a proof backed up from them would hold for one draw of the dice only.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from az_gym._mcts_tree import NodePool
from az_gym.game import Game

MAX_UTILITY = 1.0
"""The best return of a game the solver proves (returns lie in ``[-1, 1]``)."""


def check_solvable(game: Game) -> None:
    """Refuse a game the solver cannot prove.

    Raises:
        ValueError: more than two players, or ``game.chance`` (random events in
            ``next_state``).
    """
    if game.num_players > 2:
        raise ValueError(
            f"MctsParams.solver: {game.name} has {game.num_players} players; the solver "
            "proves games of one or two players"
        )
    if getattr(game, "chance", False):
        raise ValueError(
            f"MctsParams.solver: {game.name} has chance events (Game.chance); the solver "
            "proves deterministic games only"
        )


def check_returns(game: Game, returns: np.ndarray) -> None:
    """Refuse terminal ``returns float[num_players]`` the solver cannot prove with.

    Raises:
        ValueError: a return outside ``[-1, 1]``, or two-player returns that do not sum to 0.
    """
    r = np.asarray(returns, np.float64)
    if not np.all(np.abs(r) <= MAX_UTILITY):
        raise ValueError(
            f"MctsParams.solver: {game.name} returns {r.tolist()} at a terminal state; "
            "the solver needs returns in [-1, 1]"
        )
    if game.num_players == 2 and abs(r[0] + r[1]) > 1e-12:
        raise ValueError(
            f"MctsParams.solver: {game.name} returns {r.tolist()} at a terminal state, "
            "which is not zero-sum; the solver proves zero-sum games only"
        )


@njit(cache=True, nogil=True)
def dominated(value, lower_bound):
    """Whether a proven child (``value`` for the node's mover) is never to be chosen: worse
    than the best proven sibling (``lower_bound``) or proven at the worst return. Scalars or
    arrays (the numpy backend and the move choice run it un-compiled)."""
    return (value < lower_bound) | (value <= -MAX_UTILITY)


# ------------------------------------------------------------------------- selection
@njit(cache=True, nogil=True)
def solver_row(node, n_visits, w_sums, penalty, children, proven, to_play, w_out, pen_out):
    """Write the value sums and penalties ``float64[A]`` of ``node`` as selection sees them
    with the solver into ``w_out`` and ``pen_out`` (module docstring)."""
    mover = to_play[node]
    lower = -np.inf  # the best proven child value
    for a in range(children.shape[1]):
        w_out[a], pen_out[a] = w_sums[node, a], penalty[node, a]
        c = children[node, a]
        if c >= 0 and not np.isnan(proven[c, mover]):
            w_out[a] = proven[c, mover] * n_visits[node, a]
            lower = max(lower, proven[c, mover])
    for a in range(children.shape[1]):
        c = children[node, a]
        if c >= 0 and not np.isnan(proven[c, mover]) and dominated(proven[c, mover], lower):
            pen_out[a] = -np.inf


# --------------------------------------------------------------------- numba backup
@njit(cache=True, nogil=True)
def _node_proof(node, proven, to_play, children, penalty):
    """The proven value of ``node`` for its mover from its children, NaN if unproven."""
    mover = to_play[node]
    best = -np.inf
    unknown = False
    for a in range(children.shape[1]):
        if penalty[node, a] != 0.0:  # illegal
            continue
        c = children[node, a]
        if c < 0 or np.isnan(proven[c, 0]):
            unknown = True
            continue
        best = max(best, proven[c, mover])
    if best >= MAX_UTILITY or (not unknown and best > -np.inf):
        return best
    return np.nan


@njit(cache=True, nogil=True)
def _prove_kernel(path_nodes, path_len, leaf_child, proven, to_play, children, penalty):
    """:func:`prove_numba` as one compiled loop (in place)."""
    for b in range(path_len.shape[0]):
        if np.isnan(proven[leaf_child[b], 0]):
            continue
        for d in range(path_len[b] - 1, -1, -1):
            node = path_nodes[b, d]
            v = _node_proof(node, proven, to_play, children, penalty)
            if np.isnan(v):
                break
            mover = to_play[node]
            proven[node, mover] = v
            proven[node, 1 - mover] = -v


def prove_numba(
    pool: NodePool, path_nodes: np.ndarray, path_len: np.ndarray, leaf_child: np.ndarray
) -> None:
    """Back proofs up the paths of one simulation (two-player games; in place).

    Args:
        path_nodes: ``int64[B, D]`` the nodes of each path, root first.
        path_len: ``int64[B]`` edges on each path.
        leaf_child: ``int64[B]`` the (expanded) node each path ends in.
    """
    _prove_kernel(path_nodes, path_len, leaf_child, pool.proven, pool.to_play, pool.C, pool.penalty)


# --------------------------------------------------------------------- numpy backup
_dominated = getattr(dominated, "py_func", dominated)


def child_proofs(pool: NodePool, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(values float[k, A], known bool[k, A])``: each child's proven value for its
    parent's mover (NaN where unknown), and where it is known (legal, expanded, proven)."""
    ch = pool.C[nodes].astype(np.int64)
    mover = pool.to_play[nodes][:, None]
    values = np.where(ch >= 0, pool.proven[ch, mover], np.nan)
    known = (pool.penalty[nodes] == 0.0) & ~np.isnan(values)
    return np.where(known, values, np.nan), known


def node_proofs(pool: NodePool, nodes: np.ndarray) -> np.ndarray:
    """``float[k]`` the proven value of each of ``nodes`` for its mover, NaN if unproven
    (the rule of :func:`_node_proof`, vectorised)."""
    values, known = child_proofs(pool, nodes)
    unknown = ((pool.penalty[nodes] == 0.0) & ~known).any(1)
    best = np.where(known, values, -np.inf).max(1)
    proved = (best >= MAX_UTILITY) | (~unknown & (best > -np.inf))
    return np.where(proved, best, np.nan)


def prove_numpy(
    pool: NodePool, path_nodes: np.ndarray, path_len: np.ndarray, leaf_child: np.ndarray
) -> None:
    """As :func:`prove_numba`, one depth level at a time across trees, deepest first (the
    trees share no node, so the order across trees does not matter)."""
    chain = ~np.isnan(pool.proven[leaf_child, 0])  # the node below on the path is proven
    for depth in range(path_nodes.shape[1] - 1, -1, -1):
        idx = np.flatnonzero((path_len > depth) & chain)
        if idx.size == 0:
            continue
        nodes = path_nodes[idx, depth]
        v = node_proofs(pool, nodes)
        ok = ~np.isnan(v)
        chain[idx] = ok
        nodes, v = nodes[ok], v[ok]
        mover = pool.to_play[nodes]
        pool.proven[nodes, mover] = v
        pool.proven[nodes, 1 - mover] = -v


def solver_rows(pool: NodePool, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(value sums, penalties)``, both ``float64[k, A]``: :func:`solver_row` at each of
    ``nodes int64[k]``, vectorised (the numpy descent)."""
    values, known = child_proofs(pool, nodes)
    lower = np.where(known, values, -np.inf).max(1, initial=-np.inf)[:, None]
    w = np.where(known, values * pool.N[nodes], pool.W[nodes])
    dead = known & _dominated(values, lower)
    return w, np.where(dead, -np.inf, pool.penalty[nodes])


def choices(pool: NodePool, roots: np.ndarray) -> np.ndarray:
    """``bool[B, A]`` the moves the solver lets the root's mover choose: at a proven root
    the legal moves proven at the root's value, else the legal moves that are not
    dominated (a proven loss is avoided while any other move is unproven)."""
    values, known = child_proofs(pool, roots)
    legal = pool.penalty[roots] == 0.0
    root_value = pool.proven[roots, pool.to_play[roots]][:, None]
    lower = np.where(known, values, -np.inf).max(1, initial=-np.inf)[:, None]
    open_ = legal & ~(known & _dominated(values, lower))
    best = known & (values == root_value)
    return np.where(np.isnan(root_value), open_, best)
