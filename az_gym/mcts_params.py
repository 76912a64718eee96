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


def _is_count(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


ROOT_POLICIES = ("puct", "gumbel")
"""The values of :attr:`MctsParams.root_policy`."""

MAX_LEAVES_PER_CALL = 1024
"""Most leaves one tree may gather per evaluator call (:attr:`MctsParams.leaves_per_call`)."""

PLAY_LEAVES_PER_CALL = 8
"""Leaves per network call (:attr:`MctsParams.leaves_per_call`) of the agents loaded to play
one game at a time: ``az_gym.pretrained`` and the CLI's AlphaZero agent specs. Checkpoints
store the trainer's search parameters, made for lockstep self-play, where many games already
fill each network call (``leaves_per_call = 1``); one game alone would send one position per
call. Chosen by ``bench/leaf_parallel.py`` (load ~1): a move of the shipped Connect Four
(400 simulations) and gomoku (1600) agents 3.5x and 3.4x faster than ``k = 1`` on eager
torch (1.7x and 1.5x on ONNX Runtime, whose batch-1 calls are cheaper); against ``k = 1``
the Connect Four agent scored 0.480 over 600 games (``16``: 0.420 over 200).

A Gumbel root search plays with it too, since its steps take one descent per root action
(:meth:`az_gym._gumbel.GumbelRoot.next_step`); for one session before that it played with
``1``: a step sent ``k`` descents down the 2-4 actions of sequential halving's last phases
under virtual loss, which turned them onto poorer lines and skewed the Q-values that halving
compares. The gomoku network with Gumbel + solver at 400 simulations, against alpha-beta
depth 3 over 100 games, scored 0.970 at ``k = 1`` and between 0.145 and 0.945 at ``k = 8``
then, depending on the sampled actions; with the per-action steps ``k = 8`` scored the same
97 / 0 / 3 as ``k = 1`` from the initial position and 0.580 against 0.590 from 2-ply random
openings (those 100 games in 102 s against 131 s on 2 processes, one after the other), and
Connect Four's Gumbel network against depth 5 173 / 5 / 22 at both (102 s against 125 s)."""


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
    """Move-selection temperature tau as a schedule over the move number (Gumbel: used only
    by noiseless play, e.g. the arena; self-play plays the Gumbel-selected action)."""
    dirichlet_noise_epsilon: float = 0.25
    """Weight epsilon of Dirichlet noise mixed into the root priors (AlphaGo Zero: 0.25);
    not used with ``root_policy = "gumbel"``, whose noise is the Gumbel draw."""
    dirichlet_noise_alpha: float = 1.0
    """Concentration alpha of the root Dirichlet noise (AlphaGo Zero: 0.03; ~10/num_actions)."""
    prior_temperature: float = 1.0
    """Temperature applied to the network priors before search."""
    fpu_reduction: float | None = None
    """First-play urgency: ``None`` gives unvisited actions ``Q = 0`` (AlphaZero.jl,
    AlphaGo Zero); a number ``r`` gives them the node's current value minus ``r`` (Leela
    Zero's default reduction: 0.25). See :mod:`az_gym.mcts`."""
    root_policy: str = "puct"
    """How the root spends the simulations and what the search returns as the training
    target: ``"puct"`` (AlphaZero: PUCT everywhere, root Dirichlet noise, the visit counts
    as the target) or ``"gumbel"`` (Gumbel AlphaZero, Danihelka et al. 2022: Gumbel-top-k
    root actions, sequential halving, the improved policy as the target, no Dirichlet noise
    and no temperature in self-play; ``cpuct`` and ``fpu_reduction`` are not used, the
    completed Q-values take their place). See :mod:`az_gym._gumbel`."""
    max_num_considered_actions: int = 16
    """Gumbel: root actions sampled without replacement, ``m`` (paper and mctx: 16)."""
    gumbel_scale: float = 1.0
    """Gumbel: scale of the root Gumbel noise in self-play (mctx: 1; evaluation play uses
    none)."""
    c_visit: float = 50.0
    """Gumbel: ``c_visit`` in ``sigma(q) = (c_visit + max_b N(b)) * c_scale * q`` (paper: 50)."""
    c_scale: float = 1.0
    """Gumbel: ``c_scale`` in ``sigma`` (paper: 1 for board games, mctx's ``value_scale``
    0.1 for Atari)."""
    gumbel_opening_moves: int = 0
    """Gumbel, self-play only: the first ``n`` moves of each game are drawn from the root
    visit counts at the temperature schedule (``N(a)^(1/tau)``, over the actions sequential
    halving kept) instead of playing the selected action; later moves play the selected
    action. ``0`` (the paper and mctx) always plays it. Why: in a small deterministic game
    where every action is considered (Connect Four: 7 actions, ``m = 16``), ``sigma``'s scale
    (``c_visit + max N`` times a min-max normalised ``q``, about 85 at 100 simulations)
    swamps a unit Gumbel draw, so the selected action is nearly fixed by the network and
    self-play repeats one game: measured, from scratch with the tuned Connect Four file,
    games shrank to 7-8 moves by iteration 12 and four noisy self-play games of the
    iteration-14 network were move for move identical. The opening draw restores the
    variety AlphaZero gets from its temperature."""
    leaves_per_call: int = 1
    """Leaf parallelism ``k`` (AlphaZero.jl's workers per tree): each simulation step
    descends every tree up to ``k`` times under virtual loss and scores all the leaves in
    ONE evaluator call. ``1`` (AlphaZero.jl's default, and the trainer's: its lockstep
    games already fill the batch) is the plain sequential search. See :mod:`az_gym.mcts`."""
    virtual_loss: float = 1.0
    """Value counted as lost, for the mover at each edge, by a descent still waiting for
    its leaf's value (with one pending visit per descent); used only when
    ``leaves_per_call > 1``. ``1``: a pending descent counts as a loss (Leela Zero, ELF)."""
    solver: bool = False
    """MCTS-Solver backups (Winands et al. 2008; OpenSpiel's ``solve=True``): proven wins,
    draws and losses are backed up the tree, proven nodes are never searched again and a
    proven root ends the search early (:mod:`az_gym._mcts_solver`). Off by default, as in
    AlphaZero.jl and AlphaGo Zero; needs ``gamma = 1`` (a proof is the undiscounted value
    of the game) and a deterministic zero-sum game of one or two players."""
    symmetry_averaging: bool = False
    """Score every leaf in all the game's symmetric images in one network call and average
    the answers (priors mapped back through each symmetry's action permutation), so that
    the search sees an exactly symmetric network
    (:class:`~az_gym.evaluators.SymmetryAveragedEvaluator`). Costs
    ``len(game.symmetries())`` times the network work per leaf (8 on square boards, 2 in
    Connect Four). Off by default; the agents, self-play and the arena all honour it, and
    all refuse it for a game without symmetries (where it would do nothing)."""

    def __post_init__(self) -> None:
        n = self.num_iters_per_turn
        checks = [
            ("num_iters_per_turn", _is_count(n) and 1 <= n <= MAX_SIMULATIONS,
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
            ("root_policy", self.root_policy in ROOT_POLICIES, f"one of {list(ROOT_POLICIES)}"),
            ("max_num_considered_actions", _is_count(self.max_num_considered_actions)
             and 1 <= self.max_num_considered_actions <= MAX_SIMULATIONS,
             f"an integer in [1, {MAX_SIMULATIONS}]"),
            ("gumbel_scale", _is_real(self.gumbel_scale) and self.gumbel_scale > 0.0, "> 0"),
            ("c_visit", _is_real(self.c_visit) and self.c_visit > 0.0, "> 0"),
            ("c_scale", _is_real(self.c_scale) and self.c_scale > 0.0, "> 0"),
            ("gumbel_opening_moves", _is_count(self.gumbel_opening_moves)
             and 0 <= self.gumbel_opening_moves <= 10_000, "an integer in [0, 10000]"),
            ("leaves_per_call", _is_count(self.leaves_per_call)
             and 1 <= self.leaves_per_call <= MAX_LEAVES_PER_CALL,
             f"an integer in [1, {MAX_LEAVES_PER_CALL}]"),
            ("virtual_loss", _is_real(self.virtual_loss) and 0.0 <= self.virtual_loss <= 10.0,
             "a number in [0, 10]"),
            ("solver", isinstance(self.solver, bool), "True or False"),
            ("symmetry_averaging", isinstance(self.symmetry_averaging, bool), "True or False"),
            ("gamma", not self.solver or self.gamma == 1.0,
             "1 with solver = True (proofs are undiscounted game values)"),
            ("temperature", isinstance(self.temperature, Schedule)
             and all(_is_real(v) and v >= 0 for v in schedule_points(self.temperature)),
             "a Schedule (e.g. ConstSchedule(1.0)) of values >= 0"),
        ]  # fmt: skip
        for name, ok, rule in checks:
            if not ok:
                if rule.startswith((">", "in (", "in [")):  # "'a'; must be >= 0" hid the type
                    rule = f"a number {rule}"
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
            "root_policy": self.root_policy,
            "max_num_considered_actions": self.max_num_considered_actions,
            "gumbel_scale": self.gumbel_scale,
            "c_visit": self.c_visit,
            "c_scale": self.c_scale,
            "gumbel_opening_moves": self.gumbel_opening_moves,
            "leaves_per_call": self.leaves_per_call,
            "virtual_loss": self.virtual_loss,
            "solver": self.solver,
            "symmetry_averaging": self.symmetry_averaging,
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
