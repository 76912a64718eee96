"""Fuzzing the run directory: hundreds of random corruptions of its files (truncation,
flipped bytes, deletion, wrong JSON types, path traversal, crafted factories and Ray
addresses, absurd sizes), each followed by a resume. A resume either continues from the
committed iteration ``state.json`` names or stops with a one-line ``ValueError`` (the
library's ``RunDirError``, ``CheckpointError`` or ``ParamsError``); it never raises
anything else, never runs code from the directory, and never touches a file outside it."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from run_dir_helpers import az_gym, fingerprint
from test_trainer import tiny_params

from az_gym.training.trainer import StopTraining, Trainer

torch.set_num_threads(1)

NUM_TRIALS = 300


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A committed tic-tac-toe run at iteration 2."""
    run = tmp_path_factory.mktemp("fuzz") / "run"
    Trainer("tictactoe", tiny_params(num_iters=2), run, quiet=True).train()
    return run


def _json_values(marker: Path) -> list:
    return [
        "../../victim", "../victim/x", "/etc/passwd", "iter-000002/../../victim", "", "x" * 300,
        -1, 0, 1, 3, 10**30, 1.5, float("nan"), None, True, [], [1, 2], {}, {"a": {"b": [None]}},
        {"target": "os:system", "kwargs": {"command": f"touch {marker}"}},
        {"target": "subprocess:run", "kwargs": {"args": ["touch", str(marker)]}},
        {"size": 10**9}, {"size": "6"}, {"hidden": [100000, 100000]},
    ]  # fmt: skip


TOML_LINES = [
    "num_iters = -5", "seed = -1", "seed = 1e400", 'backend = "ray"',
    'ray_address = "10.9.8.7:6379"', "hidden = [100000, 100000]", "batch_size = 100000000",
    'kind = "sgd"', "[[[", 'kind = "resnet"', "num_blocks = -1", "lr = 0",
]  # fmt: skip


def _corrupt(run: Path, rng: np.random.Generator, marker: Path) -> str:
    files = sorted(p for p in run.rglob("*") if p.is_file() and "tensorboard" not in p.parts
                   and "plots" not in p.parts)  # fmt: skip
    path = files[rng.integers(len(files))]
    data = path.read_bytes()
    modes = ["truncate", "flip", "delete"]
    if path.suffix == ".json":
        modes += ["json"] * 6
    if path.suffix == ".toml":
        modes += ["toml"] * 3
    mode = modes[rng.integers(len(modes))]
    path.unlink()  # never write through a hard link into another copy
    if mode == "truncate":
        path.write_bytes(data[: rng.integers(len(data) + 1)])
    elif mode == "flip":
        buf = bytearray(data)
        for i in rng.integers(max(len(buf), 1), size=rng.integers(1, 9)):
            if buf:
                buf[i] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(buf))
    elif mode == "json":
        state = json.loads(data)
        values = _json_values(marker)
        for _ in range(rng.integers(1, 3)):
            field = list(state)[rng.integers(len(state))]
            if rng.random() < 0.15:
                del state[field]
            else:
                state[field] = values[rng.integers(len(values))]
        if rng.random() < 0.3:  # the factory route: no registry name
            state["game_name"] = None
        path.write_text(json.dumps(state))
    elif mode == "toml":
        lines = data.decode().splitlines()
        i = int(rng.integers(len(lines)))
        lines[i] = TOML_LINES[rng.integers(len(TOML_LINES))]
        path.write_text("\n".join(lines) + "\n")
    return f"{mode} {path.relative_to(run)}"


def _stop(_report):
    raise StopTraining("fuzz: the resume got as far as self-play")


def _sandbox(base: Path, root: Path) -> tuple[Path, Path]:
    """``root/run`` (a copy of base) next to ``root/victim/`` (must never change)."""
    if root.exists():
        shutil.rmtree(root)
    (root / "victim").mkdir(parents=True)
    (root / "victim" / "keep.txt").write_text("untouched")
    return Path(shutil.copytree(base, root / "run")), root / "pwned"


def _outside(root: Path) -> dict:
    return {k: v for k, v in fingerprint(root).items() if not k.startswith("run")}


def test_random_corruptions_resume_or_fail_in_one_line(base, tmp_path):
    rng = np.random.default_rng(17)
    outcomes: dict[str, int] = {}
    for trial in range(NUM_TRIALS):
        run, marker = _sandbox(base, tmp_path / "t")
        what = [_corrupt(run, rng, marker) for _ in range(rng.integers(1, 3))]
        outside = _outside(tmp_path / "t")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trainer = Trainer.from_run_dir(run, quiet=True, overrides=["num_iters=2"],
                                               callbacks={"on_self_play_end": _stop})  # fmt: skip
                trainer.resume()
            state = json.loads((run / "state.json").read_text())
            assert trainer.iteration == state["iteration"], (trial, what)
            outcome = "resumed"
        except ValueError as e:  # RunDirError, CheckpointError, ParamsError...
            assert "\n" not in str(e) and str(e), (trial, what, str(e))
            outcome = type(e).__name__
        except Exception as e:
            pytest.fail(f"trial {trial} ({what}): {type(e).__name__}: {e}")
        assert not marker.exists(), (trial, what)
        assert _outside(tmp_path / "t") == outside, (trial, what)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes.get("resumed", 0) > NUM_TRIALS // 4, outcomes  # most damage is survived


@pytest.mark.parametrize("seed", [1, 2])
def test_random_corruptions_through_the_real_cli(base, tmp_path, seed):
    rng = np.random.default_rng(seed)
    run, marker = _sandbox(base, tmp_path / "t")
    what = [_corrupt(run, rng, marker) for _ in range(2)]
    outside = _outside(tmp_path / "t")
    proc = az_gym("train", "tictactoe", "--run-dir", run, "--resume", "--set", "num_iters=2",
                  "--quiet", cwd=tmp_path)  # fmt: skip
    assert "Traceback" not in proc.stderr, (what, proc.stderr[-2000:])
    if proc.returncode != 0:
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("az-gym: error:")]
        assert proc.returncode == 2 and len(errors) == 1, (what, proc.stderr[-2000:])
        assert "internal error" not in errors[0], (what, errors[0])
    assert not marker.exists() and _outside(tmp_path / "t") == outside, what
