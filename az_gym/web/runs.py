"""The run page's data: a training run's curves from its ``report.jsonl``, read only.

:func:`run_curves` reads the run as every reader does (:class:`~az_gym.training.run_dir.RunDir`:
``state.json`` first, then the committed iteration's report, with the documented
fall-backs), so it is safe while the run trains and never writes. The series are the ones
``plots/*.png`` draw (:mod:`az_gym.training.plots`: the same paths, labels and arena units),
as JSON for the page's own charts, which poll this every few seconds.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from az_gym.training.plots import LOSS_NAMES, _leaves, _series, arena_points, arena_threshold


def _plain(label: str) -> str:
    """A matplotlib label without its TeX (``"$L_p$"`` -> ``"L_p"``)."""
    return label.replace("$", "").replace("\\", "")


def _chart(title: str, ylabel: str, records: list[dict[str, Any]], paths: dict[str, str]) -> Any:
    series = []
    for path, label in paths.items():
        xs, ys = _series(records, path)
        if xs:
            series.append({"label": label, "x": xs, "y": ys})
    return {"title": title, "ylabel": ylabel, "series": series}


def run_curves(run_dir: Path) -> dict[str, Any]:
    """The curves of the run in ``run_dir`` so far (JSON-ready).

    Returns:
        ``path``, ``iteration`` (the committed one, 0 before the first), ``notes`` (the
        readers' warnings: a fallen-back or unreadable report) and ``charts``: losses after
        learning, the arena (candidate's score against the best in ``evaluate``'s units,
        each point ``[x, score, promoted]``, the threshold), self-play speed, benchmark
        duels and the memory buffer. A chart without data has no series.

    Raises:
        RunDirError: a damaged ``state.json`` (one line, naming it).
    """
    from az_gym.training.run_dir import RunDir

    run = RunDir(run_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        state = run.read_state()
        records = run.load_reports(state) if state else []
    losses = {f"learning/loss_after/{k}": _plain(v) for k, v in LOSS_NAMES.items()}
    bench = {p: f"against {p.split('/')[1]}" for p in _leaves(records, "benchmark")}
    points = [list(p) for r in records for p in arena_points(r)]
    thresholds = sorted({arena_threshold(r) for r in records} - {None})
    return {
        "path": str(run_dir),
        "iteration": int(state["iteration"]) if state else 0,
        "notes": [str(w.message) for w in caught],
        "charts": {
            "losses": _chart("Loss after each iteration's learning", "loss", records, losses),
            "arena": {
                "title": "Arena: candidate against the best network",
                "ylabel": "candidate's score",
                "points": points,
                "thresholds": thresholds,
            },
            "selfplay": _chart(
                "Self-play speed",
                "samples per second",
                records,
                {"self_play/samples_per_second": "samples per second"},
            ),
            "benchmark": _chart(
                "Benchmark duels of the best network",
                "score",
                records,
                {p: label for p, label in bench.items() if p.endswith("/score")},
            ),
            "buffer": _chart("Memory buffer", "samples", records, {"memory/size": "samples"}),
        },
    }
