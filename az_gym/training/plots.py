"""The PNG plots of a run (``run_dir/plots/*.png``), drawn from its report records.

Each chart has a title, axis labels and human names for its series (:func:`plot_reports`):
``losses.png`` draws the terms of the total loss and, in a second panel, the self-play
targets' entropy with the policy KL (neither is a loss); ``arena.png`` draws the
candidate's score against the best network in ``evaluate``'s ``[0, 1]`` units, the
promotion threshold in the same units, and marks each arena's decision.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from az_gym.training.checkpoint import atomic_write_bytes
from az_gym.training.report import flatten


def _get(record: Mapping[str, Any], path: str) -> Any:
    node: Any = record
    for part in path.split("/"):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _series(records: Sequence[Mapping[str, Any]], path: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for r in records:
        node = _get(r, path)
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            xs.append(int(r.get("iteration", len(xs) + 1)))
            ys.append(float(node))
    return xs, ys


LOSS_NAMES = {
    "total": "total loss",
    "policy": "policy cross-entropy $L_p$",
    "value": "value MSE $L_v$",
    "l2": "L2 regularisation",
    "invalid": "illegal-move penalty",
}
"""The terms of the total loss, as drawn in ``losses.png``. ``illegal_mass`` is left out:
it is the penalty term divided by ``nonvalidity_penalty`` (1 by default, hence two
identical curves before), and ``entropy`` (of the targets) is no loss: it has its own panel."""


def arena_points(record: Mapping[str, Any]) -> list[tuple[float, float, bool]]:
    """``(x, score, promoted)`` per arena of an iteration record, in ``evaluate``'s units.

    Two players: the candidate's score ``(wins + draws / 2) / games`` in ``[0, 1]``, i.e.
    ``(mean reward + 1) / 2``. One player: the candidate's mean reward minus the best's,
    unchanged. ``x`` spreads an iteration's arenas (one per learning checkpoint) over
    ``(iteration - 1, iteration]``.
    """
    it = int(record.get("iteration", 0))
    runs = [r for r in _get(record, "arena/runs") or [] if isinstance(r.get("score"), (int, float))]
    two = _two_player(record)
    return [
        (it - 1 + (k + 1) / len(runs), (r["score"] + 1) / 2 if two else r["score"],
         bool(r.get("promoted")))
        for k, r in enumerate(runs)
    ]  # fmt: skip


def arena_threshold(record: Mapping[str, Any]) -> float | None:
    """The promotion threshold of a record's arena in the units of :func:`arena_points`."""
    t = _get(record, "arena/update_threshold")
    if not isinstance(t, (int, float)):
        return None
    return (t + 1) / 2 if _two_player(record) else float(t)


def _two_player(record: Mapping[str, Any]) -> bool:
    n = _get(record, "arena/num_players")
    if isinstance(n, int):
        return n == 2
    # records written before num_players was stored: zero-sum rewards mean two players
    runs = _get(record, "arena/runs") or []
    return all(abs(r.get("candidate_reward", 0) + r.get("best_reward", 0)) < 1e-9 for r in runs)


def plot_reports(records: Sequence[Mapping[str, Any]], plots_dir: str | Path) -> list[Path]:
    """Draw the standard plots as PNG files (matplotlib Agg); returns the paths written.

    ``losses.png`` (loss terms after learning; target entropy and KL in a second panel),
    ``arena.png`` (candidate's score against the best, threshold, promotions),
    ``benchmark.png``, ``buffer.png``, ``stages.png`` (loss by game stage),
    ``selfplay.png``. A chart without data is not drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in _CHARTS.items():
        fig = draw(plt, records)
        if fig is None:
            continue
        path = plots_dir / f"{name}.png"
        buf = io.BytesIO()
        try:
            fig.savefig(buf, format="png", dpi=80)
        finally:
            plt.close(fig)
        atomic_write_bytes(path, buf.getvalue())
        written.append(path)
    return written


def figure_losses(plt: Any, records: Sequence[Mapping[str, Any]]) -> Any:
    """``losses.png``: the loss terms, and the policy targets' entropy with the KL."""
    terms = [
        (label, *_series(records, f"learning/loss_after/{k}")) for k, label in LOSS_NAMES.items()
    ]
    terms = [t for t in terms if t[1]]
    if not terms:
        return None
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True)
    for label, xs, ys in terms:
        top.plot(xs, ys, marker="o", label=label, lw=2.5 if label == "total loss" else 1.5)
    top.set_title("Loss on the training set after each iteration's learning")
    top.set_ylabel("loss")
    top.legend(fontsize=8)
    xs, ent = _series(records, "learning/loss_after/entropy")
    xp, pol = _series(records, "learning/loss_after/policy")
    if ent:
        bottom.plot(
            xs, ent, marker="o", color="tab:purple", label="target policy entropy $H(\\pi)$"
        )
    if ent and xs == xp:
        kl = [p - h for p, h in zip(pol, ent, strict=True)]
        bottom.plot(xs, kl, marker="o", color="tab:olive",
                    label="policy KL $L_p - H(\\pi)$ (0: the net matches the targets)")  # fmt: skip
    bottom.set_title("Self-play policy targets")
    bottom.set_ylabel("nats")
    bottom.set_xlabel("iteration")
    if ent:
        bottom.legend(fontsize=8)
    for ax in (top, bottom):
        _iteration_axis(ax)
    fig.tight_layout()
    return fig


