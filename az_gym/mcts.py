"""Batched PUCT search over arrays (numpy only; knows only the game contract).

:class:`BatchedMcts` steps ``B`` search trees in lockstep. Each simulation step descends
every tree to a leaf (selection vectorised across trees with numpy), expands the ``B``
leaves with the game, scores all non-terminal leaves with ONE evaluator call, and backs the
values up. The trees live in one shared pool of arrays (:class:`_NodePool`), one row per
node: visit counts ``N[node, a]``, value sums ``W[node, a]``, priors ``P[node, a]``, child
ids ``C[node, a]`` (``-1`` while unexpanded) and a legal mask; no Python object per node
besides the game state itself.

Points of view. ``W[node, a]`` sums values *for the player to move at* ``node``. A leaf's
value becomes a per-player vector (``game.returns`` for a terminal leaf, the evaluator's
value spread zero-sum over the players otherwise), and each edge on the path takes the
entry of its own node's mover, so passes and double moves (Othello) are handled without
ever assuming that players alternate. A terminal state's ``to_play`` is never read.

PUCT (AlphaZero.jl's ``uct_scores``): ``score(a) = Q(a) + c_puct * P(a) * sqrt(N) / (1 + N(a))``
with ``Q(a) = W(a) / N(a)`` (``0`` for an unvisited action) and ``N = max(1, sum_a N(a))`` (the
``max`` lets the priors order the very first visit). Illegal actions score ``-inf``; ties go
to the lowest action index, so the search is deterministic without noise.

Discounting: the edge into a terminal child earns ``returns`` undiscounted; the edge into a
non-terminal leaf earns ``gamma * value``; every level further up multiplies by ``gamma``.

Tree reuse: :meth:`BatchedMcts.search` looks for ``states[i]`` (by ``game.key``) at the root,
a child or a grandchild of tree ``i``'s previous root and re-roots there, keeping the
statistics of that subtree; otherwise tree ``i`` starts fresh. Unreachable nodes are
dropped at the start of every search (the pool is compacted).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from az_gym.game import Game, GameOverError, State
from az_gym.schedules import ConstSchedule, Schedule

_TAU_ARGMAX = 1e-3
"""Temperatures at or below this give the one-hot argmax policy."""


@dataclass(frozen=True, kw_only=True)
class MctsParams:
    """Parameters of an MCTS player (AlphaZero.jl's ``MctsParams``)."""

    num_iters_per_turn: int = 100
    """Simulations per move (AlphaGo Zero: 1600)."""
    gamma: float = 1.0
    """Discount factor of rewards along the tree (AlphaGo Zero: 1)."""
    cpuct: float = 1.0
    """Exploration constant c_puct in the PUCT formula."""
    temperature: Schedule = field(default_factory=lambda: ConstSchedule(1.0))
    """Move-selection temperature tau as a schedule over the move number."""
    dirichlet_noise_epsilon: float = 0.25
    """Weight epsilon of Dirichlet noise mixed into the root priors (AlphaGo Zero: 0.25)."""
    dirichlet_noise_alpha: float = 1.0
    """Concentration alpha of the root Dirichlet noise (AlphaGo Zero: 0.03; ~10/num_actions)."""
    prior_temperature: float = 1.0
    """Temperature applied to the network priors before search."""

    def __post_init__(self) -> None:
        checks = [
            ("num_iters_per_turn", self.num_iters_per_turn >= 1, ">= 1"),
            ("gamma", 0.0 < self.gamma <= 1.0, "in (0, 1]"),
            ("cpuct", self.cpuct >= 0.0, ">= 0"),
            ("dirichlet_noise_epsilon", 0.0 <= self.dirichlet_noise_epsilon <= 1.0, "in [0, 1]"),
            ("dirichlet_noise_alpha", self.dirichlet_noise_alpha > 0.0, "> 0"),
            ("prior_temperature", self.prior_temperature > 0.0, "> 0"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ValueError(f"MctsParams.{name} = {getattr(self, name)!r}; must be {rule}")
        if not isinstance(self.temperature, Schedule):
            raise ValueError(
                f"MctsParams.temperature = {self.temperature!r}; must be a Schedule "
                "(e.g. ConstSchedule(1.0))"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain-python description (the schedule as ``Schedule.to_dict()``)."""
        return {
            "num_iters_per_turn": self.num_iters_per_turn,
            "gamma": self.gamma,
            "cpuct": self.cpuct,
            "temperature": self.temperature.to_dict(),
            "dirichlet_noise_epsilon": self.dirichlet_noise_epsilon,
            "dirichlet_noise_alpha": self.dirichlet_noise_alpha,
            "prior_temperature": self.prior_temperature,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MctsParams:
        """Inverse of :meth:`to_dict`."""
        from az_gym.schedules import schedule_from_dict

        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"MctsParams: unknown fields {sorted(unknown)}; known: {sorted(known)}")
        kw = dict(d)
        if "temperature" in kw:
            kw["temperature"] = schedule_from_dict(kw["temperature"])
        return cls(**kw)


class Evaluator(Protocol):
    """Anything that scores a batch of positions for the search.

    Optional class attributes tune what the search passes (read with ``getattr``):

    * ``needs_observations: bool = True``; when False the search skips building
      observations and passes ``observations=None`` (e.g. :class:`UniformEvaluator`).
    * ``needs_states: bool = False``; when True the search also passes the game states as
      the keyword ``states=`` (a list of ``B`` states), e.g. for random rollouts.
    """

    def __call__(
        self, observations: np.ndarray, masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score positions.

        Args:
            observations: ``float32[B, *observation_shape]``, each from its mover's view.
            masks: ``bool[B, num_actions]`` legal actions.

        Returns:
            ``(priors float[B, num_actions], values float[B])``; priors are zero on illegal
            actions and sum to 1; values are for the player to move, in ``[-1, 1]``.
        """
        ...


@dataclass(frozen=True)
class SearchResult:
    """What one search says about each of ``B`` root states."""

    visits: np.ndarray
    """``float[B, A]`` visit counts of the root's children."""
    root_value: np.ndarray
    """``float[B]`` search value for the player to move at the root."""
    q: np.ndarray
    """``float[B, A]`` mean value of each child for the root's mover (0 where unvisited)."""
    prior: np.ndarray
    """``float[B, A]`` root priors (after prior temperature, before noise)."""
    network_value: np.ndarray
    """``float[B]`` the evaluator's value of the root for its mover."""


class _NodePool:
    """Arrays holding the nodes of every tree; node ids index the first axis."""

    def __init__(self, num_actions: int, num_players: int, capacity: int = 256) -> None:
        self.num_actions, self.num_players = num_actions, num_players
        self.size = 0
        self.states: list[State] = []
        self.keys: list[Hashable | None] = []
        self._alloc(capacity)

    def _alloc(self, cap: int) -> None:
        a, p = self.num_actions, self.num_players
        self.N = np.zeros((cap, a), np.float32)  # visit counts
        self.W = np.zeros((cap, a), np.float64)  # value sums, for this node's mover
        self.P = np.zeros((cap, a), np.float32)  # priors
        self.C = np.full((cap, a), -1, np.int32)  # child ids, -1 unexpanded
        self.legal = np.zeros((cap, a), bool)
        self.to_play = np.zeros(cap, np.int64)
        self.terminal = np.zeros(cap, bool)
        self.ret = np.zeros((cap, p), np.float64)  # returns of terminal nodes
        self.value = np.zeros(cap, np.float64)  # evaluator value for the mover

    _FIELDS = ("N", "W", "P", "C", "legal", "to_play", "terminal", "ret", "value")

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
