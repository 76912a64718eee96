"""The plots and TensorBoard data of a tiny real training run are readable by a person:
titles, axis labels, human legend names, no duplicate series, the arena in evaluate's
[0, 1] units with its threshold and promotions, the params in TensorBoard."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from test_trainer import tiny_params

from az_gym import Trainer
from az_gym.training.plots import LOSS_NAMES, arena_points, figure_arena, figure_losses
from az_gym.training.report import ARENA_TAG, load_reports

plt.switch_backend("Agg")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("run")
    Trainer("tictactoe", tiny_params(num_iters=2), path, quiet=True).train()
    return path


def test_losses_plot_has_labels_names_and_no_duplicates(run: Path) -> None:
    assert (run / "plots" / "losses.png").stat().st_size > 0
    records = load_reports(run)
    fig = figure_losses(plt, records)
    try:
        top, bottom = fig.axes
        assert top.get_title() and bottom.get_title()
        assert top.get_ylabel() == "loss" and bottom.get_ylabel() == "nats"
        assert bottom.get_xlabel() == "iteration"
        names = [t.get_text() for t in top.get_legend().get_texts()]
        assert names == list(LOSS_NAMES.values())  # human names, not raw keys
        curves = [tuple(line.get_ydata()) for line in top.get_lines()]
        assert len(set(curves)) == len(curves), "two identical loss series"
        # target entropy is not drawn as a loss: it has its own panel
        assert not any("target" in n for n in names)
        below = [t.get_text() for t in bottom.get_legend().get_texts()]
        assert any("target policy entropy" in n for n in below)
    finally:
        plt.close(fig)


def test_arena_plot_in_evaluate_units_with_threshold_and_promotions(run: Path) -> None:
    records = load_reports(run)
    reward = records[0]["arena"]["runs"][0]["score"]  # the arena's mean reward in [-1, 1]
    assert arena_points(records[0])[0][1] == pytest.approx((reward + 1) / 2)
    fig = figure_arena(plt, records)
    try:
        (ax,) = fig.axes
        assert ax.get_ylim()[0] >= -0.05 and ax.get_ylim()[1] <= 1.05
        assert "score" in ax.get_ylabel() and ax.get_xlabel() == "iteration"
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        # tiny_params: update_threshold 0.0 (mean reward) = a score of 0.5
        threshold = [ln for ln in ax.get_lines() if ln.get_label().startswith("promotion")]
        assert len(threshold) == 1 and np.allclose(threshold[0].get_ydata(), 0.5)
        promoted = [r["promoted"] for rec in records for r in rec["arena"]["runs"]]
        expected = {"promoted"} if all(promoted) else {"not promoted"} if not any(promoted) else {
            "promoted", "not promoted"}  # fmt: skip
        assert expected <= set(labels)
    finally:
        plt.close(fig)


def test_tensorboard_gets_params_text_hparams_and_the_arena_score(run: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    assert "params/text_summary" in tags["tensors"]
    text = acc.Tensors("params/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "num_iters = 2" in text and "[self_play.mcts]" in text
    plugins = {
        v.tag: v.metadata.plugin_data.plugin_name
        for f in (run / "tensorboard").iterdir()
        for e in EventFileLoader(str(f)).Load()
        for v in e.summary.value
    }
    assert plugins.get("_hparams_/experiment") == "hparams"
    scores = [e.value for e in acc.Scalars(ARENA_TAG)]
    assert len(scores) == 2 and all(0.0 <= v <= 1.0 for v in scores)
