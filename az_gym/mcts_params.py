"""Parameters of the batched search (:class:`MctsParams`), validated in one place.

Kept apart from :mod:`az_gym.mcts` so that the training parameters, the agents and the
checkpoint loader can name the search's settings without importing the search itself.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

from az_gym.schedules import ConstSchedule, Schedule, schedule_from_dict, schedule_points


def _is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


MAX_SIMULATIONS = 1_000_000
"""Most simulations per move :class:`MctsParams` accepts: 625x AlphaGo Zero's 1600, and hours
per move for az_gym's searches, whose tree grows by one node per simulation. A bound, so that
a crafted agent file or parameter file (``num_iters_per_turn = 10**12``) is refused at once
instead of searching forever."""


@dataclass(frozen=True, kw_only=True)
class MctsParams:
    """Parameters of an MCTS player (AlphaZero.jl's ``MctsParams``).

    Every field is checked here, once; a bad value raises ``ValueError`` naming the field,
    the value and the rule (``MctsParams.gamma = 0; must be in (0, 1]``). The training
    parameters prefix the message with where the value was found.
    """

    num_iters_per_turn: int = 100
    """Simulations per move (AlphaGo Zero: 1600), at most :data:`MAX_SIMULATIONS`."""
    gamma: float = 1.0
    """Discount factor of rewards along the tree (AlphaGo Zero: 1)."""
    cpuct: float = 1.0
    """Exploration constant c_puct in the PUCT formula."""
    temperature: Schedule = field(default_factory=lambda: ConstSchedule(1.0))
    """Move-selection temperature tau as a schedule over the move number."""
    dirichlet_noise_epsilon: float = 0.25
    """Weight epsilon of Dirichlet noise mixed into the root priors (AlphaGo Zero: 0.25)."""
    dirichlet_noise_alpha: float = 1.0
    """Concentration alpha of the root Dirichlet noise (AlphaGo Zero: 0.03; ~10/num_actions)."""
    prior_temperature: float = 1.0
    """Temperature applied to the network priors before search."""
    fpu_reduction: float | None = None
    """First-play urgency: ``None`` gives unvisited actions ``Q = 0`` (AlphaZero.jl,
    AlphaGo Zero); a number ``r`` gives them the node's current value minus ``r`` (Leela
    Zero's default reduction: 0.25). See :mod:`az_gym.mcts`."""

    def __post_init__(self) -> None:
        n = self.num_iters_per_turn
        is_count = isinstance(n, numbers.Integral) and not isinstance(n, bool)
        checks = [
            ("num_iters_per_turn", is_count and 1 <= n <= MAX_SIMULATIONS,
             f"an integer in [1, {MAX_SIMULATIONS}]"),
            ("gamma", _is_real(self.gamma) and 0.0 < self.gamma <= 1.0, "in (0, 1]"),
            ("cpuct", _is_real(self.cpuct) and self.cpuct >= 0.0, ">= 0"),
            ("dirichlet_noise_epsilon",
             _is_real(self.dirichlet_noise_epsilon) and 0.0 <= self.dirichlet_noise_epsilon <= 1.0,
             "in [0, 1]"),
            ("dirichlet_noise_alpha",
             _is_real(self.dirichlet_noise_alpha) and self.dirichlet_noise_alpha > 0.0, "> 0"),
            ("prior_temperature",
             _is_real(self.prior_temperature) and self.prior_temperature > 0.0, "> 0"),
            ("fpu_reduction",
             self.fpu_reduction is None
             or (_is_real(self.fpu_reduction) and 0.0 <= self.fpu_reduction <= 2.0),
             "None or a number in [0, 2]"),
            ("temperature", isinstance(self.temperature, Schedule)
             and all(_is_real(v) and v >= 0 for v in schedule_points(self.temperature)),
             "a Schedule (e.g. ConstSchedule(1.0)) of values >= 0"),
        ]  # fmt: skip
        for name, ok, rule in checks:
            if not ok:
                raise ValueError(f"MctsParams.{name} = {getattr(self, name)!r}; must be {rule}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-python description (the schedule as ``Schedule.to_dict()``)."""
        return {
            "num_iters_per_turn": self.num_iters_per_turn,
            "gamma": self.gamma,
            "cpuct": self.cpuct,
            "temperature": self.temperature.to_dict(),
            "dirichlet_noise_epsilon": self.dirichlet_noise_epsilon,
            "dirichlet_noise_alpha": self.dirichlet_noise_alpha,
            "prior_temperature": self.prior_temperature,
            "fpu_reduction": self.fpu_reduction,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MctsParams:
        """Inverse of :meth:`to_dict`."""
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(
                f"MctsParams: unknown fields {sorted(unknown)}; known: {sorted(known)}"
            )
        kw = dict(d)
        if "temperature" in kw:
            kw["temperature"] = schedule_from_dict(kw["temperature"])
        return cls(**kw)
