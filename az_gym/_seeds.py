"""The one check of a user's seed, below every layer that seeds a generator (agents,
duels, training), so that a bad one is named as the caller wrote it, not in numpy's words."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_seed(seed: Any, name: str = "seed") -> None:
    """Refuse what numpy would refuse in its own words (``expected non-negative integer``).

    Raises:
        ValueError: ``seed`` is not ``None``, a SeedSequence or an integer ``>= 0``.
    """
    ok = (
        seed is None
        or isinstance(seed, np.random.SeedSequence)
        or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0)
    )
    if not ok:
        raise ValueError(f"{name}={seed!r} must be an integer >= 0 (or None: fresh entropy)")
