"""Training reports: one JSON object per iteration (``report.jsonl``), TensorBoard scalars,
PNG plots. Every file is written atomically (temporary file + ``os.replace``).

A record is a plain nested dict (see :class:`~az_gym.training.trainer.Trainer` for the
fields); numeric leaves become TensorBoard scalars named by their path
(``learning/loss_after/total``), plus ``arena/evaluate_score`` (the arena in ``evaluate``'s
``[0, 1]`` units). TensorBoard also gets the run's ``params.toml`` as text ("params") and as
hparams. The PNG plots are drawn by :mod:`az_gym.training.plots`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from az_gym.training.checkpoint import atomic_write_bytes


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file + ``os.replace``)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def flatten(record: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    """Yield ``(path, value)`` for every finite numeric leaf (bools included as 0/1)."""
    for k, v in record.items():
        name = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            yield from flatten(v, name)
        elif isinstance(v, (bool, int, float)) and not isinstance(v, str):
            f = float(v)
            if math.isfinite(f):
                yield name, f


def to_jsonable(x: Any) -> Any:
    """Report objects (dataclasses, ``to_dict()``, numpy scalars and arrays) as JSON data;
    non-finite floats become ``None``, anything else unknown its ``str``."""
    import dataclasses

    if x is None or isinstance(x, (bool, int, str)):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if hasattr(x, "to_dict"):
        return to_jsonable(x.to_dict())
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: to_jsonable(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, Mapping):
        return {str(k): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v) for v in x]
    if hasattr(x, "tolist"):
        return to_jsonable(x.tolist())
    return str(x)


class ReportWriter:
    """Appends iteration records to ``run_dir/report.jsonl``, TensorBoard and plots.

    Args:
        run_dir: the run directory.
        tensorboard: write TensorBoard scalars under ``run_dir/tensorboard``.
        plots: redraw ``run_dir/plots/*.png`` after each record.
    """

    def __init__(self, run_dir: str | Path, *, tensorboard: bool = True, plots: bool = True):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / "report.jsonl"
        self.tensorboard = tensorboard
        self.plots = plots
        self._tb: Any = None

    def load(self) -> list[dict[str, Any]]:
        """Return the records written so far (a torn last line is ignored)."""
        return load_reports(self.run_dir)

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one iteration's record everywhere."""
        records = [*self.load(), to_jsonable(record)]
        write_reports(self.path, records)
        self.show(records)

    def show(self, records: Sequence[Mapping[str, Any]]) -> None:
        """TensorBoard scalars of the last of ``records`` and the plots of them all (for a
        caller that writes ``report.jsonl`` itself, as the trainer does at its commit)."""
        if self.tensorboard and records:
            self._write_tensorboard(records[-1])
        if self.plots:
            from az_gym.training.plots import plot_reports

            plot_reports(records, self.run_dir / "plots")

    def _write_tensorboard(self, rec: Mapping[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        if self._tb is None:
            self._tb = SummaryWriter(str(self.run_dir / "tensorboard"))
            self._write_params()
        step = int(rec.get("iteration", 0))
        for name, value in flatten(rec):
            if name != "iteration":
                self._tb.add_scalar(name, value, step)
        from az_gym.training.plots import arena_points

        points = arena_points(rec)
        if points:  # in evaluate's units, as arena.png
            self._tb.add_scalar(ARENA_TAG, points[-1][1], step)
        self._tb.flush()

    def _write_params(self) -> None:
        """The run's ``params.toml`` as TensorBoard text, and its leaves as hparams (once per
        writer, i.e. per start or resume of the run)."""
        path = self.run_dir / "params.toml"
        if not path.exists():
            return
        text = path.read_text(encoding="utf-8")
        # four-space indent: TensorBoard renders text as markdown, this keeps it verbatim
        self._tb.add_text("params", "\n".join("    " + ln for ln in text.splitlines()), 0)
        from torch.utils.tensorboard.summary import hparams

        from az_gym.training.params_io import tomllib

        try:
            flat = dict(_flatten_params(tomllib.loads(text)))
        except tomllib.TOMLDecodeError:
            return
        metrics = {ARENA_TAG: 0.0, "learning/loss_after/total": 0.0}
        writer = self._tb._get_file_writer()
        for summary in hparams(flat, metrics):
            writer.add_summary(summary)

    def close(self) -> None:
        """Close the TensorBoard writer."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def write_reports(path: str | Path, records: Sequence[Mapping[str, Any]]) -> None:
    """Write ``records`` (JSON data) as a ``report.jsonl`` file, atomically."""
    atomic_write_text(Path(path), "".join(json.dumps(r) + "\n" for r in records))


ARENA_TAG = "arena/evaluate_score"
"""TensorBoard tag of the arena score in ``evaluate``'s units (:func:`arena_points`);
``arena/score`` keeps the record's value (two players: the candidate's mean reward)."""


def _flatten_params(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``("self_play.mcts.cpuct", 2.0)`` per leaf; lists and tables in lists as text."""
    for k, v in tree.items():
        name = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            yield from _flatten_params(v, name)
        elif isinstance(v, (bool, int, float, str)):
            yield name, v
        else:
            yield name, json.dumps(v)


def load_reports(run_dir: str | Path) -> list[dict[str, Any]]:
    """Read ``run_dir/report.jsonl`` (missing file: empty list)."""
    path = Path(run_dir) / "report.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except (ValueError, RecursionError):  # a torn last line, or a crafted one
            break
    return out
