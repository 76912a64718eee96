"""The pieces of one training iteration that need no trainer: the iteration's JSON record,
the memory analysis by game stage, and the benchmark duels.

:class:`~az_gym.training.trainer.Trainer` calls them from its phase methods (self-play ->
memory -> learning with arenas -> memory analysis -> benchmark -> record); each takes what it
uses as explicit arguments, so this module never imports the trainer.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from az_gym.agents.alphabeta import MAX_UNTRUSTED_DEPTH
from az_gym.agents.rollout_mcts import MAX_UNTRUSTED_ROLLOUTS, MAX_UNTRUSTED_SIMULATIONS
from az_gym.game import Game
from az_gym.training.arena import ArenaReport


def draw_seed(rng: np.random.Generator) -> int:
    """A fresh seed for a phase (workers, an arena, a duel) drawn from the run's ``rng``."""
    return int(rng.integers(2**62))


def _losses(terms: Any) -> dict[str, float]:
    return dict(terms.to_dict()) if hasattr(terms, "to_dict") else dict(terms)


def iteration_record(
    iteration: int,
    params: Any,
    num_players: int,
    sp: Any,
    memory: Any,
    data: Any,
    learning: Any,
    arenas: Sequence[ArenaReport],
    promoted: bool,
    stages: dict[str, Any],
    benchmark: dict[str, Any],
) -> dict[str, Any]:
    """The JSON record of iteration ``iteration`` (one line of ``report.jsonl``), from each
    phase's report: self-play's ``sp``, the ``memory`` after the update and its learning set
    ``data``, ``learning``'s report, the ``arenas`` run at its checkpoints, the stage
    losses and the benchmark scores."""
    before, after = _losses(learning.losses_before), _losses(learning.losses_after)
    last_arena = arenas[-1] if arenas else None
    # Arenas run inside learning (at each checkpoint): the phases' seconds add up only if
    # learning's own time leaves them out.
    arena_seconds = sum(a.seconds for a in arenas)
    record = {
        "iteration": iteration,
        "summary": "",  # below, from the record
        "promoted": promoted,
        "self_play": sp.to_dict(),
        "memory": {
            "size": len(memory),
            "learning_set": len(data),
            "games_seen": memory.num_games,
            "capacity": memory.capacity,
        },
        "learning": {
            "lr": learning.lr,
            "num_samples": learning.num_samples,
            "batches": sum(c.num_batches for c in learning.checkpoints),
            "seconds": learning.seconds - arena_seconds,
            "loss_before": before,
            "loss_after": after,
        },
        "arena": {
            "score": last_arena.score if last_arena else None,
            "runs": [a.to_dict() for a in arenas],
            "seconds": arena_seconds,
            "update_threshold": params.arena.update_threshold if params.arena else None,
            "num_players": num_players,
        },
        "memory_analysis": stages,
        "benchmark": benchmark,
    }
    record["summary"] = _summary(record, sp, before, after)
    return record


def _summary(
    record: dict[str, Any], sp: Any, before: dict[str, float], after: dict[str, float]
) -> str:
    """The line printed after each iteration: samples (and the positions played, where
    playout caps recorded fewer), loss, and the last arena's score in
    ``evaluate``'s and the plots' units (two players: ``[0, 1]``; see
    :func:`~az_gym.training.plots.arena_points`) with the threshold in the same units."""
    from az_gym.training.plots import arena_points, arena_threshold

    cache = "" if sp.cache_hit_rate is None else f", cache hits {sp.cache_hit_rate:.0%}"
    played = "" if sp.num_samples >= sp.num_positions else f" of {sp.num_positions} positions"
    text = (
        f"{sp.num_samples} samples{played} ({sp.samples_per_second:.0f}/s{cache}), "
        f"loss {before['total']:.3f} -> {after['total']:.3f}"
    )
    points = arena_points(record)
    if points:
        threshold = arena_threshold(record)
        text += f", arena {points[-1][1]:.2f}"
        text += f" (threshold {threshold:g})" if threshold is not None else ""
    return text + (", promoted" if record["promoted"] else "")


def memory_stages(net: Any, memory: Any, params: Any, device: Any) -> dict[str, Any]:
    """``{"stage_i": {num_samples, mean_moves_left, loss terms}}``: ``net``'s losses on the
    memory split into ``params.memory_analysis.num_game_stages`` stages by moves left
    (AlphaZero.jl's memory report). Leaves ``net`` in eval mode."""
    from az_gym.training.learning import analyse_memory

    stages: dict[str, Any] = {}
    for st in analyse_memory(
        net, memory, params.memory_analysis.num_game_stages, params.learning, device=device
    ):
        stages[f"stage_{st.index}"] = {
            "num_samples": st.num_samples,
            "mean_moves_left": st.mean_moves_left,
            **_losses(st.losses),
        }
    net.eval()
    return stages


