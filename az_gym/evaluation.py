"""Duels, tournaments, Elo ratings and confidence intervals (work in progress)."""

from __future__ import annotations

import math


def necessary_samples(eps: float, beta: float) -> int:
    """Games needed to estimate a score within ``eps`` with probability ``1 - beta``.

    Hoeffding's bound: ``n >= log(1 / beta) / (2 eps^2)`` (rounded up).

    Raises:
        ValueError: ``eps`` not in ``(0, 1]`` or ``beta`` not in ``(0, 1)``.
    """
    if not 0.0 < eps <= 1.0:
        raise ValueError(f"eps={eps!r} must be in (0, 1]")
    if not 0.0 < beta < 1.0:
        raise ValueError(f"beta={beta!r} must be in (0, 1)")
    return math.ceil(math.log(1.0 / beta) / (2.0 * eps * eps))
