"""Training reports: one JSON object per iteration (``report.jsonl``), TensorBoard scalars,
PNG plots. Every file is written atomically (temporary file + ``os.replace``).

A record is a plain nested dict (see :class:`~az_gym.training.trainer.Trainer` for the
fields); numeric leaves become TensorBoard scalars named by their path
(``learning/loss_after/total``).
"""

from __future__ import annotations

import io
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
            plot_reports(records, self.run_dir / "plots")

    def _write_tensorboard(self, rec: Mapping[str, Any]) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is a dependency, but stay usable without it
            self.tensorboard = False
            return
        if self._tb is None:
            self._tb = SummaryWriter(str(self.run_dir / "tensorboard"))
        step = int(rec.get("iteration", 0))
        for name, value in flatten(rec):
            if name != "iteration":
                self._tb.add_scalar(name, value, step)
        self._tb.flush()

    def close(self) -> None:
        """Close the TensorBoard writer."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def write_reports(path: str | Path, records: Sequence[Mapping[str, Any]]) -> None:
    """Write ``records`` (JSON data) as a ``report.jsonl`` file, atomically."""
    atomic_write_text(Path(path), "".join(json.dumps(r) + "\n" for r in records))


def load_reports(run_dir: str | Path) -> list[dict[str, Any]]:
    """Read ``run_dir/report.jsonl`` (missing file: empty list)."""
    path = Path(run_dir) / "report.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return out


def _series(records: Sequence[Mapping[str, Any]], path: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for r in records:
        node: Any = r
        for part in path.split("/"):
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, (int, float)) and not isinstance(node, bool) and node is not None:
            xs.append(int(r.get("iteration", len(xs) + 1)))
            ys.append(float(node))
    return xs, ys


def _leaves(records: Sequence[Mapping[str, Any]], prefix: str) -> list[str]:
    names: list[str] = []
    for r in records:
        for name, _ in flatten(r):
            if name.startswith(prefix + "/") and name not in names:
                names.append(name)
    return names


def plot_reports(records: Sequence[Mapping[str, Any]], plots_dir: str | Path) -> list[Path]:
    """Draw the standard plots as PNG files (matplotlib Agg); returns the paths written.

    Plots: loss terms (after learning), arena score, benchmark scores, buffer size,
    per-stage losses.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    charts = {
        "losses": ("loss terms after learning", _leaves(records, "learning/loss_after")),
        "arena": ("arena score of the candidate", ["arena/score"]),
        "benchmark": (
            "benchmark scores",
            [n for n in _leaves(records, "benchmark") if n.endswith("/score")],
        ),
        "buffer": ("memory buffer size (samples)", ["memory/size"]),
        "stages": ("loss by game stage", _leaves(records, "memory_analysis")),
        "selfplay": ("self-play samples per second", ["self_play/samples_per_second"]),
    }
    written = []
    for name, (title, paths) in charts.items():
        series = [(p, *_series(records, p)) for p in paths]
        series = [s for s in series if s[1]]
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        for p, xs, ys in series:
            ax.plot(xs, ys, marker="o", label=p.split("/", 1)[-1])
        ax.set_title(title)
        ax.set_xlabel("iteration")
        if len(series) > 1:
            ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        path = plots_dir / f"{name}.png"
        buf = io.BytesIO()
        try:
            fig.savefig(buf, format="png", dpi=80)
        finally:
            plt.close(fig)
        atomic_write_bytes(path, buf.getvalue())
        written.append(path)
    return written
