"""A bounded evaluation cache: positions already scored are not sent to the network again.

Search trees hold one node per *path*, so a position reached by two move orders (a
transposition), the opening every self-play game starts from, or the root of the ``B``
games a lockstep search starts together is scored once per node. :class:`CachedEvaluator`
wraps any :class:`~az_gym.mcts.Evaluator`: it keys each position by ``game.key(state)``,
answers the keys it holds from an :class:`EvalCache` (least recently used entries are
dropped past ``capacity``), and sends the others, each distinct key once, to the wrapped
evaluator in ONE call.

Exactness. The cache relies on the game contract: equal keys mean equal observations and
legal masks (``Game.key``), so an entry is what the evaluator would return again, for a
*deterministic* evaluator whose weights did not change:

* Weights: given the ``network`` behind the evaluator, :func:`network_version` is read at
  every call; when it changes the cache is emptied, so an entry never outlives the weights
  it came from.
* Stochastic evaluators are not cached: an evaluator that declares
  ``deterministic = False`` (:class:`~az_gym.evaluators.RolloutEvaluator`; one applying a
  random symmetry per call must declare it too) is refused by :class:`CachedEvaluator` and
  left unwrapped by :func:`with_cache`, because a stored sample would replace the fresh
  draws the uncached search makes. One that averages over all symmetries is deterministic.
* Batches: a network's output for a position can differ in the last float bits with the
  batch it is computed in (kernels depend on the batch size), and the cache changes
  which positions share a batch, so a searched network value can move by ~1e-7 against an
  uncached search. That is the same freedom the uncached search already has (its batches
  depend on ``SimParams.batch_size`` and on which games are in lockstep); with an evaluator
  whose rows do not depend on their batch the two searches are bit-identical
  (``tests/test_eval_cache.py``).

Where it is used: each self-play and arena worker wraps its network evaluators
(``SimParams.cache_size`` entries each; the iteration report gives the hit rates of
self-play and of each arena), and :class:`~az_gym.agents.alphazero.AlphaZeroAgent` wraps
its own (``cache_size``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from az_gym.game import Game, State

__all__ = [
    "CacheStats",
    "CachedEvaluator",
    "EvalCache",
    "cache_stats",
    "network_version",
    "with_cache",
]


@dataclass(frozen=True)
class CacheStats:
    """Counts of a :class:`CachedEvaluator` since it was built (or :meth:`~CachedEvaluator.
    reset_stats`)."""

    lookups: int
    """Positions the search asked to score."""
    hits: int
    """Of those, positions answered without the wrapped evaluator: held by the cache, or a
    repeat of a position earlier in the same batch."""

    @property
    def hit_rate(self) -> float:
        """``hits / lookups`` (0 before any lookup)."""
        return self.hits / self.lookups if self.lookups else 0.0

    def __add__(self, other: CacheStats) -> CacheStats:
        return CacheStats(self.lookups + other.lookups, self.hits + other.hits)


class EvalCache:
    """At most ``capacity`` ``(priors, value)`` entries by key, least recently used dropped.

    Entries live in two arrays (``priors [n, A]``, ``values [n]``, grown by doubling up to
    ``capacity`` rows) indexed through an ordered dict ``key -> row``, so a batch's hits are
    gathered with one fancy index.

    Args:
        capacity: most entries held (>= 1).
    """

    def __init__(self, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"EvalCache: capacity = {capacity!r}; must be an integer >= 1")
        self.capacity = capacity
        self._rows: OrderedDict[Hashable, int] = OrderedDict()
        self._priors: np.ndarray | None = None
        self._values: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def __getstate__(self) -> dict[str, Any]:
        """A pickled cache travels empty (an agent sent to an evaluation worker): the
        entries are cheap to recompute and may be many."""
        return {"capacity": self.capacity, "_rows": OrderedDict(), "_priors": None,
                "_values": None}  # fmt: skip

    def clear(self) -> None:
        """Drop every entry (the arrays are kept for reuse)."""
        self._rows.clear()

    def rows(self, keys: Sequence[Hashable]) -> list[int]:
        """The row of each key, ``-1`` where absent; each key found becomes the most
        recently used."""
        get, move, out = self._rows.get, self._rows.move_to_end, []
        for k in keys:
            r = get(k, -1)
            if r >= 0:
                move(k)
            out.append(r)
        return out

    def gather(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """``(priors [k, A], values [k])`` copied from ``rows`` (found by :meth:`rows`)."""
        assert self._priors is not None and self._values is not None
        return self._priors[rows], self._values[rows]

    def put(self, keys: Sequence[Hashable], priors: np.ndarray, values: np.ndarray) -> None:
        """Store distinct new ``keys`` with ``priors [k, A]`` and ``values [k]``, dropping
        the least recently used entries past ``capacity``."""
        cut = len(keys) - self.capacity  # past the capacity the first ones go at once
        if cut > 0:
            keys, priors, values = keys[cut:], priors[cut:], values[cut:]
        if self._priors is None or self._values is None:
            size = min(self.capacity, max(256, len(keys)))
            self._priors = np.zeros(
                (size, priors.shape[1]), np.promote_types(priors.dtype, np.float32)
            )
            self._values = np.zeros(size, np.promote_types(values.dtype, np.float32))
        rows, capacity = self._rows, self.capacity
        while len(self._values) < min(capacity, len(rows) + len(keys)):
            self._grow()
        targets = []
        for k in keys:
            r = len(rows) if len(rows) < capacity else rows.popitem(last=False)[1]
            rows[k] = r
            targets.append(r)
        self._priors[targets] = priors
        self._values[targets] = values

    def _grow(self) -> None:
        assert self._priors is not None and self._values is not None
        size = min(self.capacity, 2 * len(self._values))
        self._priors = np.concatenate([self._priors, np.zeros_like(self._priors)])[:size]
        self._values = np.concatenate([self._values, np.zeros_like(self._values)])[:size]


def network_version(net: Any) -> Hashable:
    """A value that changes whenever ``net``'s weights or buffers may have changed: each
    tensor's identity and in-place version counter (``load_state_dict``, an optimiser step,
    a train-mode forward updating batch-norm statistics, ``module.weight = ...`` all change
    it). Tensors made under ``torch.inference_mode`` keep no counter; only their identity
    counts."""
    out = []
    for t in (*net.parameters(), *net.buffers()):
        try:
            out.append((id(t), t._version))
        except RuntimeError:  # an inference tensor: it cannot change outside inference mode
            out.append((id(t), -1))
    return tuple(out)


class CachedEvaluator:
    """An :class:`~az_gym.mcts.Evaluator` that answers known positions from an
    :class:`EvalCache` and sends the rest, once each, to ``inner`` in one call.

    Args:
        inner: the evaluator to cache; it must not declare ``deterministic = False``.
        game: the rules (keys, and observations of the positions sent to ``inner``).
        capacity: most entries (>= 1).
        network: the torch module ``inner`` runs, if any: when its
            :func:`network_version` changes (checked at every call) the cache is emptied.
            ``None``: ``inner`` never changes.

    The search passes the states (``needs_states``) and skips the observations; this
    wrapper builds them for the uncached positions only.

    Raises:
        ValueError: ``inner`` is stochastic, or ``capacity < 1``.
    """

    needs_observations = False
    needs_states = True
    deterministic = True

    def __init__(
        self,
        inner: Any,
        game: Game,
        capacity: int,
        *,
        network: Any = None,
    ) -> None:
        if getattr(inner, "deterministic", True) is False:
            raise ValueError(
                f"CachedEvaluator: {type(inner).__name__} is stochastic "
                "(deterministic = False); caching would replace its fresh samples"
            )
        self.inner = inner
        self.game = game
        self.cache = EvalCache(capacity)
        self.network = network
        self._version = network_version(network) if network is not None else None
        self._inner_obs = bool(getattr(inner, "needs_observations", True))
        self._inner_states = bool(getattr(inner, "needs_states", False))
        self._lookups = self._hits = 0

    @property
    def stats(self) -> CacheStats:
        """Lookups and hits so far (see :class:`CacheStats`)."""
        return CacheStats(self._lookups, self._hits)

    def reset_stats(self) -> None:
        """Start counting lookups and hits from zero (the entries are kept)."""
        self._lookups = self._hits = 0

    def __call__(
        self, observations: np.ndarray | None, masks: np.ndarray, *, states: Sequence[State]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(priors [B, A], values [B])`` as ``inner`` would (see the module
        docstring on exactness); ``states`` are the ``B`` positions, ``masks bool[B, A]``
        their legal actions."""
        if self.network is not None:
            v = network_version(self.network)
            if v != self._version:
                self.cache.clear()
                self._version = v
        keys = list(map(self.game.key, states))
        rows = self.cache.rows(keys)
        self._lookups += len(keys)
        first: dict[Hashable, int] = {}  # each distinct missing key -> its index in `todo`
        todo, hit, miss, where = [], [], [], []  # `where`: each miss -> its `todo` entry
        for i, (k, r) in enumerate(zip(keys, rows)):
            if r >= 0:
                hit.append(i)
                continue
            j = first.setdefault(k, len(todo))
            if j == len(todo):
                todo.append(i)
            miss.append(i)
            where.append(j)
        self._hits += len(keys) - len(todo)
        if not todo:
            return self.cache.gather(rows)
        # Copy the hits out first: storing the misses may evict their rows.
        hits = self.cache.gather([rows[i] for i in hit]) if hit else None
        tstates = [states[i] for i in todo]
        obs = self.game.observations(tstates) if self._inner_obs else None
        kw = {"states": tstates} if self._inner_states else {}
        new_p, new_v = self.inner(obs, masks[todo], **kw)
        new_p, new_v = np.asarray(new_p), np.asarray(new_v).reshape(-1)
        self.cache.put([keys[i] for i in todo], new_p, new_v)
        if len(todo) == len(keys):
            return new_p, new_v
        p_type, v_type = new_p.dtype, new_v.dtype
        if hits is not None:
            p_type, v_type = np.result_type(p_type, hits[0]), np.result_type(v_type, hits[1])
        priors = np.empty((len(keys), new_p.shape[1]), p_type)
        values = np.empty(len(keys), v_type)
        priors[miss], values[miss] = new_p[where], new_v[where]
        if hits is not None:
            priors[hit], values[hit] = hits
        return priors, values


def with_cache(
    evaluator: Any,
    game: Game,
    capacity: int,
    *,
    network: Any = None,
) -> Any:
    """``evaluator`` wrapped in a :class:`CachedEvaluator` of ``capacity`` entries, or
    ``evaluator`` itself when ``capacity`` is 0 or it declares ``deterministic = False``."""
    if capacity == 0 or getattr(evaluator, "deterministic", True) is False:
        return evaluator
    return CachedEvaluator(evaluator, game, capacity, network=network)


def cache_stats(evaluator: Any) -> CacheStats | None:
    """The :class:`CacheStats` of ``evaluator`` if it is a :class:`CachedEvaluator`, else
    ``None`` (no cache)."""
    return evaluator.stats if isinstance(evaluator, CachedEvaluator) else None
