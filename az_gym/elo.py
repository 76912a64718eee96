"""Elo ratings from pairwise results: Bradley-Terry maximum likelihood, and the
:class:`TournamentResult` that :func:`az_gym.evaluation.tournament` returns.

Model: player ``i`` has strength ``r_i`` (natural-log units) and beats ``j`` with
probability ``sigmoid(r_i - r_j)``; a draw counts as half a win for each side. Elo is
``400 / ln(10) * r``, so 400 Elo points are 10:1 odds.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

ELO_PER_NAT = 400.0 / math.log(10.0)
"""Elo points per unit of natural-log strength."""


class EloFit(NamedTuple):
    """A Bradley-Terry fit of ``n`` players."""

    elo: np.ndarray
    """``float[n]`` ratings (mean 0, or the anchor at 0)."""
    stderr: np.ndarray
    """``float[n]`` standard errors of the ratings relative to the anchor / the mean."""
    iterations: int
    """Newton steps taken."""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _log_likelihood(r: np.ndarray, s: np.ndarray, prior: float) -> float:
    d = r[:, None] - r[None, :]
    ll = float(np.sum(s * -np.logaddexp(0.0, -d)))
    return ll + prior * float(np.sum(-0.5 * np.logaddexp(0.0, -r) - 0.5 * np.logaddexp(0.0, r)))


def fit_bradley_terry(
    scores: np.ndarray,
    games: np.ndarray,
    prior_games: float = 1.0,
    anchor: int | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> EloFit:
    """Maximum a-posteriori Bradley-Terry ratings by Newton's method.

    Args:
        scores: ``float[n, n]``; ``scores[i, j]`` is what ``i`` scored against ``j``
            (wins + draws / 2), so ``scores[i, j] + scores[j, i] == games[i, j]``.
        games: ``float[n, n]`` symmetric game counts (zero diagonal).
        prior_games: every player also draws this many virtual games against a virtual
            opponent of strength 0 (a weak prior that keeps ratings finite when someone
            wins or loses everything; > 0).
        anchor: index of the player rated 0 (default: ratings have mean 0).
        tol: stop when the largest Newton step is below this (nats).
        max_iter: cap on Newton steps.

    Returns:
        :class:`EloFit`. Standard errors come from the observed Fisher information (the
        negative Hessian of the log-posterior at the optimum): ``Var(r_i - r_anchor)`` or
        ``Var(r_i - mean(r))``, times :data:`ELO_PER_NAT` squared. A 95% interval is
        ``elo +- 1.96 * stderr``.

    Raises:
        ValueError: bad shapes, negative counts, ``scores`` inconsistent with ``games``,
            ``prior_games <= 0`` or a bad ``anchor``.
    """
    s = np.asarray(scores, dtype=np.float64)
    g = np.asarray(games, dtype=np.float64)
    n = s.shape[0] if s.ndim == 2 else -1
    if s.ndim != 2 or s.shape != (n, n) or g.shape != (n, n) or n < 1:
        raise ValueError(f"scores {s.shape} and games {g.shape} must both be [n, n]")
    if (s < 0).any() or (g < 0).any() or not np.allclose(g, g.T):
        raise ValueError("scores and games must be >= 0 and games symmetric")
    if not np.allclose(s + s.T, g) or np.diag(g).any():
        raise ValueError("need scores[i, j] + scores[j, i] == games[i, j] and a zero diagonal")
    if not prior_games > 0:
        raise ValueError(f"prior_games={prior_games!r} must be > 0 (keeps ratings finite)")
    if anchor is not None and not 0 <= anchor < n:
        raise ValueError(f"anchor={anchor!r} must index one of the {n} players")
    r = np.zeros(n)
    it = 0
    hess = np.zeros((n, n))
    for it in range(1, max_iter + 1):  # noqa: B007 - `it` is reported
        p = _sigmoid(r[:, None] - r[None, :])
        q = _sigmoid(r)
        grad = (s - g * p).sum(axis=1) + prior_games * (0.5 - q)
        w = g * p * (1 - p)
        hess = w.copy()
        hess[np.diag_indices(n)] = -w.sum(axis=1) - prior_games * q * (1 - q)
        step = np.linalg.solve(hess, -grad)
        # Backtracking keeps the (concave) log-posterior increasing.
        base, t = _log_likelihood(r, s, prior_games), 1.0
        while t > 1e-6 and _log_likelihood(r + t * step, s, prior_games) < base - 1e-12:
            t *= 0.5
        r = r + t * step
        if np.max(np.abs(t * step)) < tol:
            break
    cov = np.linalg.inv(-hess)
    ref = np.eye(n)[anchor] if anchor is not None else np.full(n, 1.0 / n)
    contrast = np.eye(n) - ref[None, :]  # row i: e_i - reference
    var = np.einsum("ij,jk,ik->i", contrast, cov, contrast)
    elo = ELO_PER_NAT * (r - ref @ r)
    return EloFit(elo, ELO_PER_NAT * np.sqrt(np.maximum(var, 0.0)), it)


@dataclass(frozen=True)
class TournamentResult:
    """Round-robin results and the Elo table.

    Attributes:
        names: the ``n`` players.
        elo: ``float[n]`` ratings (see :func:`fit_bradley_terry`).
        stderr: ``float[n]`` standard errors of the ratings.
        wins: ``float[n, n]``; ``wins[i, j]`` games ``i`` won against ``j``.
        draws: ``float[n, n]`` symmetric draw counts.
        duels: ``{(name_i, name_j): DuelResult}`` for ``i < j`` (from ``i``'s side).
        game_id: the game played.
    """

    names: list[str]
    elo: np.ndarray
    stderr: np.ndarray
    wins: np.ndarray
    draws: np.ndarray
    duels: dict[tuple[str, str], Any] = field(default_factory=dict)
    game_id: str = ""

    @property
    def ci95(self) -> np.ndarray:
        """``float[n, 2]``: ``elo -+ 1.96 * stderr``."""
        return np.stack([self.elo - 1.96 * self.stderr, self.elo + 1.96 * self.stderr], axis=1)

    @property
    def games(self) -> np.ndarray:
        """``float[n, n]`` games played by each pair."""
        return self.wins + self.wins.T + self.draws

    @property
    def scores(self) -> np.ndarray:
        """``float[n]``: each player's overall score (wins + draws / 2) / games."""
        return (self.wins.sum(1) + 0.5 * self.draws.sum(1)) / np.maximum(self.games.sum(1), 1)

    def ranking(self) -> list[str]:
        """Names from the highest rating to the lowest."""
        return [self.names[i] for i in np.argsort(-self.elo, kind="stable")]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly content: the Elo table, the pairwise matrices and the duels."""
        return {
            "game": self.game_id,
            "players": [
                {
                    "name": nm,
                    "elo": float(e),
                    "stderr": float(se),
                    "ci95": [float(lo), float(hi)],
                    "score": float(sc),
                }
                for nm, e, se, (lo, hi), sc in zip(
                    self.names, self.elo, self.stderr, self.ci95, self.scores
                )
            ],
            "wins": self.wins.tolist(),
            "draws": self.draws.tolist(),
            "duels": [d.to_dict() for d in self.duels.values()],
        }

    def to_json(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    def to_csv(self, path: str | Path) -> None:
        """Write the Elo table: ``name, elo, stderr, ci95_low, ci95_high, score, games``."""
        with Path(path).open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["name", "elo", "stderr", "ci95_low", "ci95_high", "score", "games"])
            for i in np.argsort(-self.elo, kind="stable"):
                lo, hi = self.ci95[i]
                out.writerow([self.names[i], f"{self.elo[i]:.1f}", f"{self.stderr[i]:.1f}",
                              f"{lo:.1f}", f"{hi:.1f}", f"{self.scores[i]:.4f}",
                              int(self.games[i].sum())])  # fmt: skip

    def plot(self, path: str | Path) -> None:
        """Save a PNG bar chart of the ratings with 95% error bars (matplotlib, Agg)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        order = np.argsort(-self.elo, kind="stable")
        fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(order) + 2), 3.5))
        try:
            ax.bar(range(len(order)), self.elo[order], yerr=1.96 * self.stderr[order],
                   capsize=4, color="tab:blue")  # fmt: skip
            ax.set_xticks(range(len(order)), [self.names[i] for i in order], rotation=30,
                          ha="right")  # fmt: skip
            ax.axhline(0.0, color="grey", linewidth=0.8)
            ax.set_ylabel("Elo (95% CI)")
            ax.set_title(f"Tournament: {self.game_id}" if self.game_id else "Tournament")
            fig.tight_layout()
            fig.savefig(path, format="png", dpi=100)
        finally:
            plt.close(fig)

    def __str__(self) -> str:
        width = max(6, *(len(nm) for nm in self.names))
        lines = [f"{'rank':>4}  {'player':<{width}}  {'elo':>7}  {'95% CI':>17}  {'score':>6}"]
        for rank, i in enumerate(np.argsort(-self.elo, kind="stable"), start=1):
            lo, hi = self.ci95[i]
            lines.append(
                f"{rank:>4}  {self.names[i]:<{width}}  {self.elo[i]:>7.1f}  "
                f"[{lo:>7.1f}, {hi:>7.1f}]  {self.scores[i]:>6.3f}"
            )
        return "\n".join(lines)
