"""Crash-safe writes and safe checkpoint loads."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from az_gym.training.checkpoint import (
    CheckpointError,
    atomic_torch_save,
    atomic_write,
    atomic_write_bytes,
    is_temp_file,
    load_latest_good,
    remove_stale_temp_files,
    safe_torch_load,
)

torch.set_num_threads(1)


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "a.bin"
    atomic_write_bytes(path, b"old")
    atomic_write_bytes(path, b"new contents")
    assert path.read_bytes() == b"new contents"
    assert os.listdir(tmp_path) == ["a.bin"]


def test_crash_mid_write_keeps_old_file_and_no_temp(tmp_path):
    path = tmp_path / "a.bin"
    atomic_write_bytes(path, b"old")

    def crash(f):
        f.write(b"half")
        raise KeyboardInterrupt  # the process is interrupted mid-write

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, crash)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.bin"]


def test_temp_file_left_by_a_killed_process_is_ignored(tmp_path):
    good = tmp_path / "current.pt"
    atomic_torch_save({"step": torch.tensor(3)}, good)
    # A hard kill (no cleanup) leaves a half-written temp file next to the target.
    stale = tmp_path / f".current.pt.tmp-{os.getpid()}-dead"
    stale.write_bytes(b"PK\x03\x04 truncated")
    assert is_temp_file(stale) and not is_temp_file(good)
    path, ckpt = load_latest_good([good])
    assert path == good and int(ckpt["step"]) == 3
    assert remove_stale_temp_files(tmp_path) == [stale]
    assert os.listdir(tmp_path) == ["current.pt"]


def test_round_trip_state_dict(tmp_path):
    net = torch.nn.Linear(3, 2)
    path = tmp_path / "net.pt"
    atomic_torch_save({"model": net.state_dict(), "iteration": 5, "game_id": "tictactoe"}, path)
    ckpt = safe_torch_load(path)
    assert ckpt["iteration"] == 5 and ckpt["game_id"] == "tictactoe"
    torch.testing.assert_close(ckpt["model"]["weight"], net.weight.detach())


def test_truncated_and_corrupt_files(tmp_path):
    path = tmp_path / "net.pt"
    atomic_torch_save({"w": torch.arange(1000.0)}, path)
    data = path.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.pt").write_bytes(b"\x00garbage" * 10)
    (tmp_path / "empty.pt").write_bytes(b"")
    for name in ("trunc.pt", "garbage.pt", "empty.pt", "missing.pt"):
        with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
            safe_torch_load(tmp_path / name)


class Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_malicious_pickle_is_refused_without_running(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for i, save in enumerate(
        [lambda p: torch.save({"x": Evil()}, p), lambda p: p.write_bytes(pickle.dumps(Evil()))]
    ):
        path = tmp_path / f"evil{i}.pt"
        save(path)
        with pytest.raises(CheckpointError, match=rf"evil{i}\.pt"):
            safe_torch_load(path)
    assert not (tmp_path / "PWNED").exists()


def test_not_a_dict(tmp_path):
    path = tmp_path / "t.pt"
    atomic_torch_save(torch.zeros(2), path)
    with pytest.raises(CheckpointError, match="not a dict"):
        safe_torch_load(path)


def test_load_latest_good_falls_back(tmp_path):
    current, previous = tmp_path / "current.pt", tmp_path / "previous.pt"
    atomic_torch_save({"iteration": 1}, previous)
    current.write_bytes(b"corrupt")
    path, ckpt = load_latest_good([current, previous])
    assert path == previous and ckpt["iteration"] == 1
    previous.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"current\.pt.*previous\.pt"):
        load_latest_good([current, previous])
