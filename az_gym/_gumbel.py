"""Gumbel root search (Danihelka et al., "Policy improvement by planning with Gumbel", ICLR
2022; mctx's ``gumbel_muzero_policy``): the math of ``MctsParams.root_policy = "gumbel"``.

At the root of each tree, ``m = min(max_num_considered_actions, legal actions)`` actions are
drawn without replacement by the Gumbel-top-k trick (the ``m`` largest ``g(a) + logits(a)``,
``g`` i.i.d. Gumbel(0, ``gumbel_scale``), ``logits = log P``), and the simulation budget is
spent on them by sequential halving (:func:`considered_visits`): each simulation's root
action is *forced*, the best ``g + logits + sigma(completed_q)`` among the actions holding the
schedule's visit count. The search then plays the best of the most visited actions by the
same score (:meth:`GumbelRoot.selected_actions`) and returns the improved policy
``softmax(logits + sigma(completed_q))`` (:meth:`GumbelRoot.improved_policy`) as the
training target.

Completed Q (mctx's ``qtransform_completed_by_mix_value``): a visited action keeps its
``Q(a) = W(a) / N(a)`` (for the node's mover); an unvisited one gets the mixed value
``v_mix = (v + N * sum_b p(b) Q(b) / sum_b p(b)) / (1 + N)`` (sums over the visited ``b``,
``N = sum_b N(b)``, ``v``: the evaluator's value of the node). The completed values are
rescaled to ``[0, 1]`` by their min and max over the legal actions (mctx takes the min and
max over every action, so an illegal action's ``v_mix`` joins them; here how many actions
are illegal never changes the scale), and ``sigma(q) = (c_visit + max_b N(b)) * c_scale * q``.

Below the root, selection is deterministic (the paper's section 5, mctx's
``gumbel_muzero_interior_action_selection``): the legal action maximising
``pi'(a) - N(a) / (1 + N)``, ``pi'`` the node's improved policy, lowest index on ties.

With the solver (``MctsParams.solver``) the root reads its rows as the solver rewrites them
(a proven child's ``Q`` exact, a dominated child out of the improved policy), a proven child
leaves the schedule (its visits go to the open actions; :meth:`GumbelRoot.next_actions`) and
the selection compares proven children by their exact values
(:meth:`GumbelRoot.selected_actions`).

Every per-node formula is one compiled (numba) function, called by both search backends, so
they stay bit-identical (numpy's vectorised ``exp`` and the C library's differ in the last
bit on some CPUs).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit

from az_gym._mcts_solver import choices, solver_rows
from az_gym._mcts_tree import NodePool
from az_gym.mcts_params import MctsParams

_TINY = float(np.finfo(np.float64).tiny)
"""Floor of the priors in ``log P`` and in the mixed value (mctx's ``finfo.tiny``)."""
_EPS = 1e-8
"""Smallest denominator of the min-max rescaling (mctx's ``epsilon``)."""


@functools.lru_cache(maxsize=64)
def considered_visits(max_considered: int, num_simulations: int) -> tuple[int, ...]:
    """The visit count each simulation's root action must hold under sequential halving
    (mctx's ``get_sequence_of_considered_visits``; Karnin et al. 2013).

    The ``m = max_considered`` actions share the budget in phases; a phase gives each of its
    ``k`` actions ``max(1, floor(n / (ceil(log2 m) * k)))`` more visits, then keeps the
    better half (at least 2). Entry ``s`` is the visit count that simulation ``s`` picks
    its action among. ``m <= 1``: ``0, 1, 2, ...`` (one action takes every visit).

    Returns:
        ``num_simulations`` non-negative integers.
    """
    n = num_simulations
    if max_considered <= 1:
        return tuple(range(n))
    log2max = math.ceil(math.log2(max_considered))
    sequence: list[int] = []
    visits = [0] * max_considered
    k = max_considered
    while len(sequence) < n:
        extra = max(1, n // (log2max * k))
        for _ in range(extra):
            sequence.extend(visits[:k])
            for i in range(k):
                visits[i] += 1
        k = max(2, k // 2)
    return tuple(sequence[:n])


# ------------------------------------------------------------- per-node formulas (compiled)
@njit(cache=True, nogil=True)
def _completed(n, w, v_mix):
    """Completed Q of one action: ``W / N`` when visited, else the mixed value."""
    return w / n if n > 0.0 else v_mix


@njit(cache=True, nogil=True)
def _completion(n_row, w_row, p_row, penalty_row, node_value):
    """``(N, max_b N(b), v_mix, q_min, q_max)`` of one node (``float64[A]`` rows; ``q_min``
    and ``q_max`` over the legal actions' completed Q)."""
    n_total = 0.0
    n_max = 0.0
    sum_p = 0.0
    sum_pq = 0.0
    for a in range(n_row.shape[0]):
        n = n_row[a]
        n_total += n
        n_max = max(n_max, n)
        if n > 0.0:
            p = max(p_row[a], _TINY)
            sum_p += p
            sum_pq += p * (w_row[a] / n)
    v_mix = node_value
    if n_total > 0.0:
        v_mix = (node_value + n_total * (sum_pq / sum_p)) / (n_total + 1.0)
    q_min = np.inf
    q_max = -np.inf
    for a in range(n_row.shape[0]):
        if np.isfinite(penalty_row[a]):
            cq = _completed(n_row[a], w_row[a], v_mix)
            q_min = min(q_min, cq)
            q_max = max(q_max, cq)
    return n_total, n_max, v_mix, q_min, q_max


@njit(cache=True, nogil=True)
def _sigma_scale(n_max, q_min, q_max, c_visit, c_scale):
    """``sigma(q) = scale * (q - q_min)``: the min-max rescaling times ``(c_visit + max N)
    * c_scale``."""
    return (c_visit + n_max) * c_scale / max(q_max - q_min, _EPS)


@njit(cache=True, nogil=True)
def _improved_weight(p, sigma, sigma_max):
    """Unnormalised improved policy ``exp(log p + sigma)``, shifted by ``sigma_max``."""
    return p * np.exp(sigma - sigma_max)


@njit(cache=True, nogil=True)
def gumbel_select(n_row, w_row, p_row, penalty_row, node_value, c_visit, c_scale):
    """The non-root Gumbel action of one node: the legal ``a`` maximising
    ``pi'(a) - N(a) / (1 + N)`` (lowest index on ties).

    Args:
        n_row, w_row, p_row, penalty_row: ``float64[A]`` visits, value sums (for the
            node's mover), priors and penalties (0 legal, ``-inf`` illegal) of the node.
        node_value: the evaluator's value of the node, for its mover.
        c_visit, c_scale: the constants of ``sigma``.
    """
    n_total, n_max, v_mix, q_min, q_max = _completion(n_row, w_row, p_row, penalty_row, node_value)
    scale = _sigma_scale(n_max, q_min, q_max, c_visit, c_scale)
    sigma_max = scale * (q_max - q_min)
    z = 0.0
    for a in range(n_row.shape[0]):
        if np.isfinite(penalty_row[a]):
            cq = _completed(n_row[a], w_row[a], v_mix)
            z += _improved_weight(p_row[a], scale * (cq - q_min), sigma_max)
    best = 0
    best_score = -np.inf
    for a in range(n_row.shape[0]):
        if not np.isfinite(penalty_row[a]):
            continue
        cq = _completed(n_row[a], w_row[a], v_mix)
        pi = _improved_weight(p_row[a], scale * (cq - q_min), sigma_max) / z
        score = pi - n_row[a] / (1.0 + n_total)
        if score > best_score:
            best_score = score
            best = a
    return best


@njit(cache=True, nogil=True)
def gumbel_select_nodes(nodes, n_visits, w_sums, priors, penalty, node_value, c_visit, c_scale):
    """``int64[k]`` :func:`gumbel_select` at each of ``nodes int64[k]`` of a pool."""
    out = np.empty(nodes.shape[0], np.int64)
    for i in range(nodes.shape[0]):
        v = nodes[i]
        out[i] = gumbel_select(
            n_visits[v], w_sums[v], priors[v], penalty[v], node_value[v], c_visit, c_scale
        )
    return out


@njit(cache=True, nogil=True)
def _root_rows(roots, n_visits, w_sums, priors, penalty, node_value, c_visit, c_scale):
    """``(sigma, improved)``, both ``float64[B, A]``: ``sigma(completed_q)`` and the improved
    policy at each root (0 on illegal actions)."""
    b_count, num_actions = roots.shape[0], n_visits.shape[1]
    sigma = np.zeros((b_count, num_actions))
    improved = np.zeros((b_count, num_actions))
    for b in range(b_count):
        v = roots[b]
        n_row, w_row, p_row, pen = n_visits[v], w_sums[v], priors[v], penalty[v]
        _, n_max, v_mix, q_min, q_max = _completion(n_row, w_row, p_row, pen, node_value[v])
        scale = _sigma_scale(n_max, q_min, q_max, c_visit, c_scale)
        sigma_max = scale * (q_max - q_min)
        z = 0.0
        for a in range(num_actions):
            if np.isfinite(pen[a]):
                sigma[b, a] = scale * (_completed(n_row[a], w_row[a], v_mix) - q_min)
                improved[b, a] = _improved_weight(p_row[a], sigma[b, a], sigma_max)
                z += improved[b, a]
        for a in range(num_actions):
            improved[b, a] /= z
    return sigma, improved


# ----------------------------------------------------------------- the root of one search
class GumbelRoot:
    """The Gumbel root of ``B`` trees during one search: the noise, the considered actions'
    schedule and this search's visits.

    Args:
        pool: the node pool; the roots are expanded (priors, penalties, values set).
        roots: ``int64[B]`` root node ids.
        params: ``root_policy = "gumbel"`` parameters.
        num_simulations: simulations this search runs (the schedule's length).
        rng: source of the Gumbel noise.
        add_noise: draw Gumbel noise (self-play); without it ``g = 0``, the noiseless
            search evaluation play uses.

    The schedule counts only this search's visits: a reused subtree's earlier visits
    inform ``Q`` and ``sigma`` but do not shift the sequential halving.
    """

    def __init__(
        self,
        pool: NodePool,
        roots: np.ndarray,
        params: MctsParams,
        num_simulations: int,
        rng: np.random.Generator,
        add_noise: bool,
    ) -> None:
        self.pool, self.roots, self.params = pool, roots, params
        priors = pool.P[roots]
        legal = np.isfinite(pool.penalty[roots])
        self.logits = np.where(legal, np.log(np.maximum(priors, _TINY)), -np.inf)
        """``float64[B, A]`` ``log P`` on the legal actions, ``-inf`` elsewhere."""
        self.gumbel = (
            params.gumbel_scale * rng.gumbel(size=priors.shape)
            if add_noise
            else np.zeros(priors.shape)
        )
        """``float64[B, A]`` the root Gumbel noise ``g``."""
        m = np.minimum(params.max_num_considered_actions, legal.sum(1))
        self._several = m > 1
        """``bool[B]`` trees that consider more than one root action."""
        self._schedule = np.array(
            [considered_visits(int(k), num_simulations) for k in m], np.float64
        ).reshape(len(roots), num_simulations)
        self.counts = np.zeros(priors.shape)
        """``float64[B, A]`` root visits of this search so far."""
        self._sim = 0

    def _rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(sigma, improved)``, both ``float64[B, A]``, at the roots (:func:`_root_rows`).
        With the solver on the rows it rewrites, as below the root
        (:func:`~az_gym._mcts_solver.solver_rows`: a proven child's ``Q`` is exact, a
        dominated child is left out), except at a root lost whatever it plays, where every
        move is dominated and the plain penalties stay."""
        pool, p, roots = self.pool, self.params, self.roots
        c = float(p.c_visit), float(p.c_scale)
        if not p.solver:
            return _root_rows(roots, pool.N, pool.W, pool.P, pool.penalty, pool.value, *c)
        w, pen = solver_rows(pool, roots)
        pen = np.where(np.isfinite(pen).any(1, keepdims=True), pen, pool.penalty[roots])
        at = np.arange(roots.size)
        return _root_rows(at, pool.N[roots], w, pool.P[roots], pen, pool.value[roots], *c)

    def _best(self, candidates: np.ndarray) -> np.ndarray:
        """``int64[B]``: among ``candidates bool[B, A]``, the highest ``g + logits + sigma``
        (lowest index on ties)."""
        score = self.gumbel + self.logits + self._rows()[0]
        return np.where(candidates, score, -np.inf).argmax(1)

    def _open(self) -> np.ndarray:
        """``bool[B, A]`` (solver) the legal root actions whose child is not proven
        (unexpanded or still open): the only ones a simulation can learn anything about."""
        pool, roots = self.pool, self.roots
        ch = pool.C[roots].astype(np.int64)
        proven = (ch >= 0) & ~np.isnan(pool.proven[ch, 0])
        return np.isfinite(pool.penalty[roots]) & ~proven

    def _redirected(self, level: np.ndarray, holding: np.ndarray) -> np.ndarray:
        """``bool[B, A]`` (solver) the actions the next simulation may be forced onto at the
        schedule's visit counts ``level float[B]`` (``holding``: the actions holding them).

        A proven child needs no more visits (its value is exact, and a descent would stop at
        it), so it leaves the schedule and its place goes to the open actions holding the
        level; when none holds it, to the open ones holding the fewest visits above it (the
        survivors of its phase), else the most below it (the best of those eliminated
        before and, once every sampled action is proven, the actions never sampled: the
        considered set is refilled, so a root can be proven through all its moves). A row
        with no open action keeps ``holding``: a proven root, which rests, or the root of a
        one-player game, which is never proven.
        """
        open_, counts = self._open(), self.counts
        lv = level[:, None]
        above = np.where(open_ & (counts >= lv), counts, np.inf).min(1)
        below = np.where(open_ & (counts < lv), counts, -np.inf).max(1)
        target = np.where(np.isfinite(above), above, below)[:, None]
        return np.where(open_.any(1, keepdims=True), open_ & (counts == target), holding)

    def next_actions(self) -> np.ndarray:
        """``int64[B]`` the forced root action of the next simulation of every tree
        (counted as visited): the best holding the schedule's visit count; with the solver
        never a proven child while any move is open (:meth:`_redirected`)."""
        level = self._schedule[:, self._sim]
        holding = self.counts == level[:, None]
        if self.params.solver:
            holding = self._redirected(level, holding)
        actions = self._best(holding)
        self.counts[np.arange(len(actions)), actions] += 1.0
        self._sim += 1
        return actions

    def next_step(self, k: int, live: np.ndarray | None = None) -> list[np.ndarray]:
        """The forced root actions of the next simulation step of up to ``k`` descents per
        tree: :meth:`next_actions` while the schedule lasts and no tree (of the ``live``
        row indices, default every tree) is forced twice onto one action in the step, but
        a tree that considers one action (a forced move, ``max_num_considered_actions =
        1``), whose descents all go down it under virtual loss as in a PUCT search.

        Distinct root actions put the step's descents in disjoint subtrees, so none meets
        another's virtual loss, and each action's sequential-halving visits are its
        sequential search's: within a round of a phase every considered action takes one
        visit whatever the order. When the schedule would send a second descent down the
        same action (its next round, or a last phase with fewer actions than ``k``), the
        step ends instead: those descents would only turn, under virtual loss, onto poorer
        lines and skew that action's ``Q``, which sequential halving compares. Each step
        holds at least one descent.

        Returns:
            One ``int64[B]`` per descent of the step.
        """
        rows = np.arange(len(self.roots)) if live is None else live
        rows = rows[self._several[rows]]
        taken = np.zeros(self.counts.shape, bool)
        step: list[np.ndarray] = []
        while len(step) < k and self._sim < self._schedule.shape[1]:
            actions = self.next_actions()
            if step and taken[rows, actions[rows]].any():
                self.counts[np.arange(len(actions)), actions] -= 1.0  # not this step's
                self._sim -= 1
                break
            taken[np.arange(len(actions)), actions] = True
            step.append(actions)
        return step

    def selected_actions(self) -> np.ndarray:
        """``int64[B]`` the action to play: the best ``g + logits + sigma`` among the most
        visited of this search (the paper's ``A_{n+1}``).

        With the solver the candidates are the most visited open actions and the proven
        children the solver allows (:func:`~az_gym._mcts_solver.choices`): a proven child's
        exact value needs no visits to be compared. So a proven win is selected, a proven
        loss never while another move is open, and at a proven root only its best proven
        moves compete.
        """
        most = self.counts == self.counts.max(1, keepdims=True)
        if not self.params.solver:
            return self._best(most)
        open_ = self._open()
        open_counts = np.where(open_, self.counts, -1.0)
        most_open = open_ & (self.counts == open_counts.max(1, keepdims=True))
        root_open = np.isnan(self.pool.proven[self.roots, 0])[:, None]
        cands = (most_open & root_open) | (choices(self.pool, self.roots) & ~open_)
        return self._best(np.where(cands.any(1, keepdims=True), cands, most))

    def improved_policy(self) -> np.ndarray:
        """``float64[B, A]`` ``softmax(logits + sigma(completed_q))`` over the legal actions
        (zero elsewhere): the policy target. With the solver a proven child's completed
        ``Q`` is its exact value and a dominated child gets no mass (:meth:`_rows`)."""
        return self._rows()[1]
