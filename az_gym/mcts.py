"""Batched PUCT / Gumbel search over arrays (numpy and numba; knows only the game contract).

:class:`BatchedMcts` steps ``B`` search trees in lockstep. Each simulation step descends
every tree to a leaf, expands the ``B`` leaves with the game, scores all non-terminal
leaves with ONE evaluator call, and backs the values up. The trees live in one shared pool
of arrays (:class:`az_gym._mcts_tree.NodePool`), one row per node: visit counts
``N[node, a]``, value sums ``W[node, a]``, priors ``P[node, a]``, child ids ``C[node, a]``
(``-1`` while unexpanded) and an illegal-action penalty (``0`` or ``-inf``); no Python
object per node besides the game state itself.

Points of view. ``W[node, a]`` sums values *for the player to move at* ``node``. A leaf's
value becomes a per-player vector (``game.returns`` for a terminal leaf, the evaluator's
value spread zero-sum over the players otherwise), and each edge on the path takes the
entry of its own node's mover, so passes and double moves (Othello) are handled without
ever assuming that players alternate. A terminal state's ``to_play`` is never read.

Selection (written once, :func:`az_gym._mcts_backends.puct_score` and
:func:`~az_gym._mcts_backends.fpu_value`, shared by both backends): PUCT as AlphaZero.jl's
``uct_scores``, ``score(a) = Q(a) + c_puct * P(a) * sqrt(N) / (1 + N(a))`` with
``Q(a) = W(a) / N(a)`` and ``N = max(1, sum_a N(a))`` (the ``max`` lets the priors order the
very first visit). Illegal actions score ``-inf``; ties go to the lowest action index, so
the search is deterministic without noise. An unvisited action's ``Q`` is ``0``, or with
first-play urgency (``MctsParams.fpu_reduction``, off by default as in AlphaZero.jl) the
node's own value ``(v + sum_a W(a)) / (1 + sum_a N(a))`` (``v``: the evaluator's value of
the node) minus the reduction (Leela Zero's rule, which also scales the reduction by the
square root of the prior mass already visited). With ``Q = 0`` a side that judges its
position lost (every visited ``Q < 0``) prefers any unvisited move to the visited ones, so
its visits spread over every legal move and the search stays one ply deep exactly where it
must read a forced defence (gomoku, with ~80 moves a node).

Gumbel root (``MctsParams.root_policy = "gumbel"``, :mod:`az_gym._gumbel`): each
simulation's root action is forced by sequential halving over Gumbel-top-k sampled actions,
nodes below the root select deterministically from their improved policy, and the result
carries the selected ``action`` and the ``improved_policy`` (the training target); the root
Dirichlet noise is not used (``add_noise`` draws the Gumbel noise instead). With the solver,
no root simulation is forced onto a proven child while a root move is open (the considered
set is refilled from the moves not sampled once every sampled one is proven, so the root's
proof, over all its legal moves, can end the search early).

MCTS solver (``MctsParams.solver``, :mod:`az_gym._mcts_solver`): proven wins, draws and
losses are backed up the tree after each simulation; PUCT scores a proven child by its
exact value and never picks one that is dominated (a proven loss while another move is
open); a descent stops at a proven child and backs its exact value up, so a proven subtree
is never searched again; a proven root ends its tree's search (``SearchResult.simulations``,
``proven_value``, ``proven_q``, ``choices``), and :func:`play_policy` and
``SearchResult.policy_target`` keep to the moves the solver allows.

Discounting: the edge into a terminal child earns ``returns`` undiscounted; the edge into a
non-terminal leaf earns ``gamma * value``; every level further up multiplies by ``gamma``.

Backends (:mod:`az_gym._mcts_backends`): the descent and the backup run as compiled loops over
the pool arrays (numba), or as numpy passes vectorised across trees (one pass per depth
level, ``backend="numpy"``); both give bit-identical searches
(``tests/test_golden.py``). Leaf expansion (game calls) and evaluation are shared code;
storing the priors and turning leaves into values are compiled loops shared by both
(:mod:`az_gym._mcts_leaves`), which a single tree's step would otherwise spend on fixed
numpy costs. The simulation step itself (descents, expansion, evaluation, backup) is
:class:`az_gym._mcts_step.SimulationStep`, which :class:`BatchedMcts` inherits.

Leaf parallelism (``MctsParams.leaves_per_call = k``, AlphaZero.jl's workers per tree): a
simulation step descends every tree ``k`` times before evaluating. Each descent but the last
puts a *virtual loss* on its path (one pending visit and ``-virtual_loss`` added to the
value sum of every edge, for that edge's mover), so the next descents turn elsewhere; the
``B * k`` leaves are expanded and scored in ONE evaluator call, then the virtual loss comes
off and every descent is backed up. Descents of one tree that still meet at the same
unexpanded edge (a forced move, too small a virtual loss) share one new node, expanded and
scored once, and each backs its value up: every descent is one visit, so the root's visits
grow by exactly the simulation budget (the last step takes what is left of it). With
Gumbel root search the root actions are forced, and a step takes at most one descent per
root action (:meth:`az_gym._gumbel.GumbelRoot.next_step`: a round of sequential halving, cut
at ``k``), so that its descents never meet a virtual loss; steps are shorter than ``k`` in
the last phases, which hold fewer actions. ``k = 1`` is the sequential search, bit for bit.
Both backends agree bit for bit at every ``k``.

Tree reuse: the search holds numbered tree *slots*. :meth:`BatchedMcts.search` searches
``states[i]`` in slot ``trees[i]`` (default: slot ``i``): it looks for the state (by
``game.key``) at the root, a child or a grandchild of that slot's previous root and re-roots
there, keeping the statistics of that subtree; otherwise the slot starts fresh. A caller
that searches a varying subset of its games (lockstep self-play, where only the games whose
mover is this player are searched) passes each game's own slot id so each game keeps its
tree. Unreachable nodes are dropped at the start of every search (the pool is compacted).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol

import numpy as np

from az_gym._gumbel import GumbelRoot
from az_gym._mcts_backends import make_backend
from az_gym._mcts_solver import check_solvable, choices
from az_gym._mcts_step import SimulationStep
from az_gym._mcts_tree import NodePool, check_tree_ids
from az_gym._search_result import SearchResult, play_policy, visits_to_policy
from az_gym.game import Game, GameOverError, State
from az_gym.mcts_params import MctsParams

__all__ = [
    "BatchedMcts",
    "Evaluator",
    "MctsParams",
    "SearchResult",
    "play_policy",
    "visits_to_policy",
]


class Evaluator(Protocol):
    """Anything that scores a batch of positions for the search.

    Optional class attributes tune what the search passes (read with ``getattr``):

    * ``needs_observations: bool = True``; when False the search skips building
      observations and passes ``observations=None`` (e.g. :class:`UniformEvaluator`).
    * ``needs_states: bool = False``; when True the search also passes the game states as
      the keyword ``states=`` (a list of ``B`` states), e.g. for random rollouts.
    * ``deterministic: bool = True``; False for an evaluator that draws random numbers
      (rollouts, a random symmetry per call): the evaluation cache
      (:mod:`az_gym.eval_cache`) never wraps it.
    """

    def __call__(
        self, observations: np.ndarray, masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score positions.

        Args:
            observations: ``float32[B, *observation_shape]``, each from its mover's view
                (``None`` for an evaluator whose ``needs_observations`` is False).
            masks: ``bool[B, num_actions]`` legal actions.

        Returns:
            ``(priors float[B, num_actions], values float[B])``; priors are zero on illegal
            actions and sum to 1; values are for the player to move, in ``[-1, 1]``.
        """
        ...


