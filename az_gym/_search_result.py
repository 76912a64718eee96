"""What a search returns (:class:`SearchResult`) and how a move is drawn from it
(:func:`play_policy`, :func:`visits_to_policy`); re-exported by :mod:`az_gym.mcts`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_TAU_ARGMAX = 1e-3
"""Temperatures at or below this give the one-hot argmax policy."""


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
    reused: np.ndarray | None = None
    """``bool[B]`` whether tree ``i`` re-rooted in its slot's previous tree (keeping its
    statistics) rather than starting fresh."""
    improved_policy: np.ndarray | None = None
    """``float[B, A]`` Gumbel search only: ``softmax(logits + sigma(completed_q))``, the
    policy target (``None`` for PUCT)."""
    action: np.ndarray | None = None
    """``int64[B]`` Gumbel search only: the selected action, the best
    ``g + logits + sigma`` among the most visited (``g = 0`` without noise)."""
    noisy: bool = False
    """Whether the root carried exploration noise (Dirichlet, or Gumbel)."""

    @property
    def policy_target(self) -> np.ndarray:
        """``float[B, A]`` what self-play records as the policy target: the improved policy
        (Gumbel) or the normalised visit counts (PUCT)."""
        if self.improved_policy is not None:
            return self.improved_policy
        return self.visits / np.maximum(self.visits.sum(1, keepdims=True), 1e-12)


def play_policy(result: SearchResult, taus: np.ndarray) -> np.ndarray:
    """``float[B, A]`` the distribution to draw each tree's move from, at temperatures
    ``taus float[B]``.

    PUCT: ``pi_a ∝ n_a^(1/tau)`` (:func:`visits_to_policy`). Gumbel: the selected action
    (one-hot) after a noisy search (self-play: the Gumbel noise is the exploration, so the
    temperature is not used) or at ``tau <= 1e-3``; otherwise ``pi_a ∝ pi'_a^(1/tau)`` over
    the improved policy ``pi'`` (noiseless play at a temperature, e.g. the arena's
    schedule, which then still varies its games).
    """
    if result.improved_policy is None:
        visits = np.asarray(result.visits, np.float64)
        return visits_to_policy(visits, taus, np.asarray(result.prior, np.float64))
    out = visits_to_policy(result.improved_policy, taus, result.improved_policy)
    greedy = np.flatnonzero((np.asarray(taus) <= _TAU_ARGMAX) | result.noisy)
    out[greedy] = 0.0
    out[greedy, result.action[greedy]] = 1.0
    return out


def visits_to_policy(visits: np.ndarray, taus: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """``float[B, A]`` move distribution ``∝ visits^(1/tau)`` row by row.

    Args:
        visits: ``float[B, A]`` visit counts.
        taus: ``float[B]`` temperatures; ``<= 1e-3`` gives the one-hot argmax (lowest index
            on ties).
        priors: ``float[B, A]`` used instead of the visits for rows with no visit.
    """
    base = np.where(visits.sum(1, keepdims=True) > 0, visits, priors)
    out = np.zeros_like(base)
    for i in range(base.shape[0]):
        row, tau = base[i], float(taus[i])
        if tau <= _TAU_ARGMAX:
            out[i, int(row.argmax())] = 1.0
            continue
        pos = row > 0
        logs = np.log(row[pos]) / tau
        w = np.exp(logs - logs.max())
        out[i, pos] = w / w.sum()
    return out
