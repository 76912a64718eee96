"""Parameters of the phases that play games: :class:`SimParams` (how many games, and
how), :class:`SelfPlayParams`, :class:`ArenaParams` and the benchmark duels
(:class:`DuelSpec`). All are re-exported by :mod:`az_gym.training.params`.

Mapping of AlphaZero.jl's parallelism onto az_gym (no threads, no inference server):

* ``SimParams.num_processes`` worker processes (``None``: one per CPU core) each run
* ``SimParams.num_workers`` games *concurrently*, their search trees stepped in lockstep;
  every simulation step gathers one leaf per live game and evaluates them in network calls
  of at most ``SimParams.batch_size`` leaves (so ``batch_size <= num_workers``).
* When a game ends its slot starts a new game at once (while games remain), so network
  calls stay as full as possible (AlphaZero.jl's ``fill_batches = true``, always on).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from az_gym.inference import ENGINES
from az_gym.mcts_params import MctsParams
from az_gym.training.params_checks import (
    check_count,
    check_flag,
    check_mcts,
    check_real,
    require,
)

MAX_CACHE_SIZE = 10_000_000
"""Most entries ``SimParams.cache_size`` accepts (a few GB per worker for Connect Four): a
bound, so that a crafted parameter file cannot make every worker grow without limit."""


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
        check_count(o, "num_games", self.num_games, minimum=1)
        check_count(o, "num_workers", self.num_workers)
        check_count(o, "batch_size", self.batch_size)
        require(
            self.batch_size <= self.num_workers,
            o,
            "batch_size",
            self.batch_size,
            f"must be <= num_workers={self.num_workers}",
        )
        for name in ("use_gpu", "alternate_colors"):
            check_flag(o, name, getattr(self, name))
        require(
            self.inference in ENGINES, o, "inference", self.inference,
            f"must be one of {', '.join(ENGINES)}",
        )  # fmt: skip
        require(
            not (self.use_gpu and self.inference == "onnx"), o, "inference", self.inference,
            "runs on the CPU only; with use_gpu=true use 'auto', 'eager' or 'compile'",
        )  # fmt: skip
        check_real(o, "flip_probability", self.flip_probability, 0, 1, "must be in [0, 1]")
        if self.num_processes is not None:
            check_count(o, "num_processes", self.num_processes)
        check_count(o, "cache_size", self.cache_size, minimum=0)
        require(self.cache_size <= MAX_CACHE_SIZE, o, "cache_size", self.cache_size,
                 f"must be <= {MAX_CACHE_SIZE}")  # fmt: skip
        require(
            self.backend in ("local", "ray"), o, "backend", self.backend, "must be 'local' or 'ray'"
        )
        require(
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
    value_target_q_weight: float = 0.0
    """``w`` in ``[0, 1]``: each position's value target is ``(1 - w) * z + w * q``, with
    ``z`` the game's outcome for the mover (AlphaZero's target, ``w = 0``, the default) and
    ``q`` the root value of the search that chose the move. ``z`` is unbiased but noisy (a
    blunder later in the game flips it), ``q`` is less noisy but biased by the network it
    searched with; mixing them is what KataGo and several Connect Four studies do. A
    position the solver proved keeps its exact value whatever ``w``. On Connect Four with
    the tuned file, ``w = 0.5`` was no better than ``z`` alone within an hour of training
    (README, Results), so no tuned file sets it."""

    full_search_fraction: float = 1.0
    """Playout-cap randomisation (KataGo, Wu 2019, section 3.1), ``p`` in ``(0, 1]``: each
    self-play move gets the full search (``mcts.num_iters_per_turn`` simulations) with
    probability ``p`` and a fast one of ``fast_search_simulations`` otherwise; only the
    positions searched in full become samples (their policy targets are as good as ever),
    while the fast moves make more games, hence more value targets, per CPU-second. ``1``
    (the default, AlphaZero): every move is searched in full and recorded. Fast searches keep
    the self-play noise and move choice (the Gumbel draw with ``root_policy = "gumbel"``).
    On Connect Four with the tuned file, ``p = 0.25`` with 20 fast simulations and 2000
    games an iteration was no better than full searches over 71 minutes of training (README,
    Results), so no tuned file sets it."""
    fast_search_simulations: int = 20
    """Simulations of a fast search (used when ``full_search_fraction < 1``, and then at
    most ``mcts.num_iters_per_turn``). KataGo: 100 (fast) against 600 (full)."""

    random_opening_plies: int = 0
    """``n >= 0``: each self-play game starts after ``k`` uniformly random legal moves,
    ``k`` drawn uniformly from ``0..n`` for each game (a ``k`` that would end the game is
    drawn again, up to 100 times, then the game starts from the initial position). The
    random moves are played, not searched, and leave no samples; the positions after them
    are searched and recorded as usual, with ply numbers (the temperature schedule) counted
    from the initial position. It widens what self-play sees beyond the lines its own
    policy likes, as KataGo's and Leela's varied openings do; evaluations from random
    openings (``az-gym evaluate --opening-plies``) play such positions. ``0`` (the default,
    AlphaZero): every game starts from the initial position. Fine-tuning the shipped gomoku
    network with ``n = 2`` for 50 iterations scored no better against alpha-beta from random
    openings (README, Results), so no tuned file sets it."""

    def __post_init__(self) -> None:
        check_mcts("SelfPlayParams.mcts", self.mcts)
        p = self.full_search_fraction
        require(
            isinstance(p, (int, float)) and not isinstance(p, bool) and 0 < p <= 1,
            "SelfPlayParams", "full_search_fraction", p, "must be in (0, 1]",
        )  # fmt: skip
        check_count("SelfPlayParams", "fast_search_simulations", self.fast_search_simulations)
        check_count("SelfPlayParams", "random_opening_plies", self.random_opening_plies, minimum=0)
        require(
            self.full_search_fraction == 1
            or self.fast_search_simulations <= self.mcts.num_iters_per_turn, "SelfPlayParams",
            "fast_search_simulations", self.fast_search_simulations,
            f"must be <= mcts.num_iters_per_turn={self.mcts.num_iters_per_turn}",
        )  # fmt: skip
        check_real(
            "SelfPlayParams", "value_target_q_weight", self.value_target_q_weight, 0, 1,
            "must be in [0, 1]",
        )  # fmt: skip
        require(
            isinstance(self.sim, SimParams),
            "SelfPlayParams",
            "sim",
            self.sim,
            "must be a SimParams",
        )
        require(
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
        require(
            isinstance(self.sim, SimParams), "ArenaParams", "sim", self.sim, "must be a SimParams"
        )
        check_real(
            "ArenaParams",
            "update_threshold",
            self.update_threshold,
            -math.inf,
            math.inf,
            "must be a finite number",
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
        require(
            self.opponent in OPPONENTS, o, "opponent", self.opponent, f"must be one of {OPPONENTS}"
        )
        require(
            isinstance(self.opponent_options, dict),
            o,
            "opponent_options",
            self.opponent_options,
            "must be a table of keyword arguments",
        )
        require(
            self.player in PLAYER_KINDS, o, "player", self.player, f"must be one of {PLAYER_KINDS}"
        )
        check_count(o, "num_games", self.num_games)
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
