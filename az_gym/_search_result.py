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
    simulations: np.ndarray | None = None
    """``int64[B]`` simulations this search ran in tree ``i`` (fewer than asked once the
    solver proved the root)."""
    proven_value: np.ndarray | None = None
    """``float[B]`` solver: the root's proven value for its mover (+1 win, 0 draw, -1 loss;
    NaN while unproven); ``None`` without ``MctsParams.solver``."""
    proven_q: np.ndarray | None = None
    """``float[B, A]`` solver: each child's proven value for the root's mover (NaN where
    unknown); ``None`` without the solver."""
    choices: np.ndarray | None = None
    """``bool[B, A]`` solver: the moves it allows (:func:`az_gym._mcts_solver.choices`: the
    best proven moves of a proven root, else every legal move that is not a proven loss or
    worse than a proven sibling); ``None`` without the solver."""

    @property
    def policy_target(self) -> np.ndarray:
        """``float[B, A]`` what self-play records as the policy target: the improved policy
        (Gumbel) or the normalised visit counts (PUCT); with the solver, only over the moves
        it allows (:attr:`choices`), renormalised."""
        if self.improved_policy is not None and self.choices is None:
            return self.improved_policy
        target = self.improved_policy if self.improved_policy is not None else self.visits
        target = _allowed(self, target)
        return target / np.maximum(target.sum(1, keepdims=True), 1e-12)


def _allowed(result: SearchResult, x: np.ndarray) -> np.ndarray:
    """``x float[B, A]`` zeroed outside the solver's allowed moves (unchanged without the
    solver, or in a row where nothing allowed has mass)."""
    x = np.asarray(x, np.float64)
    if result.choices is None:
        return x
    kept = np.where(result.choices, x, 0.0)
    return np.where(kept.sum(1, keepdims=True) > 0, kept, np.where(result.choices, 1.0, 0.0))


def play_policy(
    result: SearchResult, taus: np.ndarray, opening: np.ndarray | None = None
) -> np.ndarray:
    """``float[B, A]`` the distribution to draw each tree's move from, at temperatures
    ``taus float[B]``.

    PUCT: ``pi_a ∝ n_a^(1/tau)`` (:func:`visits_to_policy`). Gumbel: the selected action
    (one-hot) after a noisy search (self-play: the Gumbel noise is the exploration, so the
    temperature is not used) or at ``tau <= 1e-3``; otherwise ``pi_a ∝ pi'_a^(1/tau)`` over
    the improved policy ``pi'`` (noiseless play at a temperature, e.g. the arena's
    schedule, which then still varies its games). ``opening bool[B]`` (Gumbel self-play,
    :attr:`~az_gym.mcts_params.MctsParams.gumbel_opening_moves`): rows drawn from the root
    visit counts at their temperature instead of playing the selected action.

    Solver (:attr:`SearchResult.choices`): only the moves it allows, so a proven win is
    always played and a proven loss never while another move is open; at a proven root
    the most visited best proven move, whatever the temperature.
    """
    taus = np.asarray(taus, np.float64)
    if result.proven_value is not None:
        taus = np.where(np.isnan(result.proven_value), taus, 0.0)
    if result.improved_policy is None:
        visits = np.asarray(result.visits, np.float64)
        if result.choices is not None and visits.size:
            visits = np.where(result.choices, visits, 0.0)
        return visits_to_policy(visits, taus, _allowed(result, result.prior))
    improved = _allowed(result, result.improved_policy)
    out = visits_to_policy(improved, taus, improved)
    greedy = (taus <= _TAU_ARGMAX) | result.noisy
    if opening is not None and result.noisy:
        drawn = np.asarray(opening, bool) & (taus > _TAU_ARGMAX)
        if drawn.any():
            visits = np.asarray(result.visits, np.float64)
            if result.choices is not None:
                visits = np.where(result.choices, visits, 0.0)
            out[drawn] = visits_to_policy(visits[drawn], taus[drawn], improved[drawn])
            greedy = greedy & ~drawn
    action = np.asarray(result.action).copy()
    if result.choices is not None:  # a disallowed pick, or any at a proven root: the best allowed
        rows = np.arange(len(action))
        proven = ~np.isnan(result.proven_value)
        redo = proven | ~result.choices[rows, action]
        best = np.where(result.choices, result.visits + improved, -1.0).argmax(1)
        action = np.where(redo, best, action)
    greedy = np.flatnonzero(greedy)
    out[greedy] = 0.0
    out[greedy, action[greedy]] = 1.0
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
