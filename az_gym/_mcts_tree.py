"""Tree storage of :mod:`az_gym.mcts`: every node of every tree in a few arrays (numpy).

:class:`NodePool` holds the nodes; :func:`check_tree_ids` validates the tree slots a search
names; :func:`distinct_edges` merges the duplicate leaves of a leaf-parallel step. Walking
the trees (selection, descent, backup) lives in :mod:`az_gym._mcts_backends` and its two
backends, :mod:`az_gym._mcts_numba` and :mod:`az_gym._mcts_numpy`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from az_gym.game import Game, State


class NodePool:
    """Arrays holding the nodes of every tree; node ids index the first axis.

    Memory: about 36 bytes per (node, action), e.g. ~60 MB for 256 trees x 800 nodes of
    Connect Four; the unreachable nodes are dropped by :meth:`compact` between searches.
    """

    def __init__(self, num_actions: int, num_players: int, capacity: int = 256) -> None:
        self.num_actions, self.num_players = num_actions, num_players
        self.size = 0
        self.states: list[State] = []
        self.keys: list[Hashable | None] = []
        self._alloc(capacity)

    def _alloc(self, cap: int) -> None:
        a, p = self.num_actions, self.num_players
        self.N = np.zeros((cap, a), np.float64)  # visit counts
        self.W = np.zeros((cap, a), np.float64)  # value sums, for this node's mover
        self.P = np.zeros((cap, a), np.float64)  # priors
        self.C = np.full((cap, a), -1, np.int32)  # child ids, -1 unexpanded
        self.penalty = np.zeros((cap, a), np.float64)  # 0 legal, -inf illegal (selection)
        self.to_play = np.zeros(cap, np.int64)
        self.terminal = np.zeros(cap, bool)
        # Exact value per player, NaN while unknown: a terminal node's returns, and with the
        # solver (az_gym._mcts_solver) the game-theoretic value of a proven node.
        self.proven = np.full((cap, p), np.nan, np.float64)
        self.value = np.zeros(cap, np.float64)  # evaluator value for the mover

    _FIELDS = ("N", "W", "P", "C", "penalty", "to_play", "terminal", "proven", "value")

    def allocate(self, count: int) -> np.ndarray:
        """Return ``int[count]`` fresh node ids (zeroed rows, children -1)."""
        need = self.size + count
        cap = len(self.N)
        if need > cap:
            old = {f: getattr(self, f) for f in self._FIELDS}
            self._alloc(max(need, 2 * cap))
            for f, arr in old.items():
                getattr(self, f)[: self.size] = arr[: self.size]
        ids = np.arange(self.size, need)
        self.N[self.size : need] = 0  # slices: cheaper than indexing with ids
        self.W[self.size : need] = 0
        self.C[self.size : need] = -1
        self.proven[self.size : need] = np.nan
        self.size = need
        self.states.extend([None] * count)
        self.keys.extend([None] * count)
        return ids

    def key(self, game: Game, node: int) -> Hashable:
        """``game.key`` of a node's state (cached)."""
        k = self.keys[node]
        if k is None:
            k = self.keys[node] = game.key(self.states[node])
        return k

    def compact(self, roots: np.ndarray) -> np.ndarray:
        """Keep only the subtrees under ``roots`` (``-1`` entries ignored); return the
        roots' new ids (``-1`` stays ``-1``)."""
        kept = roots[roots >= 0]
        if kept.size == 0:
            self.size, self.states, self.keys = 0, [], []
            return roots.copy()
        layers, frontier = [kept], kept
        while frontier.size:
            ch = self.C[frontier].ravel()
            frontier = ch[ch >= 0].astype(np.int64)
            layers.append(frontier)
        old = np.concatenate(layers)
        remap = np.full(self.size + 1, -1, np.int64)  # remap[-1] == -1 keeps "no child"
        remap[old] = np.arange(old.size)
        for f in self._FIELDS:
            arr = getattr(self, f)
            arr[: old.size] = arr[old]
        self.C[: old.size] = remap[self.C[: old.size]]
        self.size = old.size
        self.states = [self.states[i] for i in old]
        self.keys = [self.keys[i] for i in old]
        return np.where(roots >= 0, remap[roots], -1)

    def subtree_size(self, root: int) -> int:
        """Nodes in the subtree under node ``root`` (itself included)."""
        count, frontier = 0, np.array([root], np.int64)
        while frontier.size:
            count += frontier.size
            ch = self.C[frontier].ravel()
            frontier = ch[ch >= 0].astype(np.int64)
        return count


def check_tree_ids(trees: Sequence[int] | None, b: int, num_trees: int | None) -> np.ndarray:
    """``int64[b]`` tree slot ids from ``trees`` (``0 .. b-1`` if ``None``), validated.

    Raises:
        ValueError: ``trees`` has not ``b`` entries, repeats an id, holds a non-integer or
            negative id, or one ``>= num_trees`` (when ``num_trees`` is not ``None``).
    """
    if trees is None:
        slots = np.arange(b, dtype=np.int64)
    else:
        raw = list(trees)
        if len(raw) != b:
            raise ValueError(f"BatchedMcts.search: {len(raw)} tree ids for {b} states")
        for t in raw:
            if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0:
                raise ValueError(f"BatchedMcts.search: tree id {t!r} in trees; must be an int >= 0")
        slots = np.asarray(raw, dtype=np.int64).reshape(b)
        if np.unique(slots).size != b:
            raise ValueError(f"BatchedMcts.search: trees = {raw}; ids must be distinct")
    if num_trees is not None and b and slots.max() >= num_trees:
        raise ValueError(
            f"BatchedMcts.search: tree id {int(slots.max())}; must be < num_trees = {num_trees}"
        )
    return slots


def distinct_edges(
    par: np.ndarray, act: np.ndarray, num_actions: int
) -> tuple[np.ndarray, np.ndarray]:
    """Duplicate leaves of a leaf-parallel step: descents of one tree that stopped at the
    same unexpanded edge ``(par[i], act[i])`` share one new node (expanded and evaluated
    once) and each backs its value up (so every descent is one visit).

    Returns:
        ``(first, slot)``: ``first int[u]`` the index of each distinct edge's first
        occurrence, in order of appearance; ``slot int[n]`` which of those each entry is.
    """
    key = par * num_actions + act
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return first[order], rank[inverse.reshape(-1)]
