"""'Did you mean' for a misspelt name: a command, game, agent kind or parameter key."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: object, choices: Iterable[str], cutoff: float = 0.7) -> str | None:
    """The choice closest to ``word`` (``difflib``'s ratio at least ``cutoff``), or ``None``
    when none is close or ``word`` is not a string. Case and ``-``/``_`` are ignored, so
    ``Connect-Four`` finds ``connect_four``."""
    if not isinstance(word, str):
        return None
    by_key = {c.lower().replace("-", "_"): c for c in choices}
    close = difflib.get_close_matches(word.lower().replace("-", "_"), by_key, n=1, cutoff=cutoff)
    return by_key[close[0]] if close else None