BENCHMARK_OPTION_LIMITS: dict[str, dict[str, int | None]] = {
    "random": {},
    "one_step": {},
    "alphabeta": {"depth": MAX_UNTRUSTED_DEPTH},
    "rollout_mcts": {
        "num_simulations": MAX_UNTRUSTED_SIMULATIONS,
        "num_rollouts": MAX_UNTRUSTED_ROLLOUTS,
        "cpuct": None,
    },
}
"""The ``opponent_options`` each benchmark opponent accepts from a parameter file, with
the maximum of those that bound its work per move (``None``: no maximum). A run's
``params.toml`` may come from someone else, and a duel runs after every iteration, so an
unbounded search there would stall every resume: ``alphabeta`` depth <= 12 (and not
``None``, no limit), ``rollout_mcts`` num_simulations <= 100000 and num_rollouts <= 100.
To benchmark beyond them, call :func:`az_gym.evaluation.evaluate` yourself."""


def check_benchmark(params: Any) -> None:
    """Build each benchmark opponent of ``params.benchmark`` once (cheap: no game is
    played), so that bad options are refused before any iteration runs rather than after
    its self-play and learning.

    Raises:
        ParamsError: an option the opponent does not take, a value it refuses, or one over
            :data:`BENCHMARK_OPTION_LIMITS` (names the duel and the option).
    """
    from az_gym.training.params import ParamsError

    for i, duel in enumerate(params.benchmark):
        limits, options = BENCHMARK_OPTION_LIMITS[duel.opponent], duel.opponent_options
        where = f"benchmark[{i}] (opponent {duel.opponent!r}): opponent_options"
        unknown = sorted(map(repr, set(options) - set(limits)))
        if unknown:
            takes = ", ".join(limits) or "no options"
            raise ParamsError(f"{where} {', '.join(unknown)[:200]} unknown (it takes {takes})")
        try:
            _baseline(duel.opponent, options, seed=0)
        except (TypeError, ValueError) as e:
            raise ParamsError(f"{where} {str(options)[:200]} refused: {str(e)[:200]}") from None
        for key, maximum in limits.items():
            value = options.get(key, 0)
            if maximum is not None and (value is None or value > maximum):
                raise ParamsError(
                    f"{where} {key}={value!r} is over the benchmark maximum {maximum} "
                    "(see iteration.BENCHMARK_OPTION_LIMITS)"
                )


def _baseline(name: str, options: dict[str, Any], seed: int) -> Any:
    from az_gym import agents

    classes = {
        "random": "RandomAgent",
        "one_step": "OneStepLookaheadAgent",
        "alphabeta": "AlphaBetaAgent",
        "rollout_mcts": "MctsRolloutAgent",
    }
    return getattr(agents, classes[name])(seed=seed, **options)


def run_benchmark(
    game: Game, best_net: Any, params: Any, rng: np.random.Generator, pool: Any = None
) -> dict[str, Any]:
    """Play ``params.benchmark``'s duels with (a CPU copy of) ``best_net``;
    ``{name: score dict}``, seeds drawn from ``rng``, on ``pool`` (the trainer's
    :class:`~az_gym.workers.WorkerPool`, local processes or Ray actors; ``None``: in this
    process). The scores do not depend on the pool: each game's seed is fixed.

    Skipped (with a note in the record) when the game is not two-player.
    """
    duels = params.benchmark
    if not duels:
        return {}
    if game.num_players != 2:
        return {"note": "benchmark duels need a two-player game; skipped"}
    from az_gym.agents.alphazero import AlphaZeroAgent
    from az_gym.evaluation import evaluate

    out: dict[str, Any] = {}
    for duel in duels:
        seed = draw_seed(rng)
        default = params.arena.mcts if params.arena else params.self_play.mcts
        net = copy.deepcopy(best_net).cpu().eval()
        player: Any = AlphaZeroAgent(game, net, duel.mcts or default, seed=seed)
        if duel.player == "network_only":
            from az_gym.agents import NetworkOnlyAgent

            player = NetworkOnlyAgent(net, seed=seed)
        opponent = _baseline(duel.opponent, duel.opponent_options, seed + 1)
        result = evaluate(player, opponent, game, duel.num_games, seed=seed, pool=pool)
        out[duel.name] = {
            "score": result.score,
            "wins": result.wins,
            "draws": result.draws,
            "losses": result.losses,
        }
    return out
