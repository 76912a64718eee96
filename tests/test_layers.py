"""Imports flow one way: games, envs and search never import torch (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "az_gym"
NUMPY_ONLY = [ROOT / "game.py", ROOT / "mcts.py", ROOT / "schedules.py", ROOT / "evaluators.py"]
NUMPY_ONLY += sorted((ROOT / "envs").glob("*.py"))
NUMPY_ONLY += sorted(ROOT.glob("_mcts*.py"))  # the search's own modules
FORBIDDEN = {"torch", "az_gym.agents", "az_gym.training", "az_gym.networks"}


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", [p for p in NUMPY_ONLY if p.exists()], ids=lambda p: p.name)
def test_numpy_only_modules_do_not_import_torch_or_upper_layers(path: pathlib.Path) -> None:
    bad = {
        name
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert not bad, f"{path.relative_to(ROOT.parent)} imports {sorted(bad)}"


def test_import_az_gym_does_not_load_torch() -> None:
    code = (
        "import sys, az_gym; az_gym.make('tictactoe');"
        "import az_gym.mcts; assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_training_module_imports_the_trainer_back() -> None:
    """The trainer's phases are its methods or take explicit arguments (issue 13): nothing
    it imports imports it back, not even for type hints."""
    users = [
        p.name
        for p in sorted((ROOT / "training").glob("*.py"))
        if p.name not in ("__init__.py", "trainer.py") and "az_gym.training.trainer" in _imports(p)
    ]
    assert not users, f"import circle: {users} import az_gym.training.trainer"


@pytest.mark.parametrize(
    "path",
    [ROOT / "checkpoint_format.py", *sorted((ROOT / "agents").glob("*.py"))],
    ids=lambda p: p.name,
)
def test_agents_and_the_checkpoint_format_do_not_import_training(path: pathlib.Path) -> None:
    bad = {n for n in _imports(path) if n == "az_gym.training" or n.startswith("az_gym.training.")}
    assert not bad, f"{path.relative_to(ROOT.parent)} imports {sorted(bad)}"
