"""One training iteration, phase by phase, for :class:`~az_gym.training.trainer.Trainer`.

self-play (best net) -> memory (add, resize by the schedule) -> learning (current net),
with an arena after each checkpoint (promote the candidate into the best net) -> memory
analysis -> benchmark duels -> the iteration's JSON record. Saving is the trainer's job.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from az_gym.training.arena import ArenaReport, run_arena
from az_gym.training.selfplay import net_weights, run_self_play

if TYPE_CHECKING:  # pragma: no cover
    from az_gym.training.trainer import Trainer


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**62))


def _losses(terms: Any) -> dict[str, float]:
    return dict(terms.to_dict()) if hasattr(terms, "to_dict") else dict(terms)


def run_iteration(tr: Trainer, iteration: int) -> dict[str, Any]:
    """Run iteration ``iteration`` (1-based) in memory and return its report record.

    Mutates ``tr.memory``, ``tr.current_net``, ``tr.best_net``, the learner and ``tr.rng``;
    writes no file.
    """
    p = tr.params
    game = tr.game

    # --- self-play with the best network
    bar = tr.progress(p.self_play.sim.num_games, f"[{iteration}] self-play", "games")
    with bar:
        samples, sp = run_self_play(
            tr.game_spec, game, tr.net_spec, net_weights(tr.best_net), p.self_play, tr.pool(),
            seed=_seed(tr.rng), on_game_end=lambda _n: bar.update(1),
        )  # fmt: skip
    tr.callbacks.fire("on_self_play_end", sp)

    # --- memory
    tr.memory.add(samples, num_games=sp.num_games, capacity=int(p.mem_buffer_size[iteration]))
    symmetries = game.symmetries()[1:] if p.use_symmetries else None
    data = tr.memory.training_data(
        p.learning.use_position_averaging, p.learning.samples_weighing_policy, symmetries
    )

    # --- learning, with an arena after each checkpoint
    arenas: list[ArenaReport] = []
    promoted = False

    def on_checkpoint(index: int, report: Any) -> None:
        nonlocal promoted
        if p.arena is None:
            tr.best_net.load_state_dict(copy.deepcopy(tr.current_net.state_dict()))
            promoted = True
            return
        abar = tr.progress(p.arena.sim.num_games, f"[{iteration}] arena {index + 1}", "games")
        with abar:
            rep = run_arena(
                tr.game_spec, game.num_players, tr.net_spec, net_weights(tr.current_net),
                net_weights(tr.best_net), p.arena, tr.pool(), seed=_seed(tr.rng),
                use_gpu=p.arena.sim.use_gpu, on_game_end=lambda _n: abar.update(1),
            )  # fmt: skip
        arenas.append(rep)
        tr.callbacks.fire("on_arena_end", rep)
        if rep.promoted:
            tr.best_net.load_state_dict(copy.deepcopy(tr.current_net.state_dict()))
            promoted = True

    total = p.learning.batches_per_checkpoint(len(data)) * p.learning.num_checkpoints
    lbar = tr.progress(total, f"[{iteration}] learning", "batches")
    with lbar:
        learning = tr.learner.train(
            data, iteration, tr.rng,
            on_progress=lambda *_a: lbar.update(1), on_checkpoint=on_checkpoint,
        )  # fmt: skip
    tr.current_net.eval()
    tr.callbacks.fire("on_learning_end", learning)

    # --- memory analysis
    stages: dict[str, Any] = {}
    if p.memory_analysis is not None:
        from az_gym.training.learning import analyse_memory

        for st in analyse_memory(
            tr.current_net, tr.memory, p.memory_analysis.num_game_stages, p.learning,
            device=tr.device,
        ):  # fmt: skip
            stages[f"stage_{st.index}"] = {
                "num_samples": st.num_samples,
                "mean_moves_left": st.mean_moves_left,
                **_losses(st.losses),
            }
        tr.current_net.eval()

    # --- benchmark duels
    benchmark = run_benchmark(tr, iteration)

    before, after = _losses(learning.losses_before), _losses(learning.losses_after)
    last_arena = arenas[-1] if arenas else None
    # Arenas run inside learning (at each checkpoint): the phases' seconds add up only if
    # learning's own time leaves them out.
    arena_seconds = sum(a.seconds for a in arenas)
    summary = (
        f"{sp.num_samples} samples ({sp.samples_per_second:.0f}/s), loss "
        f"{before['total']:.3f} -> {after['total']:.3f}"
        + (f", arena {last_arena.score:+.2f}" if last_arena else "")
        + (", promoted" if promoted else "")
    )
    return {
        "iteration": iteration,
        "summary": summary,
        "promoted": promoted,
        "self_play": sp.to_dict(),
        "memory": {
            "size": len(tr.memory),
            "learning_set": len(data),
            "games_seen": tr.memory.num_games,
            "capacity": tr.memory.capacity,
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
            "update_threshold": p.arena.update_threshold if p.arena else None,
            "num_players": game.num_players,
        },
        "memory_analysis": stages,
        "benchmark": benchmark,
    }


def _baseline(name: str, options: dict[str, Any], seed: int) -> Any:
    from az_gym import agents

    classes = {
        "random": "RandomAgent",
        "one_step": "OneStepLookaheadAgent",
        "alphabeta": "AlphaBetaAgent",
        "rollout_mcts": "MctsRolloutAgent",
    }
    return getattr(agents, classes[name])(seed=seed, **options)


def run_benchmark(tr: Trainer, iteration: int) -> dict[str, Any]:
    """Play ``params.benchmark``'s duels with the best network; ``{name: score dict}``.

    Skipped (with a note in the record) when the game is not two-player or the evaluation
    module is missing.
    """
    duels = tr.params.benchmark
    if not duels:
        return {}
    if tr.game.num_players != 2:
        return {"note": "benchmark duels need a two-player game; skipped"}
    try:
        from az_gym.evaluation import evaluate
    except ImportError:
        return {"note": "az_gym.evaluation is not available; skipped"}
    from az_gym.agents.alphazero import AlphaZeroAgent

    out: dict[str, Any] = {}
    for duel in duels:
        seed = _seed(tr.rng)
        default = tr.params.arena.mcts if tr.params.arena else tr.params.self_play.mcts
        net = copy.deepcopy(tr.best_net).cpu().eval()
        player: Any = AlphaZeroAgent(tr.game, net, duel.mcts or default, seed=seed)
        if duel.player == "network_only":
            from az_gym.agents import NetworkOnlyAgent

            player = NetworkOnlyAgent(net, seed=seed)
        opponent = _baseline(duel.opponent, duel.opponent_options, seed + 1)
        result = evaluate(player, opponent, tr.game, duel.num_games, seed=seed)
        out[duel.name] = {
            "score": result.score,
            "wins": result.wins,
            "draws": result.draws,
            "losses": result.losses,
        }
    return out
