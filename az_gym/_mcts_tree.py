"""Tree storage and compiled hot loops of :mod:`az_gym.mcts` (numpy; numba if installed).

:class:`NodePool` holds the nodes of every tree in arrays. :func:`descend` and :func:`backup`
walk every tree of a :class:`az_gym.mcts.BatchedMcts` node pool with plain
loops, the same arithmetic in the same order as the vectorised numpy path, so the two
backends give identical searches. :data:`AVAILABLE` says whether numba compiled them; the
search falls back to its numpy path when it is False.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from az_gym.game import Game, State

try:  # numba is optional: a speed-up, never a requirement
    from numba import njit

    AVAILABLE = True
except ImportError:  # pragma: no cover - exercised only without numba
    AVAILABLE = False

    def njit(*args, **kwargs):  # type: ignore[no-redef]
        """Stand-in decorator: leaves the function as plain Python."""
        return lambda f: f


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
        self.ret = np.zeros((cap, p), np.float64)  # returns of terminal nodes
        self.value = np.zeros(cap, np.float64)  # evaluator value for the mover

    _FIELDS = ("N", "W", "P", "C", "penalty", "to_play", "terminal", "ret", "value")

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
        self.N[ids] = 0
        self.W[ids] = 0
        self.C[ids] = -1
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
    node_value: np.ndarray,
    use_fpu: bool,
    fpu_reduction: float,
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
        node_value: ``float64[nodes]`` evaluator value of each node for its mover.
        use_fpu, fpu_reduction: when ``use_fpu``, an unvisited action's Q is the node's
            value ``(node_value + sum W) / (1 + sum N)`` minus ``fpu_reduction`` instead of 0.

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
            w_total = 0.0
            for a in range(num_actions):
                total += n_visits[node, a]
                w_total += w_sums[node, a]
            sqrt_total = np.sqrt(max(total, 1.0))
            fpu_q = 0.0
            if use_fpu:
                fpu_q = (node_value[node] + w_total) / (1.0 + total) - fpu_reduction
            best = 0
            best_score = -np.inf
            for a in range(num_actions):
                p = root_priors[b, a] if d == 0 else priors[node, a]
                n = n_visits[node, a]
                q = w_sums[node, a] / n if n > 0.0 else fpu_q
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
