"""TOML files and ``key=value`` overrides for :class:`~az_gym.training.params.Params`.

The conversion is generic over the dataclasses' type hints: nested dataclasses become
tables, schedules their ``to_dict`` form (a bare number is a constant schedule), enums their
name, tuples arrays, and ``None`` the string ``"none"`` (TOML has no null). Unknown keys are
errors that name the key and the allowed ones.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib.resources
import sys
import types
import typing
import warnings
from pathlib import Path
from typing import Any

from az_gym._suggest import did_you_mean
from az_gym.schedules import ConstSchedule, PLSchedule, Schedule, schedule_from_dict
from az_gym.training.checkpoint import atomic_write_bytes

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

NONE = "none"
"""How ``None`` is written in TOML files and overrides."""


def _encode(value: Any) -> Any:
    if value is None:
        return NONE
    if isinstance(value, Schedule):
        return value.to_dict()
    if isinstance(value, enum.Enum):
        return value.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def params_to_dict(params: Any) -> dict[str, Any]:
    """Return a TOML-ready dict of a parameters dataclass (any of them, nested)."""
    return _encode(params)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _decode(tp: Any, value: Any, path: str) -> Any:
    from az_gym.training.params import ParamsError

    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (value is None or value == NONE):
            return None
        rest = [a for a in args if a is not type(None)]
        errors = []
        for a in rest:
            try:
                return _decode(a, value, path)
            except ParamsError as e:
                errors.append(str(e))
        if type(None) in args:  # an optional part: ``none`` turns it off
            close = isinstance(value, str) and did_you_mean(value, [NONE])
            guess = f" (did you mean {NONE!r}?)" if close else ""
            raise ParamsError("; ".join(errors) + f", or {NONE} to leave it out{guess}")
        raise ParamsError("; ".join(errors))
    if tp is Any:
        return value
    if isinstance(tp, type) and issubclass(tp, Schedule):
        try:
            s = value if isinstance(value, Schedule) else schedule_from_dict(value)
        except (ValueError, TypeError, KeyError) as e:
            why = str(e).removeprefix("not a schedule: ")  # said once, not twice
            raise ParamsError(f"{path}={value!r} is not a schedule: {why}") from None
        if tp is PLSchedule and isinstance(s, ConstSchedule):
            s = PLSchedule((0,), (s.const,))
        if not isinstance(s, tp):
            raise ParamsError(f"{path}={value!r} must be a {tp.__name__} (e.g. {{xs, ys}})")
        return s
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ParamsError(f"{path}={value!r} must be a table of {tp.__name__} fields")
        return _from_dict(tp, value, path)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(value, tp):
            return value
        names = [m.name for m in tp]
        if isinstance(value, str) and value.upper() in names:
            return tp[value.upper()]
        raise ParamsError(f"{path}={value!r} must be one of {names}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            example = f", e.g. {path}=[{value!r}]" if isinstance(value, (int, float)) else ""
            raise ParamsError(f"{path}={value!r} must be an array{example}")
        item = args[0] if args else Any
        return tuple(_decode(item, v, f"{path}.{i}") for i, v in enumerate(value))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{path}={value!r} must be a table")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{path}={value!r} must be true or false")
        return value
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ParamsError(f"{path}={value!r} must be an integer")
        return value
    if tp is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ParamsError(f"{path}={value!r} must be a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ParamsError(f"{path}={value!r} must be a string")
        return value
    return value


def _from_dict(cls: type, data: dict[str, Any], path: str) -> Any:
    from az_gym.training.params import REMOVED_KEYS, ParamsError

    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    for key in list(data):
        if key in names:
            continue
        where = f"{path}.{key}" if path else key
        if key in REMOVED_KEYS:  # an older file (every params.toml lists every key): ignore
            warnings.warn(
                f"{where} was removed and is ignored ({REMOVED_KEYS[key]}); "
                "delete it from the file to silence this warning",
                UserWarning,
                stacklevel=2,
            )
            data = {k: v for k, v in data.items() if k != key}
            continue
        close = did_you_mean(key, names)
        raise ParamsError(
            f"unknown key {key!r} in {path or cls.__name__}"
            + (f" (did you mean {close!r}?)" if close else "")
            + f"; allowed keys: {names}"
        )
    kwargs = {k: _decode(hints[k], v, f"{path}.{k}" if path else k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ParamsError:
        raise
    except (TypeError, ValueError) as e:  # a missing field, or a rule of a foreign class
        raise ParamsError(f"{path or cls.__name__}: {e}") from None


def params_from_dict(data: dict[str, Any], cls: type | None = None) -> Any:
    """Build ``cls`` (default :class:`Params`) from :func:`params_to_dict` output.

    Missing keys take their defaults.

    Raises:
        ParamsError: unknown keys, wrong types or values that break a rule.
    """
    from az_gym.training.params import Params

    return _from_dict(cls or Params, data, "")


def save_params(params: Any, path: str | Path) -> None:
    """Write ``params`` as a TOML file, atomically."""
    import tomli_w

    text = "# az_gym training parameters\n" + tomli_w.dumps(params_to_dict(params))
    atomic_write_bytes(path, text.encode("utf-8"))


def load_params(path: str | Path) -> Any:
    """Read a :class:`Params` from a TOML file written by :func:`save_params` (or by hand).

    Raises:
        ParamsError: a missing or unreadable file, invalid TOML (names the file), unknown
            keys or bad values.
    """
    from az_gym.training.params import ParamsError

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as e:  # incl. the digits limit
        reason = "nested too deeply" if isinstance(e, RecursionError) else str(e)[:200]
        raise ParamsError(f"{path}: not a valid TOML file: {reason}") from None
    except IsADirectoryError:
        raise ParamsError(f"{path} is a directory, not a parameter file (TOML)") from None
    except OSError as e:
        raise ParamsError(f"cannot read the parameter file {path}: {e.strerror or e}") from None
    try:
        return params_from_dict(data)
    except ParamsError as e:
        raise ParamsError(f"{path}: {e}") from None
    except RecursionError:
        raise ParamsError(f"{path}: values nested too deeply") from None


def available_configs() -> list[str]:
    """Names of the games with a shipped parameter file in ``az_gym/configs`` (the files
    for other options, ``othello@size=6.toml``, are not listed: :func:`default_params`
    picks them)."""
    root = importlib.resources.files("az_gym").joinpath("configs")
    return sorted(
        p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml") and "@" not in p.name
    )


TUNED_GAME_OPTIONS: dict[str, dict[str, Any]] = {"othello": {"size": 8}, "gomoku": {"size": 9}}
"""The game options each shipped parameter file was tuned and measured with, where they
differ from (or pin down) the game's defaults: ``othello.toml`` is sized for 8x8 (the 6x6
settings are ``othello@size=6.toml``), ``gomoku.toml`` for 9x9."""


def _variant_stem(game_name: str, options: dict[str, Any] | None) -> str | None:
    """``othello@size=6``: the stem of the configs file for the tuned options that
    ``options`` change (``None`` when they change none), as the shipped agents are named."""
    tuned = TUNED_GAME_OPTIONS.get(game_name, {})
    differ = {k: options[k] for k in tuned if k in (options or {}) and options[k] != tuned[k]}
    if not differ:
        return None
    return f"{game_name}@" + ",".join(f"{k}={v}" for k, v in sorted(differ.items()))


def _config_resource(stem: str) -> Any:
    return importlib.resources.files("az_gym").joinpath("configs", f"{stem}.toml")


def tuned_options_mismatch(game_name: str, options: dict[str, Any]) -> str | None:
    """A warning text when ``options`` differ from those the game's shipped file was tuned
    for and no shipped file was tuned for them (``None`` when one fits, or the game has
    no such record)."""
    tuned = TUNED_GAME_OPTIONS.get(game_name)
    stem = _variant_stem(game_name, options)
    if not tuned or stem is None or _config_resource(stem).is_file():
        return None
    differ = [k for k, v in tuned.items() if options.get(k, v) != v]
    want = [f"{k}={v}" for k, v in tuned.items()]
    have = ", ".join(f"{k}={options.get(k)!r}" for k in differ)
    flags = " ".join(f"-o {w}" for w in want)
    return (
        f"the shipped parameters for {game_name!r} were tuned for {' '.join(want)}, "
        f"but this game has {have}; expect a weaker agent or a longer run; "
        f"for the tuned options: az-gym train {game_name} {flags}"
    )


def default_params(game_name: str, options: dict[str, Any] | None = None) -> Any:
    """The shipped, tuned :class:`Params` for a native game (``az_gym/configs/<name>.toml``),
    or the file tuned for ``options`` where one ships (``othello@size=6.toml`` for
    ``{"size": 6}``).

    Raises:
        ParamsError: no parameter file for that game (the message lists those that exist).
    """
    from az_gym.training.params import ParamsError

    stem = _variant_stem(game_name, options)
    res = _config_resource(stem) if stem is not None else None
    if res is None or not res.is_file():
        res = _config_resource(game_name)
    if not res.is_file():
        raise ParamsError(
            f"no default parameters for game {game_name!r}; available: {available_configs()}"
        )
    with importlib.resources.as_file(res) as p:
        return load_params(p)


def _parse_value(raw: str) -> Any:
    text = raw.strip()
    if text.lower() in (NONE, "null"):
        return None
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word: a string (``backend=ray``); types are checked later


def _fill_defaults(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every nested table that builds on its own replaced by its full form
    (defaults filled in); the tables that break a rule stay as written."""
    from az_gym.training.params import ParamsError

    hints = typing.get_type_hints(cls)
    out = dict(data)
    for key, value in data.items():
        tp = hints.get(key)
        options = (
            typing.get_args(tp)
            if typing.get_origin(tp) in (typing.Union, types.UnionType)
            else (tp,)
        )
        sub = [
            t
            for t in options
            if isinstance(t, type) and dataclasses.is_dataclass(t) and not issubclass(t, Schedule)
        ]
        if len(sub) != 1 or not isinstance(value, dict):
            continue
        try:
            out[key] = _encode(_from_dict(sub[0], value, key))
        except ParamsError:
            out[key] = _fill_defaults(sub[0], value)
    return out


