"""``state.json``, the commit record of a run directory: its fields and their checks.

A run directory may come from someone else (zipped, mailed, downloaded with a paper), so
every field is checked for its JSON type before use, and a bad one is a one-line
:class:`RunDirError` that names the file, the field and what to do. Nothing in it is ever
imported or called: ``game_factory`` is a description of the factory the run was trained
with, compared as data with the one the user passes again (see
:mod:`az_gym.training.run_game`).

Fields::

    version         int, this format's version (2: iteration directories)
    iteration       int >= 0, the last committed iteration
    checkpoint_dir  "iter-NNNNNN", the committed iteration's directory (absent only at
                    iteration 0); must be the name of ``iteration``'s directory
    game_id         str, the game (with its options) the networks were trained on
    game_name       str or null, its registry name
    game_options    {str: JSON scalar}, its registry options
    game_factory    null or {"target": "module:qualname", "kwargs": {...}}
    network         null or {...}, the network's NetworkConfig
    rng             null or {...}, numpy's bit generator state after the iteration
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

STATE_VERSION = 2

_SCALARS = (str, int, float, bool, type(None))


class RunDirError(ValueError):
    """A run directory that cannot be used as asked (another game, another network, a
    damaged file...); the message is one line that names the file and what to do."""


class RunExistsError(RunDirError):
    """A run directory that already holds a run where a new one was asked for.

    Attributes:
        path: the run directory.
        iteration: its last completed iteration (>= 1).
    """

    def __init__(self, message: str, path: Any, iteration: int) -> None:
        super().__init__(message)
        self.path = path
        self.iteration = iteration


def shown(text: Any) -> str:
    """A string read from a file, as a message shows it: plain names (``tictactoe``,
    ``mod.sub:env``) as they are, anything else with ``repr`` (so terminal escapes and
    shell syntax from a crafted file are never printed raw), at most 200 characters."""
    text = str(text)
    return text if re.fullmatch(r"[A-Za-z0-9_.:/+-]{1,200}", text) else repr(text)[:200]


def _json(value: Any) -> str:
    try:
        return json.dumps(value)[:80]
    except (ValueError, RecursionError):  # a crafted 5000-digit int or deep nesting
        return _kind(value)


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "null" if value is None else "number"
    )


def validate_state(data: Any, path: Path) -> dict[str, Any]:
    """Check the JSON types of ``state.json``'s fields (see the module docstring).

    Returns:
        ``data``, unchanged.

    Raises:
        RunDirError: a field of the wrong type or out of range (names it).
    """

    def bad(field: str, want: str) -> RunDirError:
        value = data.get(field) if isinstance(data, dict) else data
        what = _json(value) if field else _kind(data)
        return RunDirError(
            f"{path}: {field or 'the file'} is {what} but must be {want}; the file is "
            "damaged: restore it from a backup or start a new run directory"
        )

    if not isinstance(data, dict):
        raise bad("", "a JSON object")
    checks = {
        "version": lambda v: _is_int(v) and v >= 1,
        "iteration": lambda v: _is_int(v) and v >= 0,
        "checkpoint_dir": lambda v: v is None or isinstance(v, str),
        "game_id": lambda v: isinstance(v, str),
        "game_name": lambda v: v is None or isinstance(v, str),
        "game_options": lambda v: (
            isinstance(v, dict) and all(isinstance(x, _SCALARS) for x in v.values())
        ),
        "game_factory": lambda v: (
            v is None
            or (
                isinstance(v, dict)
                and isinstance(v.get("target"), str)
                and isinstance(v.get("kwargs", {}), dict)
            )
        ),
        "network": lambda v: v is None or isinstance(v, dict),
        "rng": lambda v: v is None or isinstance(v, dict),
    }
    wants = {
        "version": "an integer >= 1",
        "iteration": "an integer >= 0",
        "checkpoint_dir": "a directory name",
        "game_id": "a string",
        "game_name": "a string or null",
        "game_options": "an object of JSON scalars",
        "game_factory": 'null or {"target": "module:qualname", "kwargs": {...}}',
        "network": "an object or null",
        "rng": "an object or null",
    }
    for field in ("iteration", "game_id"):
        if field not in data:
            raise RunDirError(
                f"{path}: no {field!r} field; the file is damaged: restore it from a backup "
                "or start a new run directory"
            )
    for field, ok in checks.items():
        if field in data and not ok(data[field]):
            raise bad(field, wants[field])
    if data.get("version", STATE_VERSION) > STATE_VERSION:
        raise RunDirError(
            f"{path}: version {data['version']} was written by a newer az_gym (this one "
            f"reads up to {STATE_VERSION}); upgrade az_gym"
        )
    if data["iteration"] > 0 and data.get("checkpoint_dir") is None:
        # Before iteration directories (version 1) each file sat at the top of the run
        # directory; this az_gym no longer reads that layout.
        raise RunDirError(
            f"{path}: the run was written by an older az_gym (flat layout: current.pt... at "
            "the top, no iter-NNNNNN/ directories), which this version no longer reads; start "
            "a new run directory, or resume it with the az_gym release that wrote it"
        )
    return data


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_state_file(path: Path) -> dict[str, Any] | None:
    """The checked content of ``state.json`` at ``path`` (``None`` if absent).

    Raises:
        RunDirError: unreadable or malformed (it is always written atomically, so this
            means damage).
    """
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise RunDirError(f"{path} is unreadable ({e.strerror})") from None
    try:
        data = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # digits limit, nesting
        reason = str(e)[:200] if not isinstance(e, RecursionError) else "nested too deeply"
        raise RunDirError(
            f"{path} is not valid JSON ({reason}); it records the run's last committed "
            "iteration: restore it from a backup or start a new run directory"
        ) from None
    return validate_state(data, path)


def describe_game(state: dict[str, Any]) -> str:
    """How a run's game reads in messages: ``othello(size=6)``, ``factory mod:env(...)``."""
    if state.get("game_name"):
        opts = ", ".join(
            f"{shown(k)}={v!r}" for k, v in sorted((state.get("game_options") or {}).items())
        )
        name = shown(state["game_name"])
        return f"{name}({opts})" if opts else name
    recipe = state.get("game_factory")
    if recipe:
        kwargs = ", ".join(
            f"{shown(k)}={v!r}" for k, v in sorted((recipe.get("kwargs") or {}).items())
        )
        game_id = f" (game {state['game_id']!r})" if state.get("game_id") else ""
        return f"the factory {shown(recipe['target'])}({kwargs}){game_id}"
    return f"game {state.get('game_id')!r}"
