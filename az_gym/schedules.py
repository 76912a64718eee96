"""Parameter schedules: functions from a non-negative integer (an iteration or a move
number) to a value, as in AlphaZero.jl (``ConstSchedule``, ``StepSchedule``, ``PLSchedule``).

``schedule[i]`` and ``schedule(i)`` both give the value at step ``i``. Each schedule turns
into a plain dict (``to_dict``) and back (:func:`schedule_from_dict`) for TOML files.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any


class Schedule:
    """Base class: a function from ``int >= 0`` to a number."""

    def value(self, i: int) -> float:
        """Return the value at step ``i``."""
        raise NotImplementedError

    def __getitem__(self, i: int) -> float:
        return self.value(i)

    def __call__(self, i: int) -> float:
        return self.value(i)

    def to_dict(self) -> dict[str, Any]:
        """Return a TOML-friendly description (see :func:`schedule_from_dict`)."""
        raise NotImplementedError


@dataclass(frozen=True)
class ConstSchedule(Schedule):
    """The same value at every step."""

    const: float

    def value(self, i: int) -> float:
        """Return the constant."""
        return self.const

    def to_dict(self) -> dict[str, Any]:
        """``{"const": value}``."""
        return {"const": self.const}


@dataclass(frozen=True)
class StepSchedule(Schedule):
    """``start`` until ``change_at[0]``, then ``values[k]`` from step ``change_at[k]`` on."""

    start: float
    change_at: tuple[int, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "change_at", tuple(int(x) for x in self.change_at))
        object.__setattr__(self, "values", tuple(self.values))
        if len(self.change_at) != len(self.values):
            raise ValueError(
                "StepSchedule: change_at and values must have the same length "
                f"(got {len(self.change_at)} and {len(self.values)})"
            )
        if list(self.change_at) != sorted(self.change_at):
            raise ValueError("StepSchedule: change_at must be increasing")

    def value(self, i: int) -> float:
        """Return the value in force at step ``i``."""
        k = bisect.bisect_right(self.change_at, i)
        return self.start if k == 0 else self.values[k - 1]

    def to_dict(self) -> dict[str, Any]:
        """``{"start", "change_at", "values"}``."""
        return {"start": self.start, "change_at": list(self.change_at), "values": list(self.values)}


@dataclass(frozen=True)
class PLSchedule(Schedule):
    """Piecewise-linear through the points ``(xs[k], ys[k])``; flat before and after.

    Integer ``ys`` give integer values (rounded), as for buffer sizes.
    """

    xs: tuple[int, ...]
    ys: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "xs", tuple(int(x) for x in self.xs))
        object.__setattr__(self, "ys", tuple(self.ys))
        if not self.xs or len(self.xs) != len(self.ys):
            raise ValueError(
                "PLSchedule: xs and ys must be non-empty and of the same length "
                f"(got {len(self.xs)} and {len(self.ys)})"
            )
        if any(b <= a for a, b in zip(self.xs, self.xs[1:])):
            raise ValueError("PLSchedule: xs must be strictly increasing")

    def value(self, i: int) -> float:
        """Interpolate linearly between the surrounding points."""
        xs, ys = self.xs, self.ys
        if i <= xs[0]:
            y = ys[0]
        elif i >= xs[-1]:
            y = ys[-1]
        else:
            k = bisect.bisect_right(xs, i)
            x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
            y = y0 + (y1 - y0) * (i - x0) / (x1 - x0)
        if all(isinstance(v, int) for v in ys):
            return round(y)
        return y

    def to_dict(self) -> dict[str, Any]:
        """``{"xs", "ys"}``."""
        return {"xs": list(self.xs), "ys": list(self.ys)}


def schedule_from_dict(d: dict[str, Any] | float | int) -> Schedule:
    """Build a schedule from :meth:`Schedule.to_dict` output (a bare number is constant)."""
    if isinstance(d, (int, float)):
        return ConstSchedule(d)
    if isinstance(d, Schedule):
        return d
    try:  # values read from files: a wrong type ({"xs": 5}) is a ValueError like a bad value
        if isinstance(d, dict) and set(d) == {"const"}:
            return ConstSchedule(d["const"])
        if isinstance(d, dict) and set(d) == {"start", "change_at", "values"}:
            return StepSchedule(d["start"], tuple(d["change_at"]), tuple(d["values"]))
        if isinstance(d, dict) and set(d) == {"xs", "ys"}:
            return PLSchedule(tuple(d["xs"]), tuple(d["ys"]))
    except TypeError as e:
        raise ValueError(f"not a schedule: {repr(d)[:80]}: {e}") from None
    raise ValueError(
        f"not a schedule: {d!r}; expected a number, {{const}}, {{start, change_at, values}} "
        "or {xs, ys}"
    )


def schedule_points(s: Schedule) -> list[float]:
    """Every value a schedule can take (its breakpoints), for range checks."""
    if isinstance(s, ConstSchedule):
        return [s.const]
    if isinstance(s, StepSchedule):
        return [s.start, *s.values]
    if isinstance(s, PLSchedule):
        return list(s.ys)
    return [s.value(0)]