def figure_arena(plt: Any, records: Sequence[Mapping[str, Any]]) -> Any:
    """``arena.png``: the candidate's score against the best network, in ``evaluate``'s
    units, with the promotion threshold and each arena's decision."""
    points = [p for r in records for p in arena_points(r)]
    if not points:
        return None
    two = _two_player(records[-1])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot([p[0] for p in points], [p[1] for p in points], color="tab:blue", lw=1, zorder=1)
    for promoted, style in (
        (True, ("^", "tab:green", "promoted")),
        (False, ("x", "tab:red", "not promoted")),
    ):
        chosen = [p for p in points if p[2] == promoted]
        if chosen:
            marker, color, label = style
            ax.scatter([p[0] for p in chosen], [p[1] for p in chosen], marker=marker,
                       color=color, s=50, label=label, zorder=2)  # fmt: skip
    thresholds = {arena_threshold(r) for r in records} - {None}
    for t in sorted(thresholds):
        ax.axhline(t, color="tab:orange", ls="--", label=f"promotion threshold {t:.3f}")
    if two:
        ax.axhline(0.5, color="grey", ls=":", lw=1, label="even (0.5)")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("candidate's score: (wins + draws/2) / games")
    else:
        ax.set_ylabel("candidate's mean reward minus the best's")
    ax.set_title("Arena: candidate network against the best network")
    ax.set_xlabel("iteration")
    _iteration_axis(ax)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _iteration_axis(ax: Any) -> None:
    """Whole iterations on the x axis, and a light grid."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def _simple(title: str, ylabel: str, paths: Any, label: Any = None) -> Any:
    """A one-panel chart of the series ``paths(records)``, legend names ``label(path)``."""

    def draw(plt: Any, records: Sequence[Mapping[str, Any]]) -> Any:
        series = [(p, *_series(records, p)) for p in paths(records)]
        series = [s for s in series if s[1]]
        if not series:
            return None
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for p, xs, ys in series:
            ax.plot(xs, ys, marker="o", label=label(p, records) if label else None)
        ax.set_title(title)
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
        if label:
            ax.legend(fontsize=8)
        _iteration_axis(ax)
        fig.tight_layout()
        return fig

    return draw


def _stage_label(path: str, records: Sequence[Mapping[str, Any]]) -> str:
    stage = path.split("/")[1]
    left = _get(records[-1], f"memory_analysis/{stage}/mean_moves_left")
    n = int(stage.rsplit("_", 1)[-1]) + 1
    return f"stage {n}" + (f" ({left:.1f} moves left on average)" if left is not None else "")


def _leaves(records: Sequence[Mapping[str, Any]], prefix: str) -> list[str]:
    names: list[str] = []
    for r in records:
        for name, _ in flatten(r):
            if name.startswith(prefix + "/") and name not in names:
                names.append(name)
    return names


_CHARTS: dict[str, Any] = {
    "losses": figure_losses,
    "arena": figure_arena,
    "benchmark": _simple(
        "Benchmark duels of the best network",
        "score: (wins + draws/2) / games",
        lambda rs: [n for n in _leaves(rs, "benchmark") if n.endswith("/score")],
        lambda p, _rs: f"against {p.split('/')[1]}",
    ),
    "buffer": _simple("Memory buffer", "samples", lambda _rs: ["memory/size"]),
    "stages": _simple(
        "Total loss by game stage (memory analysis)",
        "loss",
        lambda rs: [n for n in _leaves(rs, "memory_analysis") if n.endswith("/total")],
        _stage_label,
    ),
    "selfplay": _simple(
        "Self-play speed", "samples per second", lambda _rs: ["self_play/samples_per_second"]
    ),
}
