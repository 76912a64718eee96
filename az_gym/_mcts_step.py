"""One simulation step of :class:`~az_gym.mcts.BatchedMcts`: descend, expand, evaluate,
back up.

:class:`SimulationStep` is the part of the search below its root: ``k`` descents of every
tree (a virtual loss on each path but the last keeps them apart; leaf parallelism, see
:mod:`az_gym.mcts`), the expansion of the new leaves with the game, ONE evaluator call for
all of them, and the backup (with the solver's proofs). :class:`~az_gym.mcts.BatchedMcts`
inherits it and owns the state it works on: ``game``, ``evaluator``, ``params``,
``evaluator_seconds``, the node pool ``_pool``, the backend ``_backend`` and what the
evaluator needs (``_needs_obs``, ``_needs_states``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from az_gym._mcts_leaves import leaf_values, store_priors
from az_gym._mcts_solver import check_returns
from az_gym._mcts_tree import NodePool, distinct_edges
from az_gym.game import Game, State
from az_gym.mcts_params import MctsParams

if TYPE_CHECKING:
    from az_gym.mcts import Evaluator


class SimulationStep:
    """Expansion and the simulation step, on the attributes of a
    :class:`~az_gym.mcts.BatchedMcts` (see the module docstring)."""

    game: Game
    evaluator: Evaluator
    params: MctsParams
    evaluator_seconds: float
    _pool: NodePool
    _backend: Any
    _needs_obs: bool
    _needs_states: bool

    def _expand(self, ids: np.ndarray, states: list[State]) -> None:
        """Fill the rows of new nodes ``ids`` holding ``states``: terminal returns, or
        legal mask, mover, priors and value from ONE evaluator call."""
        game, pool = self.game, self._pool
        is_terminal = game.is_terminal
        term_list = list(map(is_terminal, states))
        if any(term_list):
            term = np.array(term_list, bool)
            pool.terminal[ids] = term
            for j in np.flatnonzero(term).tolist():
                ret = game.returns(states[j])
                if self.params.solver:
                    check_returns(game, ret)
                pool.proven[ids[j]] = ret  # a terminal node is proven by its returns
            live = np.flatnonzero(~term)
            if live.size == 0:
                return
            lstates = [states[j] for j in live.tolist()]
            lids = ids[live]
        else:
            pool.terminal[ids] = False
            lstates, lids = states, ids
        # One leaf (a single tree searched sequentially): the state's own mask, without
        # the batch version's per-call array work.
        masks = np.asarray(
            game.legal_mask(lstates[0])[None] if len(lstates) == 1 else game.legal_masks(lstates),
            bool,
        )
        obs = game.observations(lstates) if self._needs_obs else None
        t0 = time.perf_counter()
        if self._needs_states:
            priors, values = self.evaluator(obs, masks, states=lstates)
        else:
            priors, values = self.evaluator(obs, masks)
        self.evaluator_seconds += time.perf_counter() - t0
        priors = np.asarray(priors, np.float64)
        tp = self.params.prior_temperature
        if tp != 1.0:
            priors = (priors * masks) ** (1.0 / tp)
        values = np.asarray(values, np.float64).reshape(-1)
        store_priors(lids, priors, masks, values, pool.P, pool.penalty, pool.value)
        to_play = game.to_play
        pool.to_play[lids] = np.fromiter(map(to_play, lstates), np.int64, len(lstates))

    def _simulate(
        self, roots: np.ndarray, root_priors: np.ndarray, k: int,
        root_actions: list[np.ndarray] | None,
    ) -> None:  # fmt: skip
        """One simulation step: descend every tree ``k`` times (descent ``j`` from
        ``root_actions[j] int64[B]`` when the root's action is forced; a virtual loss on
        each path but the last keeps the ``k`` descents apart), expand + evaluate all new
        leaves in ONE evaluator call, take the virtual loss off and back every descent up."""
        pool, game, params, backend = self._pool, self.game, self.params, self._backend
        gumbel = (params.c_visit, params.c_scale) if params.root_policy == "gumbel" else None
        paths = []
        for j in range(k):
            paths.append(backend.descend(
                pool, roots, root_priors, params.cpuct, params.fpu_reduction,
                root_actions=None if root_actions is None else root_actions[j], gumbel=gumbel,
                solver=params.solver,
            ))  # fmt: skip
            if j < k - 1:
                backend.virtual_loss(pool, paths[-1], 1.0, params.virtual_loss)
        if k == 1:
            leaf_parent, leaf_action = paths[0].leaf_parent, paths[0].leaf_action
            leaf_child = paths[0].leaf_child.copy()
        else:  # flat index j * B + b: descent j of tree b
            leaf_parent = np.concatenate([d.leaf_parent for d in paths])
            leaf_action = np.concatenate([d.leaf_action for d in paths])
            leaf_child = np.concatenate([d.leaf_child for d in paths])
        new = (leaf_child < 0).nonzero()[0]
        if new.size:
            par, act = leaf_parent[new], leaf_action[new]
            if k > 1:
                first, slot = distinct_edges(par, act, game.num_actions)
                par, act = par[first], act[first]
            ids = pool.allocate(par.size)
            pool.C[par, act] = ids
            next_state, pstates = game.next_state, pool.states
            states = list(map(next_state, [pstates[p] for p in par.tolist()], act.tolist()))
            pstates[ids[0] : ids[-1] + 1] = states  # allocate() gives consecutive ids
            self._expand(ids, states)
            leaf_child[new] = ids if k == 1 else ids[slot]
        # Leaf values as per-player vectors g [B*k, num_players].
        g = leaf_values(leaf_child, pool.value, pool.to_play, pool.proven, float(params.gamma))
        b = roots.size
        for j, path in enumerate(paths):
            if j < k - 1:
                backend.virtual_loss(pool, path, -1.0, params.virtual_loss)
            backend.backup(pool, path, g[j * b : (j + 1) * b], params.gamma)
            if params.solver and game.num_players == 2:
                backend.prove(pool, path, leaf_child[j * b : (j + 1) * b])
