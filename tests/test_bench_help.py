"""Every ``bench/*.py --help`` as a user runs it: the whole first paragraph of its docstring
as the description (several once stopped mid-sentence at the docstring's first line break),
in plain text (no reStructuredText double backquotes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("script", SCRIPTS)
def test_bench_help_describes_the_script_in_full(script: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    description = " ".join(proc.stdout.split("\n\n")[1].split())
    doc = (BENCH / script).read_text().split('"""')[1]
    if script == "c4_solver.py":  # its description is main()'s docstring
        doc = (BENCH / script).read_text().split("def main")[1].split('"""')[1]
    first_paragraph = " ".join(doc.split("\n\n")[0].split()).replace("``", "`")
    # argparse wraps the text (at spaces and after hyphens): compare it without them
    assert "".join(description.split()) == "".join(first_paragraph.split())
    assert "``" not in proc.stdout
    assert description.endswith((".", ")", ").")), description
