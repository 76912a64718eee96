"""Training hyper-parameters: frozen dataclasses after AlphaZero.jl's ``Params`` family.

Every field carries a docstring with its meaning, AlphaZero.jl's default and, where the
paper gives one, AlphaGo Zero's value. Each class validates itself in ``__post_init__``;
errors name the class, the field, the offending value and the rule, e.g.
``SimParams.batch_size=64 must be <= num_workers=32``. Checks that need the game live in
:meth:`Params.validate_for_game`.

The sections live in their own modules and are re-exported here:
:mod:`~az_gym.training.params_play` (:class:`SimParams`, :class:`SelfPlayParams`,
:class:`ArenaParams`, :class:`DuelSpec`; with the mapping of AlphaZero.jl's parallelism onto
az_gym), :mod:`~az_gym.training.params_learning` (:class:`LearningParams`,
:class:`OptimiserSpec`, :class:`SamplesWeighingPolicy`, :class:`MemAnalysisParams`) and the
rules they check, :mod:`~az_gym.training.params_checks`. This module holds the top-level
:class:`Params`.

Removed settings (:data:`REMOVED_KEYS`): a parameter file that still sets one (every
``params.toml`` written by an older az_gym does) loads with a warning and the key is
ignored, which is exactly what those versions did with it; a ``key=value`` override that
sets one is refused.

Serialisation (TOML files, ``key=value`` overrides) lives in
:mod:`az_gym.training.params_io` and is re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from az_gym.mcts_params import MctsParams
from az_gym.networks import NetworkConfig
from az_gym.schedules import (
    ConstSchedule,
    PLSchedule,
    Schedule,
    StepSchedule,
    schedule_from_dict,
)
from az_gym.training.params_checks import (
    ParamsError,
    check_count,
    check_flag,
    check_for_game,
    check_mcts,
    require,
)
from az_gym.training.params_learning import (
    MIXED_PRECISION,
    LearningParams,
    MemAnalysisParams,
    OptimiserSpec,
    SamplesWeighingPolicy,
)
from az_gym.training.params_play import (
    MAX_CACHE_SIZE,
    OPPONENTS,
    PLAYER_KINDS,
    ArenaParams,
    DuelSpec,
    SelfPlayParams,
    SimParams,
    alphazero_jl_benchmark,
)

__all__ = [
    "MAX_CACHE_SIZE",
    "MIXED_PRECISION",
    "OPPONENTS",
    "PLAYER_KINDS",
    "REMOVED_KEYS",
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
    "check_mcts",
    "default_params",
    "load_params",
    "params_from_dict",
    "params_to_dict",
    "save_params",
    "schedule_from_dict",
]


REMOVED_KEYS: dict[str, str] = {
    "fill_batches": "slots always start a new game at once (AlphaZero.jl's fill_batches=true)",
    "ternary_rewards": "nothing read it; returns are whatever the game gives",
    "reset_every": "trees are re-rooted at every move and a new game never reuses the old "
    "tree, so the value changed nothing",
}
"""Settings that earlier versions accepted but never acted on, with the reason: a file that
sets one loads with a warning (delete the line to silence it), an override is refused."""


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
    """Train on the game's symmetric images: each batch sample is seen under a symmetry
    drawn at batch time, as from the augmented set, which is never materialised
    (:mod:`az_gym.training.learning_set`). AlphaZero.jl: false."""
    keep_best_networks: bool = True
    """az_gym: keep the best network of every iteration as ``networks/best-NNNNNN.pt`` in the
    run directory (a checkpoint of a few hundred KB for the tuned files' networks; an agent
    file for ``az-gym evaluate``; ``bench/strength.py RUN_DIR`` measures each against the
    training time). Without it only the last two iterations' files are kept."""
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
            require(
                isinstance(getattr(self, name), cls),
                o,
                name,
                getattr(self, name),
                f"must be a {cls.__name__}",
            )
        require(
            self.arena is None or isinstance(self.arena, ArenaParams),
            o,
            "arena",
            self.arena,
            "must be an ArenaParams or none",
        )
        require(
            self.memory_analysis is None or isinstance(self.memory_analysis, MemAnalysisParams),
            o,
            "memory_analysis",
            self.memory_analysis,
            "must be a MemAnalysisParams or none",
        )
        check_count(o, "num_iters", self.num_iters, minimum=0)
        check_flag(o, "use_symmetries", self.use_symmetries)
        check_flag(o, "keep_best_networks", self.keep_best_networks)
        require(
            isinstance(self.mem_buffer_size, PLSchedule),
            o,
            "mem_buffer_size",
            self.mem_buffer_size,
            "must be a PLSchedule",
        )
        for v in self.mem_buffer_size.ys:
            ok = isinstance(v, int) and not isinstance(v, bool) and v >= 1
            require(
                ok,
                o,
                "mem_buffer_size",
                self.mem_buffer_size,
                f"takes the value {v!r}, but sizes must be integers >= 1",
            )
        require(
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
                require(
                    mine in (default, theirs),
                    "Params.arena.sim",
                    name,
                    mine,
                    f"differs from self_play.sim.{name}={theirs!r}: the arena plays on the "
                    f"self-play workers; set self_play.sim.{name} (and leave arena's out)",
                )
        object.__setattr__(self, "benchmark", tuple(self.benchmark))
        for d in self.benchmark:
            require(isinstance(d, DuelSpec), o, "benchmark", d, "entries must be DuelSpec")

    def validate_for_game(self, game: Any) -> None:
        """Checks that need the game (an :class:`~az_gym.game.Game`).

        Raises:
            ParamsError: flipping or symmetry augmentation without symmetries, flipping
                on a game whose states cannot be transformed (symmetries of observations
                only), colour alternation in a one-player game, the MCTS solver on a game
                it cannot prove (more than two players, chance).
        """
        check_for_game(self, game)


# Serialisation lives in its own module; re-exported here (import after the classes).
from az_gym.training.params_io import (  # noqa: E402
    apply_overrides,
    default_params,
    load_params,
    params_from_dict,
    params_to_dict,
    save_params,
)