class BatchedMcts(SimulationStep):
    """``B`` search trees stepped in lockstep, one evaluator call per simulation step.

    Args:
        game: the rules.
        evaluator: scores leaves (see :class:`Evaluator`).
        params: search parameters.
        rng: source of the Dirichlet noise (a fresh default generator if ``None``).
        backend: ``"numba"`` (compiled descent/backup loops), ``"numpy"`` (vectorised
            across trees, one numpy pass per depth level) or ``"auto"`` (numba). Both give
            identical searches.
        num_trees: number of tree slots, fixed (slot ids must be below it); ``None``: the
            slots grow to the largest id searched.
    """

    def __init__(
        self,
        game: Game,
        evaluator: Evaluator,
        params: MctsParams,
        *,
        rng: np.random.Generator | None = None,
        backend: str = "auto",
        num_trees: int | None = None,
    ) -> None:
        if num_trees is not None and (isinstance(num_trees, bool) or num_trees < 1):
            raise ValueError(f"BatchedMcts: num_trees = {num_trees!r}; must be >= 1 or None")
        self.num_trees = num_trees
        self._backend = make_backend(backend)
        self.backend: str = self._backend.name
        """The backend in use: ``"numba"`` or ``"numpy"``."""
        if params.solver:
            check_solvable(game)
        self.game = game
        self.evaluator = evaluator
        self.params = params
        self.rng = rng if rng is not None else np.random.default_rng()
        self._pool = NodePool(game.num_actions, game.num_players)
        self._roots = np.zeros(0, np.int64)  # root node of each tree slot, -1: empty
        self._needs_obs = bool(getattr(evaluator, "needs_observations", True))
        self._needs_states = bool(getattr(evaluator, "needs_states", False))
        self.evaluator_seconds = 0.0
        """Wall time spent inside evaluator calls so far (for profiling)."""

    # ------------------------------------------------------------------ public
    def search(
        self,
        states: Sequence[State],
        *,
        add_noise: bool = False,
        num_simulations: int | None = None,
        trees: Sequence[int] | None = None,
    ) -> SearchResult:
        """Search each state in its tree slot; a slot keeps its subtree when the state is a
        position already in it (the played moves are reused).

        Args:
            states: ``B`` non-terminal positions.
            add_noise: mix Dirichlet noise into the root priors (self-play exploration).
            num_simulations: simulations to run *in addition* to the reused statistics
                (default ``params.num_iters_per_turn``).
            trees: ``B`` distinct slot ids, ``trees[i]`` holding the tree of ``states[i]``;
                the slots not named keep their trees for a later search. ``None``: slots
                ``0 .. B-1``, and every other slot is emptied.

        Returns:
            Statistics in the order of ``states``.

        Raises:
            GameOverError: one of the states is terminal.
            ValueError: bad ``trees`` (wrong length, repeated, negative or ``>= num_trees``).
        """
        game, pool = self.game, self._pool
        for i, s in enumerate(states):
            if game.is_terminal(s):
                raise GameOverError(
                    f"BatchedMcts.search: states[{i}] is terminal; nothing to search"
                )
        n_sims = self.params.num_iters_per_turn if num_simulations is None else num_simulations
        if n_sims < 0:
            raise ValueError(f"num_simulations = {n_sims}; must be >= 0")
        b = len(states)
        slots = check_tree_ids(trees, b, self.num_trees)
        old = self._roots
        n_slots = max(int(slots.max()) + 1 if b else 0, old.size if trees is not None else 0)
        all_roots = np.full(n_slots, -1, np.int64)
        if trees is not None:
            all_roots[: old.size] = old
        for i, s in enumerate(states):
            t = int(slots[i])
            prev = int(old[t]) if t < old.size else -1
            all_roots[t] = self._find(prev, game.key(s)) if prev >= 0 else -1
        all_roots = pool.compact(all_roots)
        roots = all_roots[slots]
        reused = roots >= 0
        fresh = np.flatnonzero(~reused)
        if fresh.size:
            ids = pool.allocate(fresh.size)
            for i, node in zip(fresh.tolist(), ids.tolist()):
                pool.states[node] = states[i]
            self._expand(ids, [states[i] for i in fresh.tolist()])
            roots[fresh] = ids
        all_roots[slots] = roots
        self._roots = all_roots
        root_priors = pool.P[roots].astype(np.float64)
        gumbel = None
        if self.params.root_policy == "gumbel":  # Gumbel noise instead of Dirichlet
            gumbel = GumbelRoot(pool, roots, self.params, n_sims, self.rng, add_noise)
        elif add_noise and b:
            root_priors = self._noisy(root_priors, np.isfinite(pool.penalty[roots]))
        k = self.params.leaves_per_call
        sims = np.zeros(b, np.int64)
        solver = self.params.solver
        done = 0
        while done < n_sims:
            # A proven root (solver only) is decided: its tree rests.
            live = np.flatnonzero(np.isnan(pool.proven[roots, 0])) if solver else None
            if live is not None and live.size == 0:
                break
            step = min(k, n_sims - done)
            forced = None  # Gumbel: the step's forced root actions, in order, distinct
            if gumbel is not None:
                forced = gumbel.next_step(step, live)
                step = len(forced)
            done += step
            if live is None or live.size == b:
                self._simulate(roots, root_priors, step, forced)
                sims += step
            else:
                sub = None if forced is None else [f[live] for f in forced]
                self._simulate(roots[live], root_priors[live], step, sub)
                sims[live] += step
        n, w = pool.N[roots].astype(np.float64), pool.W[roots]
        q = np.divide(w, n, out=np.zeros_like(w), where=n > 0)
        net_v = pool.value[roots].copy()
        root_value = (net_v + w.sum(1)) / (1.0 + n.sum(1))
        prior = pool.P[roots].astype(np.float64)
        solved: dict = {}
        if solver:
            mover = pool.to_play[roots]
            proven = pool.proven[roots, mover]
            ch = pool.C[roots].astype(np.int64)
            solved = dict(
                proven_value=proven,
                proven_q=np.where(ch >= 0, pool.proven[ch, mover[:, None]], np.nan),
                choices=choices(pool, roots),
            )
            root_value = np.where(np.isnan(proven), root_value, proven)
        if gumbel is None:
            return SearchResult(
                n, root_value, q, prior, net_v, reused, noisy=add_noise, simulations=sims,
                **solved,
            )  # fmt: skip
        return SearchResult(
            n, root_value, q, prior, net_v, reused, gumbel.improved_policy(),
            gumbel.selected_actions(), add_noise, sims, **solved,
        )  # fmt: skip

    def search_one(
        self, state: State, *, add_noise: bool = False, num_simulations: int | None = None
    ) -> SearchResult:
        """Search one state (tree 0); the result has a batch axis of size 1."""
        return self.search([state], add_noise=add_noise, num_simulations=num_simulations)

    def policy(self, result: SearchResult, move_number: Sequence[int] | int) -> np.ndarray:
        """``float[B, A]``: the move distribution (:func:`play_policy`) with the
        temperature schedule at each game's move number."""
        b = len(result.visits)
        moves = [move_number] * b if isinstance(move_number, (int, np.integer)) else move_number
        if len(moves) != b:
            raise ValueError(f"policy: {len(moves)} move numbers for {b} results")
        taus = np.array([float(self.params.temperature[int(m)]) for m in moves])
        opening = np.array([int(m) < self.params.gumbel_opening_moves for m in moves], bool)
        return play_policy(result, taus, opening=opening)

    def reset(self, index: int | None = None) -> None:
        """Empty tree slot ``index`` (all slots if ``None``); an empty slot is a no-op."""
        if index is None:
            self._roots = np.zeros(0, np.int64)
            self._pool.compact(self._roots)
            return
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
            raise ValueError(f"BatchedMcts.reset: index = {index!r}; must be an int >= 0")
        if index < self._roots.size:
            self._roots[index] = -1
        # the nodes become unreachable and are dropped at the next search

    def tree_size(self, index: int) -> int:
        """Nodes in tree slot ``index`` (0 for an empty slot)."""
        if not 0 <= index < self._roots.size or self._roots[index] < 0:
            return 0
        return self._pool.subtree_size(int(self._roots[index]))

    @property
    def num_nodes(self) -> int:
        """Nodes held in the pool (all trees)."""
        return self._pool.size

    # ---------------------------------------------------------------- internals
    def _find(self, root: int, key: Hashable) -> int:
        """The node under ``root`` (itself, a child or a grandchild) whose state has
        ``key`` and is not terminal, or ``-1``."""
        pool, game = self._pool, self.game
        if pool.key(game, root) == key:
            return root
        children = pool.C[root][pool.C[root] >= 0]
        for level in (children, pool.C[children][pool.C[children] >= 0]):
            for node in level.tolist():
                if not pool.terminal[node] and pool.key(game, node) == key:
                    return node
        return -1

    def _noisy(self, priors: np.ndarray, legal: np.ndarray) -> np.ndarray:
        """Mix Dirichlet(alpha) noise over the legal actions into ``priors [B, A]``."""
        eps, alpha = self.params.dirichlet_noise_epsilon, self.params.dirichlet_noise_alpha
        # Dirichlet through normalised Gamma draws, restricted to the legal actions.
        g = self.rng.standard_gamma(alpha, size=priors.shape) * legal
        g /= np.maximum(g.sum(1, keepdims=True), 1e-300)
        return (1.0 - eps) * priors + eps * g