def override_list(overrides: typing.Iterable[str]) -> list[str]:
    """``overrides`` as a list, refusing one bare string, which ``list()`` would read
    letter by letter (``"num_iters=1"`` -> ``['n', 'u', ...]``).

    Raises:
        ParamsError: ``overrides`` is a ``str`` (the message shows the list to write).
    """
    from az_gym.training.params import ParamsError

    if isinstance(overrides, (str, bytes)):
        raise ParamsError(
            f"overrides={overrides!r} is one string; give a list of them: [{overrides!r}]"
        )
    return list(overrides)


def apply_overrides(params: Any, overrides: typing.Iterable[str]) -> Any:
    """Return ``params`` with ``"dotted.path=value"`` overrides applied.

    Values are TOML literals (``10``, ``1e-3``, ``true``, ``"text"``, ``[1, 2]``,
    ``{xs = [0, 10], ys = [1, 2]}``); ``none`` sets an optional part to ``None`` and ``{}``
    sets it to its defaults. Example: ``["self_play.sim.num_games=10",
    "learning.optimiser.lr=0.001", "arena=none"]``. The rules are checked once all the
    overrides are in, so their order does not matter (``self_play.sim.num_workers=4`` may
    come before ``self_play.sim.batch_size=4``).

    Raises:
        ParamsError: a malformed override, an unknown path (the message names it and the
            allowed keys) or a value that breaks a rule.
    """
    from az_gym.training.params import REMOVED_KEYS, ParamsError

    overrides = override_list(overrides)
    if not overrides:
        return params
    cls = type(params)
    data = params_to_dict(params)
    failures: list[tuple[str, str]] = []  # (override, error) where a rebuild failed
    for item in overrides:
        if "=" not in item:
            raise ParamsError(f"override {item!r} must look like dotted.path=value")
        dotted, raw = item.split("=", 1)
        parts = [p for p in dotted.strip().split(".")]
        if not all(parts):
            raise ParamsError(f"override {item!r}: empty path component")
        node: Any = data
        for depth, part in enumerate(parts):
            here = ".".join(parts[: depth + 1])
            last = depth == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ParamsError(
                        f"override path {here!r}: no element {part} in a list of {len(node)}"
                    )
                key: Any = int(part)
            elif isinstance(node, dict):
                if part not in node and part in REMOVED_KEYS:
                    raise ParamsError(
                        f"override {item!r}: {here} was removed: {REMOVED_KEYS[part]}"
                    )
                if part not in node:
                    close = did_you_mean(part, node)
                    meant = ".".join([*parts[:depth], close]) if close else None
                    raise ParamsError(
                        f"override path {here!r} does not exist"
                        + (f" (did you mean {meant!r}?)" if meant else "")
                        + f"; allowed keys: {sorted(node)}"
                    )
                key = part
            else:
                raise ParamsError(
                    f"override path {here!r}: {'.'.join(parts[:depth])} is "
                    f"{node!r}, not a table (set it to {{}} first)"
                )
            if last:
                node[key] = _parse_value(raw)
            else:
                node = node[key]
        # Rebuild after each override so ``arena={}`` fills in the defaults for the next
        # one; a rule broken only for now (``num_workers=4`` before ``batch_size=4``) is
        # left for the final check, with the data kept as written.
        try:
            data = params_to_dict(params_from_dict(data, cls))
        except ParamsError as e:
            failures.append((item, str(e)))
            data = _fill_defaults(cls, data)
    try:
        return params_from_dict(data, cls)
    except ParamsError as e:
        culprits = [item for item, msg in failures if msg == str(e)][:1] or overrides
        where = f"override {culprits[0]!r}" if len(culprits) == 1 else f"overrides {culprits}"
        raise ParamsError(f"{where}: {e}") from None
