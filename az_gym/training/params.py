"""Training hyper-parameters: frozen dataclasses after AlphaZero.jl's ``Params`` family.

Every field carries a docstring with its meaning, AlphaZero.jl's default and, where the
paper gives one, AlphaGo Zero's value. Each class validates itself in ``__post_init__``;
errors name the class, the field, the offending value and the rule, e.g.
``SimParams.batch_size=64 must be <= num_workers=32``. Checks that need the game live in
:meth:`Params.validate_for_game`.

Mapping of AlphaZero.jl's parallelism onto az_gym (no threads, no inference server):

* ``SimParams.num_processes`` worker processes (``None``: one per CPU core) each run
* ``SimParams.num_workers`` games *concurrently*, their search trees stepped in lockstep;
  every simulation step gathers one leaf per live game and evaluates them in network calls
  of at most ``SimParams.batch_size`` leaves (so ``batch_size <= num_workers``).
* When a game ends its slot starts a new game at once (while games remain), so network
  calls stay as full as possible (AlphaZero.jl's ``fill_batches = true``, always on).

Removed settings (:data:`REMOVED_KEYS`): a parameter file that still sets one (every
``params.toml`` written by an older az_gym does) loads with a warning and the key is
ignored, which is exactly what those versions did with it; a ``key=value`` override that
sets one is refused.

Serialisation (TOML files, ``key=value`` overrides) lives in
:mod:`az_gym.training.params_io` and is re-exported here.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

from az_gym.inference import ENGINES
from az_gym.mcts_params import MctsParams
from az_gym.networks import NetworkConfig
from az_gym.schedules import (
    ConstSchedule,
    PLSchedule,
    Schedule,
    StepSchedule,
    schedule_from_dict,
    schedule_points,
)

__all__ = [
    "ArenaParams",
    "ConstSchedule",
    "DuelSpec",
    "LearningParams",
    "MctsParams",
    "MemAnalysisParams",
    "NetworkConfig",
    "OptimiserSpec",
    "PLSchedule",
    "Params",
    "ParamsError",
    "SamplesWeighingPolicy",
    "Schedule",
    "SelfPlayParams",
    "SimParams",
    "StepSchedule",
    "alphazero_jl_benchmark",
    "apply_overrides",
    "default_params",
    "load_params",
    "params_from_dict",
    "params_to_dict",
    "save_params",
    "schedule_from_dict",
]

MIXED_PRECISION = ("none", "bf16", "fp16")
"""Values of :attr:`LearningParams.mixed_precision`."""


class ParamsError(ValueError):
    """A parameter value that breaks a rule; the message names the field and the rule."""


REMOVED_KEYS: dict[str, str] = {
    "fill_batches": "slots always start a new game at once (AlphaZero.jl's fill_batches=true)",
    "ternary_rewards": "nothing read it; returns are whatever the game gives",
    "reset_every": "trees are re-rooted at every move and a new game never reuses the old "
    "tree, so the value changed nothing",
}
"""Settings that earlier versions accepted but never acted on, with the reason: a file that
sets one loads with a warning (delete the line to silence it), an override is refused."""


def _require(ok: bool, owner: str, name: str, value: Any, rule: str) -> None:
    if not ok:
        raise ParamsError(f"{owner}.{name}={value!r} {rule}")


def _count(owner: str, name: str, value: Any, minimum: int = 1) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    _require(ok, owner, name, value, f"must be an integer >= {minimum}")


def _real(owner: str, name: str, value: Any, lo: float, hi: float, rule: str) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and lo <= value <= hi
    _require(ok, owner, name, value, rule)


def _flag(owner: str, name: str, value: Any) -> None:
    _require(isinstance(value, bool), owner, name, value, "must be true or false")


def _schedule(owner: str, name: str, value: Any, lo: float, hi: float, rule: str) -> None:
    _require(isinstance(value, Schedule), owner, name, value, "must be a schedule")
    for v in schedule_points(value):
        _real(owner, name, v, lo, hi, f"takes the value {v!r}, but {rule}")


def check_mcts(owner: str, m: MctsParams) -> None:
    """Check that ``owner``'s ``mcts`` is an :class:`MctsParams` (which validated its own
    fields when it was built)."""
    _require(isinstance(m, MctsParams), owner, "mcts", m, "must be an MctsParams")


MAX_CACHE_SIZE = 10_000_000
"""Most entries ``SimParams.cache_size`` accepts (a few GB per worker for Connect Four): a
bound, so that a crafted parameter file cannot make every worker grow without limit."""


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
class SimParams:
    """How many games are played, and how (AlphaZero.jl's ``SimParams``).

    Shared by self-play, the arena and benchmark duels. See the module docstring for how
    ``num_processes``, ``num_workers`` and ``batch_size`` map onto az_gym's lockstep search.
    """

    num_games: int = 100
    """Games to play. AlphaZero.jl: no default; AlphaGo Zero: 25 000 self-play games per
    iteration and 400 arena games."""
    num_workers: int = 32
    """Games simulated concurrently per process (lockstep trees). AlphaZero.jl: no default
    (its number of simulation tasks per process)."""
    batch_size: int = 32
    """Most leaves per network call; must be ``<= num_workers``. AlphaZero.jl: no default."""
    use_gpu: bool = False
    """Run self-play inference on the GPU when one is present. AlphaZero.jl: false."""
    inference: str = "auto"
    """az_gym: the engine that runs the network in the workers (:mod:`az_gym.inference`):
    ``"auto"`` (ONNX Runtime on the CPU when the ``fast`` extra is installed, else eager),
    ``"eager"``, ``"onnx"`` (CPU only) or ``"compile"`` (``torch.compile``)."""
    flip_probability: float = 0.0
    """Before each turn, replace the position by a random symmetric one with this
    probability (needs a game with symmetries). AlphaZero.jl: 0."""
    alternate_colors: bool = False
    """Arena (two-player games): the networks swap seats from one game to the next; false:
    the candidate always moves first. Self-play, where one network plays every seat, refuses
    true. AlphaZero.jl: false (its connect four arena: true)."""
    num_processes: int | None = None
    """az_gym: worker processes (``None``: one per CPU core; 1: play in the caller). The
    arena plays on the self-play workers: ``arena.sim.num_processes`` caps how many of them
    share its games (``None``: all)."""
    backend: str = "local"
    """az_gym: ``"local"`` (processes on this machine) or ``"ray"`` (Ray actors). Set on
    ``self_play.sim``; the arena and the benchmark duels play on the same workers, so
    ``arena.sim.backend`` must be left at ``"local"`` or equal self-play's."""
    ray_address: str | None = None
    """az_gym: address of the Ray cluster (``None``: start or join a local one). As for
    ``backend``, ``arena.sim.ray_address`` must be unset or equal self-play's."""
    cache_size: int = 100_000
    """az_gym: entries of the evaluation cache of each network in each worker process
    (positions keyed by ``game.key``, least recently used dropped; 0: no cache), so that
    transpositions and repeated openings are scored once (:mod:`az_gym.eval_cache`).
    ``4 * (num_actions + 1)`` bytes per entry plus ~250 for its key and index (Connect Four:
    ~300 bytes, 30 MB at the default), at most :data:`MAX_CACHE_SIZE`. AlphaZero.jl: none
    (Leela Zero: its NNCache)."""

    def __post_init__(self) -> None:
        o = "SimParams"
        _count(o, "num_games", self.num_games, minimum=1)
        _count(o, "num_workers", self.num_workers)
        _count(o, "batch_size", self.batch_size)
        _require(
            self.batch_size <= self.num_workers,
            o,
            "batch_size",
            self.batch_size,
            f"must be <= num_workers={self.num_workers}",
        )
        for name in ("use_gpu", "alternate_colors"):
            _flag(o, name, getattr(self, name))
        _require(
            self.inference in ENGINES, o, "inference", self.inference,
            f"must be one of {', '.join(ENGINES)}",
        )  # fmt: skip
        _require(
            not (self.use_gpu and self.inference == "onnx"), o, "inference", self.inference,
            "runs on the CPU only; with use_gpu=true use 'auto', 'eager' or 'compile'",
        )  # fmt: skip
        _real(o, "flip_probability", self.flip_probability, 0, 1, "must be in [0, 1]")
        if self.num_processes is not None:
            _count(o, "num_processes", self.num_processes)
        _count(o, "cache_size", self.cache_size, minimum=0)
        _require(self.cache_size <= MAX_CACHE_SIZE, o, "cache_size", self.cache_size,
                 f"must be <= {MAX_CACHE_SIZE}")  # fmt: skip
        _require(
            self.backend in ("local", "ray"), o, "backend", self.backend, "must be 'local' or 'ray'"
        )
        _require(
            self.ray_address is None
            or (self.backend == "ray" and isinstance(self.ray_address, str)),
            o,
            "ray_address",
            self.ray_address,
            "is only used with backend='ray' and must be a string",
        )


@dataclass(frozen=True, kw_only=True)
class SelfPlayParams:
    """Self-play: the search each move and the games played (AlphaZero.jl's
    ``SelfPlayParams``). AlphaGo Zero: ``sim.num_games = 25 000``, 1600 simulations."""

    mcts: MctsParams = field(default_factory=MctsParams)
    """Search parameters of the self-play player."""
    sim: SimParams = field(default_factory=SimParams)
    """How many games, and how many at once."""

    def __post_init__(self) -> None:
        check_mcts("SelfPlayParams.mcts", self.mcts)
        _require(
            isinstance(self.sim, SimParams),
            "SelfPlayParams",
            "sim",
            self.sim,
            "must be a SimParams",
        )
        _require(
            not self.sim.alternate_colors,
            "SelfPlayParams.sim",
            "alternate_colors",
            True,
            "changes nothing in self-play (one network plays every seat); set it false",
        )


@dataclass(frozen=True, kw_only=True)
class ArenaParams:
    """Candidate network vs best network (AlphaZero.jl's ``ArenaParams``)."""

    mcts: MctsParams = field(default_factory=lambda: MctsParams(dirichlet_noise_epsilon=0.05))
    """Search parameters of both arena players (usually self-play's, less noise)."""
    sim: SimParams = field(default_factory=lambda: SimParams(num_games=64, alternate_colors=True))
    """Games played. AlphaGo Zero: 400 games."""
    update_threshold: float = 0.05
    """Two players: promote the candidate when its mean reward (in [-1, 1]) is
    ``>= update_threshold``; one player: when it beats the best's mean reward by at least
    this. AlphaGo Zero: a 55% win rate, i.e. 0.1."""

    def __post_init__(self) -> None:
        check_mcts("ArenaParams.mcts", self.mcts)
        _require(
            isinstance(self.sim, SimParams), "ArenaParams", "sim", self.sim, "must be a SimParams"
        )
        _real(
            "ArenaParams",
            "update_threshold",
            self.update_threshold,
            -math.inf,
            math.inf,
            "must be a finite number",
        )


@dataclass(frozen=True, kw_only=True)
class MemAnalysisParams:
    """Memory analysis after each iteration (AlphaZero.jl's ``MemAnalysisParams``)."""

    num_game_stages: int = 4
    """Parts of equal size, by moves left, on which the network's losses are reported."""

    def __post_init__(self) -> None:
        _count("MemAnalysisParams", "num_game_stages", self.num_game_stages)


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
        _require(self.kind in ("adam", "sgd"), o, "kind", self.kind, "must be 'adam' or 'sgd'")
        _schedule(o, "lr", self.lr, 1e-30, math.inf, "a learning rate must be > 0")
        _real(o, "momentum", self.momentum, 0.0, 0.999999, "must be in [0, 1)")
        _flag(o, "nesterov", self.nesterov)
        _require(
            not self.nesterov or (self.kind == "sgd" and self.momentum > 0),
            o,
            "nesterov",
            self.nesterov,
            "needs kind='sgd' and momentum > 0",
        )
        _real(o, "weight_decay", self.weight_decay, 0.0, math.inf, "must be >= 0")


@dataclass(frozen=True, kw_only=True)
class LearningParams:
    """The learning phase: fit the network to the memory (AlphaZero.jl's ``LearningParams``).

    The network goes through ``num_checkpoints`` series of ``n`` updates on batches of
    ``batch_size`` samples, ``n = min(max_batches_per_checkpoint, ntotal //
    min_checkpoints_per_epoch)`` (at least 1) with ``ntotal`` the number of batches in memory.
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
        _flag(o, "use_gpu", self.use_gpu)
        _require(
            self.mixed_precision in MIXED_PRECISION, o, "mixed_precision", self.mixed_precision,
            f"must be one of {', '.join(MIXED_PRECISION)}",
        )  # fmt: skip
        _flag(o, "use_position_averaging", self.use_position_averaging)
        _require(
            isinstance(self.samples_weighing_policy, SamplesWeighingPolicy),
            o,
            "samples_weighing_policy",
            self.samples_weighing_policy,
            "must be a SamplesWeighingPolicy (CONSTANT, LOG or LINEAR)",
        )
        _require(
            isinstance(self.optimiser, OptimiserSpec),
            o,
            "optimiser",
            self.optimiser,
            "must be an OptimiserSpec",
        )
        _real(o, "l2_regularization", self.l2_regularization, 0, math.inf, "must be >= 0")
        _real(
            o,
            "rewards_renormalization",
            self.rewards_renormalization,
            1e-12,
            math.inf,
            "must be > 0",
        )
        _real(o, "nonvalidity_penalty", self.nonvalidity_penalty, 0, math.inf, "must be >= 0")
        _count(o, "batch_size", self.batch_size)
        _count(o, "loss_computation_batch_size", self.loss_computation_batch_size)
        if self.loss_computation_max_samples is not None:
            _count(o, "loss_computation_max_samples", self.loss_computation_max_samples)
        _real(
            o,
            "min_checkpoints_per_epoch",
            self.min_checkpoints_per_epoch,
            0,
            math.inf,
            "must be >= 0",
        )
        _count(o, "max_batches_per_checkpoint", self.max_batches_per_checkpoint)
        _count(o, "num_checkpoints", self.num_checkpoints)
        if self.num_threads is not None:
            _count(o, "num_threads", self.num_threads)

    def batches_per_checkpoint(self, num_samples: int) -> int:
        """``n = min(max_batches_per_checkpoint, ntotal // min_checkpoints_per_epoch)``,
        at least 1, with ``ntotal = num_samples // batch_size`` (at least 1)."""
        ntotal = max(1, num_samples // self.batch_size)
        if self.min_checkpoints_per_epoch <= 0:
            return self.max_batches_per_checkpoint
        return max(
            1, min(self.max_batches_per_checkpoint, int(ntotal // self.min_checkpoints_per_epoch))
        )


PLAYER_KINDS = ("full", "network_only")
OPPONENTS = ("rollout_mcts", "alphabeta", "random", "one_step")


@dataclass(frozen=True, kw_only=True)
class DuelSpec:
    """One benchmark duel run after each iteration (AlphaZero.jl's ``Benchmark.Duel``)."""

    opponent: str = "random"
    """Baseline: ``"rollout_mcts"``, ``"alphabeta"``, ``"random"`` or ``"one_step"``."""
    opponent_options: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the baseline (e.g. ``{"num_simulations": 1000}``, ``{"depth": 5}``)."""
    player: str = "full"
    """``"full"``: the AlphaZero agent with search; ``"network_only"``: the raw policy."""
    num_games: int = 100
    """Games of the duel (colours alternate). AlphaZero.jl: 256 (connect four)."""
    mcts: MctsParams | None = None
    """Search of the ``"full"`` player (``None``: the arena's, else self-play's)."""

    def __post_init__(self) -> None:
        o = "DuelSpec"
        _require(
            self.opponent in OPPONENTS, o, "opponent", self.opponent, f"must be one of {OPPONENTS}"
        )
        _require(
            isinstance(self.opponent_options, dict),
            o,
            "opponent_options",
            self.opponent_options,
            "must be a table of keyword arguments",
        )
        _require(
            self.player in PLAYER_KINDS, o, "player", self.player, f"must be one of {PLAYER_KINDS}"
        )
        _count(o, "num_games", self.num_games)
        if self.mcts is not None:
            check_mcts("DuelSpec.mcts", self.mcts)

    @property
    def name(self) -> str:
        """A label such as ``"full vs alphabeta(depth=5)"``."""
        opts = ",".join(f"{k}={v}" for k, v in sorted(self.opponent_options.items()))
        return f"{self.player} vs {self.opponent}" + (f"({opts})" if opts else "")


def alphazero_jl_benchmark(num_games: int = 200) -> tuple[DuelSpec, ...]:
    """AlphaZero.jl's benchmark set: the full agent and the raw network, each against a
    rollout MCTS of 1000 simulations and an alpha-beta search of depth 5."""
    opponents = (("rollout_mcts", {"num_simulations": 1000}), ("alphabeta", {"depth": 5}))
    return tuple(
        DuelSpec(opponent=opp, opponent_options=dict(opts), player=player, num_games=num_games)
        for player in PLAYER_KINDS
        for opp, opts in opponents
    )


@dataclass(frozen=True, kw_only=True)
class Params:
    """Everything a training run needs (AlphaZero.jl's ``Params`` plus az_gym's extras).

    Training runs ``num_iters`` iterations of self-play then learning (then arena).
    AlphaGo Zero: about 5 million self-play games over 200 iterations, a memory of 500K
    games (~100M samples).
    """

    self_play: SelfPlayParams = field(default_factory=SelfPlayParams)
    """Self-play phase."""
    learning: LearningParams = field(default_factory=LearningParams)
    """Learning phase."""
    arena: ArenaParams | None = field(default_factory=ArenaParams)
    """Candidate-vs-best evaluation (``None``: always promote the candidate)."""
    memory_analysis: MemAnalysisParams | None = None
    """Per-stage losses after each iteration (``None``: skipped). AlphaZero.jl: nothing."""
    num_iters: int = 10
    """Training iterations. AlphaZero.jl: no default; AlphaGo Zero: ~200."""
    use_symmetries: bool = False
    """Augment the memory with the game's symmetries before learning. AlphaZero.jl: false."""
    mem_buffer_size: PLSchedule = field(default_factory=lambda: PLSchedule((0,), (100_000,)))
    """Memory capacity in samples, a schedule over iterations. AlphaZero.jl: no default."""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    """az_gym: the policy-value network's architecture."""
    seed: int = 0
    """az_gym: seed of every random generator of the run."""
    benchmark: tuple[DuelSpec, ...] = ()
    """az_gym: duels against baselines after each iteration (see
    :func:`alphazero_jl_benchmark`); empty for speed."""

    def __post_init__(self) -> None:
        o = "Params"
        for name, cls in (("self_play", SelfPlayParams), ("learning", LearningParams)):
            _require(
                isinstance(getattr(self, name), cls),
                o,
                name,
                getattr(self, name),
                f"must be a {cls.__name__}",
            )
        _require(
            self.arena is None or isinstance(self.arena, ArenaParams),
            o,
            "arena",
            self.arena,
            "must be an ArenaParams or none",
        )
        _require(
            self.memory_analysis is None or isinstance(self.memory_analysis, MemAnalysisParams),
            o,
            "memory_analysis",
            self.memory_analysis,
            "must be a MemAnalysisParams or none",
        )
        _count(o, "num_iters", self.num_iters, minimum=0)
        _flag(o, "use_symmetries", self.use_symmetries)
        _require(
            isinstance(self.mem_buffer_size, PLSchedule),
            o,
            "mem_buffer_size",
            self.mem_buffer_size,
            "must be a PLSchedule",
        )
        for v in self.mem_buffer_size.ys:
            ok = isinstance(v, int) and not isinstance(v, bool) and v >= 1
            _require(
                ok,
                o,
                "mem_buffer_size",
                self.mem_buffer_size,
                f"takes the value {v!r}, but sizes must be integers >= 1",
            )
        _require(
            isinstance(self.seed, int)
            and not isinstance(self.seed, bool)
            and 0 <= self.seed < 2**63,
            o,
            "seed",
            self.seed,
            "must be an integer in [0, 2**63) (numpy and torch seeds)",
        )
        if self.arena is not None:
            own, arena = self.self_play.sim, self.arena.sim
            for name, default in (("backend", "local"), ("ray_address", None)):
                mine, theirs = getattr(arena, name), getattr(own, name)
                _require(
                    mine in (default, theirs),
                    "Params.arena.sim",
                    name,
                    mine,
                    f"differs from self_play.sim.{name}={theirs!r}: the arena plays on the "
                    f"self-play workers; set self_play.sim.{name} (and leave arena's out)",
                )
        object.__setattr__(self, "benchmark", tuple(self.benchmark))
        for d in self.benchmark:
            _require(isinstance(d, DuelSpec), o, "benchmark", d, "entries must be DuelSpec")

    def validate_for_game(self, game: Any) -> None:
        """Checks that need the game (an :class:`~az_gym.game.Game`).

        Raises:
            ParamsError: flipping or symmetry augmentation without symmetries, flipping
                on a game whose states cannot be transformed (symmetries of observations
                only), colour alternation in a one-player game, the MCTS solver on a game
                it cannot prove (more than two players, chance).
        """
        from az_gym._mcts_solver import check_solvable

        searches = [("self_play.mcts", self.self_play.mcts)]
        if self.arena is not None:
            searches.append(("arena.mcts", self.arena.mcts))
        for where, mcts in searches:
            if mcts.solver:
                try:
                    check_solvable(game)
                except ValueError as e:
                    raise ParamsError(f"Params.{where}.solver=True: {e}") from None
        syms = game.symmetries()
        has_syms = len(syms) > 1
        sims = [("self_play.sim", self.self_play.sim)]
        if self.arena is not None:
            sims.append(("arena.sim", self.arena.sim))
        for where, sim in sims:
            _require(
                sim.flip_probability == 0 or has_syms,
                f"Params.{where}",
                "flip_probability",
                sim.flip_probability,
                f"> 0 needs a game with symmetries; {game.name} has none",
            )
            if sim.flip_probability > 0:
                _check_state_transforms(game, syms[1:], f"Params.{where}", sim.flip_probability)
            _require(
                not sim.alternate_colors or game.num_players == 2,
                f"Params.{where}",
                "alternate_colors",
                True,
                f"needs a two-player game; {game.name} has one player",
            )
        _require(
            not self.use_symmetries or has_syms,
            "Params",
            "use_symmetries",
            True,
            f"needs a game with symmetries; {game.name} has none",
        )


def _check_state_transforms(game: Any, symmetries: list[Any], owner: str, value: float) -> None:
    """Flipping replaces the position by a symmetric one before each turn, so every
    non-identity symmetry must transform states (not only observations and policies):
    try each on the initial state now rather than fail mid-self-play."""
    state = game.initial_state()
    for sym in symmetries:
        try:
            game.apply_symmetry(state, sym)
        except NotImplementedError as e:
            raise ParamsError(
                f"{owner}.flip_probability={value!r} > 0 needs symmetries that transform "
                f"states; {game.name} cannot apply {sym.name!r} to a state ({e}); "
                "set flip_probability = 0 (symmetry augmentation, use_symmetries, still works)"
            ) from None


# Serialisation lives in its own module; re-exported here (import after the classes).
from az_gym.training.params_io import (  # noqa: E402
    apply_overrides,
    default_params,
    load_params,
    params_from_dict,
    params_to_dict,
    save_params,
)
