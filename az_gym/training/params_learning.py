"""Parameters of the learning phase: :class:`LearningParams` with its
:class:`OptimiserSpec` and the :class:`SamplesWeighingPolicy` of merged positions, and the
:class:`MemAnalysisParams` of the per-stage loss reports. All are re-exported by
:mod:`az_gym.training.params`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

from az_gym.schedules import ConstSchedule, Schedule
from az_gym.training.params_checks import (
    check_count,
    check_flag,
    check_real,
    check_schedule,
    require,
)

MIXED_PRECISION = ("none", "bf16", "fp16")
"""Values of :attr:`LearningParams.mixed_precision`."""


class SamplesWeighingPolicy(enum.Enum):
    """Weight ``W(n)`` of a sample merged from ``n`` occurrences of one position."""

    CONSTANT = "constant"
    """``W(n) = 1``."""
    LOG = "log"
    """``W(n) = log2(n) + 1``."""
    LINEAR = "linear"
    """``W(n) = n``."""

    def weight(self, n: Any) -> Any:
        """Return ``W(n)`` (works on numpy arrays)."""
        import numpy as np

        n = np.asarray(n, dtype=np.float64)
        if self is SamplesWeighingPolicy.CONSTANT:
            return np.ones_like(n)
        if self is SamplesWeighingPolicy.LOG:
            return np.log2(n) + 1.0
        return n


@dataclass(frozen=True, kw_only=True)
class MemAnalysisParams:
    """Memory analysis after each iteration (AlphaZero.jl's ``MemAnalysisParams``)."""

    num_game_stages: int = 4
    """Parts of equal size, by moves left, on which the network's losses are reported."""

    def __post_init__(self) -> None:
        check_count("MemAnalysisParams", "num_game_stages", self.num_game_stages)


@dataclass(frozen=True, kw_only=True)
class OptimiserSpec:
    """The optimiser of the learning phase (AlphaZero.jl: ``Adam`` or ``CyclicNesterov``)."""

    kind: str = "adam"
    """``"adam"`` or ``"sgd"`` (with momentum)."""
    lr: Schedule = field(default_factory=lambda: ConstSchedule(1e-3))
    """Learning rate, a schedule over training iterations. AlphaZero.jl's connect four: 2e-3."""
    momentum: float = 0.9
    """SGD momentum (ignored by Adam). AlphaGo Zero: 0.9."""
    nesterov: bool = False
    """SGD: Nesterov momentum (AlphaZero.jl's ``CyclicNesterov``)."""
    weight_decay: float = 0.0
    """Decoupled weight decay of the optimiser (AdamW-style for Adam), separate from
    ``LearningParams.l2_regularization`` which is a loss term."""

    def __post_init__(self) -> None:
        o = "OptimiserSpec"
        require(self.kind in ("adam", "sgd"), o, "kind", self.kind, "must be 'adam' or 'sgd'")
        check_schedule(o, "lr", self.lr, 1e-30, math.inf, "a learning rate must be > 0")
        check_real(o, "momentum", self.momentum, 0.0, 0.999999, "must be in [0, 1)")
        check_flag(o, "nesterov", self.nesterov)
        require(
            not self.nesterov or (self.kind == "sgd" and self.momentum > 0),
            o,
            "nesterov",
            self.nesterov,
            "needs kind='sgd' and momentum > 0",
        )
        check_real(o, "weight_decay", self.weight_decay, 0.0, math.inf, "must be >= 0")


@dataclass(frozen=True, kw_only=True)
class LearningParams:
    """The learning phase: fit the network to the memory (AlphaZero.jl's ``LearningParams``).

    The network goes through ``num_checkpoints`` series of ``n`` updates on batches of
    ``batch_size`` samples, ``n = min(max_batches_per_checkpoint, ntotal //
    min_checkpoints_per_epoch)`` (at least 1) with ``ntotal`` the number of batches in the
    learning set (its augmented size with ``use_symmetries``, as in AlphaZero.jl).
    """

    use_gpu: bool = False
    """Train on the GPU when one is present. AlphaZero.jl: false."""
    use_position_averaging: bool = True
    """Merge the samples of one position (mean policy and value). AlphaZero.jl: true."""
    samples_weighing_policy: SamplesWeighingPolicy = SamplesWeighingPolicy.LOG
    """Weight of a merged sample from its count. AlphaZero.jl: no default (LOG for connect four)."""
    optimiser: OptimiserSpec = field(default_factory=OptimiserSpec)
    """Optimiser and learning-rate schedule. AlphaZero.jl: no default."""
    l2_regularization: float = 1e-4
    """Factor of the sum of squared weights (not biases, not normalisation parameters) in
    the loss. AlphaZero.jl: no default; AlphaGo Zero: 1e-4."""
    rewards_renormalization: float = 1.0
    """The value MSE is computed on ``value / rr`` and ``z / rr``, i.e. ``((v - z) / rr)^2``
    (AlphaZero.jl's ``learning.jl``): the net still predicts raw returns, for the search,
    and the value loss shrinks by ``rr**2``; a weight, not a rescaling of returns (returns
    must lie in the value head's ``[-1, 1]``: ``GymnasiumGame(return_scale=...)``).
    AlphaZero.jl: 1."""
    nonvalidity_penalty: float = 1.0
    """Factor of the mean probability the unmasked policy puts on illegal actions.
    AlphaZero.jl: 1."""
    batch_size: int = 256
    """Samples per gradient step. AlphaGo Zero: 2048; AlphaZero.jl's connect four: 1024."""
    loss_computation_batch_size: int = 1024
    """Batch size of the (no-gradient) loss reports. AlphaZero.jl's connect four: 1024."""
    loss_computation_max_samples: int | None = 32768
    """The loss reports (before and after learning) are computed on at most this many
    samples of the learning set, drawn uniformly once per iteration (the same ones before
    and after); ``None``: on all of them, as AlphaZero.jl does. With symmetries the
    learning set holds up to 8x the memory, and on a CPU the two full passes grow with it
    while the updates do not (README, Training parameters, gives a measurement)."""
    min_checkpoints_per_epoch: float = 1.0
    """At least this many checkpoints per pass over the memory (0: no such bound).
    AlphaZero.jl's connect four: 1."""
    max_batches_per_checkpoint: int = 2000
    """At most this many batches between checkpoints. AlphaGo Zero: 1000 (of 2048)."""
    num_checkpoints: int = 1
    """Series of updates per iteration, each followed by an arena. AlphaZero.jl's connect
    four: 1."""
    num_threads: int | None = None
    """torch intra-op threads of the learning phase in the trainer's process. ``None``:
    ``AZ_GYM_NUM_THREADS`` when set, else every CPU of the process's affinity but one (at
    least 1), so that one busy program beside the learner does not stall its OpenMP team
    (see :mod:`az_gym.threads`). Self-play and arenas always run the network on one thread
    per process. AlphaZero.jl: none (Julia's BLAS threads)."""
    mixed_precision: str = "none"
    """az_gym: autocast of the learning phase's forward passes and losses: ``"none"``
    (float32), ``"bf16"`` or ``"fp16"`` (with loss scaling), on the learner's device (a
    GPU's tensor cores; a CPU autocasts too, rarely faster). Weights and the optimiser stay
    float32. AlphaZero.jl: none."""

    def __post_init__(self) -> None:
        o = "LearningParams"
        check_flag(o, "use_gpu", self.use_gpu)
        require(
            self.mixed_precision in MIXED_PRECISION, o, "mixed_precision", self.mixed_precision,
            f"must be one of {', '.join(MIXED_PRECISION)}",
        )  # fmt: skip
        check_flag(o, "use_position_averaging", self.use_position_averaging)
        require(
            isinstance(self.samples_weighing_policy, SamplesWeighingPolicy),
            o,
            "samples_weighing_policy",
            self.samples_weighing_policy,
            "must be a SamplesWeighingPolicy (CONSTANT, LOG or LINEAR)",
        )
        require(
            isinstance(self.optimiser, OptimiserSpec),
            o,
            "optimiser",
            self.optimiser,
            "must be an OptimiserSpec",
        )
        check_real(o, "l2_regularization", self.l2_regularization, 0, math.inf, "must be >= 0")
        check_real(
            o,
            "rewards_renormalization",
            self.rewards_renormalization,
            1e-12,
            math.inf,
            "must be > 0",
        )
        check_real(o, "nonvalidity_penalty", self.nonvalidity_penalty, 0, math.inf, "must be >= 0")
        check_count(o, "batch_size", self.batch_size)
        check_count(o, "loss_computation_batch_size", self.loss_computation_batch_size)
        if self.loss_computation_max_samples is not None:
            check_count(o, "loss_computation_max_samples", self.loss_computation_max_samples)
        check_real(
            o,
            "min_checkpoints_per_epoch",
            self.min_checkpoints_per_epoch,
            0,
            math.inf,
            "must be >= 0",
        )
        check_count(o, "max_batches_per_checkpoint", self.max_batches_per_checkpoint)
        check_count(o, "num_checkpoints", self.num_checkpoints)
        if self.num_threads is not None:
            check_count(o, "num_threads", self.num_threads)

    def batches_per_checkpoint(self, num_samples: int) -> int:
        """``n = min(max_batches_per_checkpoint, ntotal // min_checkpoints_per_epoch)``,
        at least 1, with ``ntotal = num_samples // batch_size`` (at least 1)."""
        ntotal = max(1, num_samples // self.batch_size)
        if self.min_checkpoints_per_epoch <= 0:
            return self.max_batches_per_checkpoint
        return max(
            1, min(self.max_batches_per_checkpoint, int(ntotal // self.min_checkpoints_per_epoch))
        )
