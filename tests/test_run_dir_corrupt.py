"""Every artifact of a committed iteration survives corruption: memory, optimiser, weights
and report fall back to the previous iteration's copy with a warning naming the file; what
cannot be recovered (weights with no good copy, a damaged ``state.json``) is a one-line
error naming the file and what to do; crafted checkpoints never reach the network."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from run_dir_helpers import assert_one_line_error, cli
from test_trainer import tiny_params

from az_gym.training.checkpoint import CheckpointError
from az_gym.training.report import load_reports
from az_gym.training.run_dir import RunDirError
from az_gym.training.trainer import Trainer

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def run2(tmp_path_factory) -> Path:
    """A committed tic-tac-toe run at iteration 2 (copy it before changing it)."""
    run = tmp_path_factory.mktemp("corrupt") / "run"
    Trainer("tictactoe", tiny_params(num_iters=2), run, quiet=True).train()
    return run


@pytest.fixture
def run(run2, tmp_path) -> Path:
    return Path(shutil.copytree(run2, tmp_path / "run"))


def _flip(path: Path, at: float = 0.5, n: int = 16) -> None:
    data = bytearray(path.read_bytes())
    start = int(len(data) * at)
    for i in range(start, min(start + n, len(data))):
        data[i] ^= 0xFF
    path.unlink()  # break a hard link: only this copy is damaged
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["memory.npz", "optimiser.pt", "current.pt", "best.pt"])
def test_a_corrupt_artifact_falls_back_to_the_previous_iteration(run, name):
    _flip(run / "iter-000002" / name)
    trainer = Trainer.from_run_dir(run, quiet=True, overrides=["num_iters=3"])
    pattern = rf"iter-000002/{name.replace('.', '[.]')} is corrupt.*iter-000001/{name}"
    with pytest.warns(RuntimeWarning, match=pattern):
        assert [r.iteration for r in trainer.resume()] == [3]
    assert [r["iteration"] for r in load_reports(run)] == [1, 2, 3]


def test_a_corrupt_report_falls_back_and_training_goes_on(run):
    for path in (run / "iter-000002" / "report.jsonl", run / "report.jsonl"):
        path.unlink()
        path.write_text('{"iteration": 1}\n{"iterat')
    trainer = Trainer.from_run_dir(run, quiet=True, overrides=["num_iters=3"])
    with pytest.warns(RuntimeWarning, match=r"report\.jsonl is corrupt.*iterations 1\.\.1"):
        trainer.resume()
    assert [r["iteration"] for r in load_reports(run)] == [1, 3]  # 2's record was lost


def test_weights_without_a_good_copy_are_a_one_line_error(run):
    for d in ("iter-000001", "iter-000002"):
        path = run / d / "current.pt"
        data = path.read_bytes()
        path.unlink()
        path.write_bytes(data[: len(data) // 2])  # truncated
    proc = cli("train", "tictactoe", "--run-dir", run, "--resume", "--set", "num_iters=3")
    assert_one_line_error(proc, "current.pt", "restore the file from a backup")
    with pytest.raises(CheckpointError):
        Trainer.from_run_dir(run, quiet=True).best_agent()


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("iteration", "2", "iteration"),
        ("iteration", -1, "iteration"),
        ("checkpoint_dir", "../../x", "checkpoint_dir"),
        ("checkpoint_dir", ["iter-000002"], "checkpoint_dir"),
        ("game_id", 7, "game_id"),
        ("game_options", {"size": [6]}, "game_options"),
        ("game_factory", "os:system", "game_factory"),
        ("rng", "seed", "rng"),
    ],
)
def test_malformed_state_json_values_are_one_line_errors(run, field, value, needle):
    state = json.loads((run / "state.json").read_text())
    state[field] = value
    (run / "state.json").write_text(json.dumps(state))
    with pytest.raises(RunDirError, match=needle):
        Trainer.from_run_dir(run, quiet=True)
    if field == "checkpoint_dir" and value == "../../x":  # and once through the real CLI
        proc = cli("train", "tictactoe", "--run-dir", run, "--resume")
        assert_one_line_error(proc, "state.json", "checkpoint_dir", "restore it")


def test_crafted_checkpoints_never_reach_the_network(run):
    ckpt = torch.load(run / "iter-000002" / "current.pt", weights_only=True)
    huge = {**ckpt, "network_config": {**ckpt["network_config"], "hidden": [100000, 100000]}}
    negative = {**ckpt, "observation_shape": [-3, 3], "weights": {
        k: torch.zeros(0) for k in ckpt["weights"]}}  # fmt: skip
    for crafted, why in ((huge, "another network"), (negative, "is not a torch.float32")):
        path = run / "iter-000002" / "current.pt"
        path.unlink()
        torch.save(crafted, path)
        trainer = Trainer.from_run_dir(run, quiet=True)
        with pytest.warns(RuntimeWarning, match=rf"current\.pt is corrupt.*{why}"):
            trainer.best_agent()
        assert trainer.iteration == 2


def test_a_run_without_state_json_is_never_restarted_over(run):
    (run / "state.json").unlink()
    with pytest.raises(RunDirError, match=r"state\.json missing"):
        Trainer.from_run_dir(run, quiet=True)
    with pytest.raises(RunDirError, match=r"iteration directories but no state\.json"):
        Trainer("tictactoe", tiny_params(), run, quiet=True).resume()
    assert (run / "iter-000002" / "best.pt").exists() and (run / "params.toml").exists()


def test_a_new_run_writes_over_no_file_of_the_users(tmp_path):
    # It wrote its params.toml over the user's and its files among theirs.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "params.toml").write_text("# mine\n")
    (mine / "notes.txt").write_text("notes\n")
    (mine / "init.pt").write_text("mine too\n")  # a new run without init_from deleted it
    with pytest.raises(RunDirError, match=r"not empty and holds no run \(init\.pt, notes"):
        Trainer("tictactoe", tiny_params(), mine, quiet=True).train()
    assert sorted(p.name for p in mine.iterdir()) == ["init.pt", "notes.txt", "params.toml"]
    assert (mine / "init.pt").read_text() == "mine too\n"  # and no lock was left
    assert (mine / "params.toml").read_text() == "# mine\n"
    # a file of the user's named `lock`: the check passed over it as the run's own lock
    # and taking the lock emptied it, alone or beside other files (checked before the fix)
    for extra in ([], ["a.txt"]):
        d = tmp_path / f"lock{len(extra)}"
        d.mkdir()
        (d / "lock").write_text("my lock notes\n")
        for name in extra:
            (d / name).write_text("a\n")
        with pytest.raises(RunDirError, match="not a run's lock file"):
            Trainer("tictactoe", tiny_params(num_iters=0), d, quiet=True).train()
        assert sorted(p.name for p in d.iterdir()) == sorted(["lock", *extra])
        assert (d / "lock").read_text() == "my lock notes\n"
    # an empty directory, or one with only dot files (.gitignore), takes a new run
    (tmp_path / "dots").mkdir()
    (tmp_path / "dots" / ".gitignore").write_text("*\n")
    Trainer("tictactoe", tiny_params(num_iters=0), tmp_path / "dots", quiet=True).train()
    assert (tmp_path / "dots" / "state.json").exists()


def test_a_crafted_agent_file_is_refused_before_its_network_is_built(run, tmp_path):
    from az_gym.agents.alphazero import AlphaZeroAgent

    ckpt = torch.load(run / "best.pt", weights_only=True)
    crafted = {
        "huge": {**ckpt, "network_config": {**ckpt["network_config"], "hidden": [10**5, 10**5]}},
        "negative": {**ckpt, "observation_shape": [-3, 3, 2]},
        "other shapes": {**ckpt, "weights": {k: torch.zeros(2) for k in ckpt["weights"]}},
    }
    for name, content in crafted.items():
        path = tmp_path / f"{name}.pt"
        torch.save(content, path)
        with pytest.raises(ValueError, match="checkpoint"):  # in milliseconds, no 40 GB
            AlphaZeroAgent.load(path)
    assert AlphaZeroAgent.load(run / "best.pt").game.game_id == "tictactoe"


@pytest.mark.parametrize(
    "entry, kind",
    [
        ("plots", "dir-link"),
        ("tensorboard", "dir-link"),
        ("iter-000003", "dir-link"),
        ("plots", "file"),
        ("tensorboard", "file"),
        ("plots/losses.png", "file-link"),
    ],
)
def test_symlinked_or_misplaced_writer_entries_are_refused_before_writing(
    run, tmp_path, entry, kind
):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious\n")
    target = run / entry
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    {
        "dir-link": lambda: target.symlink_to(outside, target_is_directory=True),
        "file-link": lambda: target.symlink_to(outside / "keep.txt"),
        "file": lambda: target.write_text("not a directory\n"),
    }[kind]()
    before = sorted(p.name for p in run.iterdir())
    proc = cli("train", "tictactoe", "--run-dir", run, "--resume", "--set", "num_iters=3")
    assert_one_line_error(proc, str(target), "remove it")
    assert sorted(p.name for p in run.iterdir()) == before  # nothing written
    assert [p.name for p in outside.iterdir()] == ["keep.txt"]
    assert (outside / "keep.txt").read_text() == "precious\n"
    assert json.loads((run / "state.json").read_text())["iteration"] == 2


def _edit_state(run: Path, edit) -> None:
    state = json.loads((run / "state.json").read_text())
    edit(state)
    (run / "state.json").write_text(json.dumps(state))


@pytest.mark.parametrize(
    "path, value", [(("uinteger",), -1), (("state", "state"), -1), (("state", "state"), 10**60)]
)
def test_crafted_rng_values_reseed_with_a_warning(run, path, value):
    def edit(state):
        holder = state["rng"]
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = value

    _edit_state(run, edit)
    trainer = Trainer.from_run_dir(run, overrides=["num_iters=3"], quiet=True)
    with pytest.warns(RuntimeWarning, match="state.json: rng state not restored.*reseeding"):
        assert [r.iteration for r in trainer.resume()] == [3]


@pytest.mark.parametrize(
    "text, needle",
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"iteration": ' + "9" * 5000 + "}", "not valid JSON"),
        (None, "game_options"),  # a deep value in a field that is checked and shown
    ],
)
def test_crafted_state_json_is_a_one_line_error_naming_it(run, text, needle):
    if text is None:
        state = json.loads((run / "state.json").read_text())
        body = json.dumps(state)[:-1] + ', "game_options": {"a": ' + "[" * 500 + "]" * 500 + "}}"
        (run / "state.json").write_text(body)
    else:
        (run / "state.json").write_text(text)
    proc = cli("train", "tictactoe", "--run-dir", run, "--resume")
    assert_one_line_error(proc, str(run / "state.json"), needle)


def test_a_deeply_nested_report_is_a_warning_and_an_empty_history(run):
    for p in [run / "report.jsonl", *run.glob("iter-*/report.jsonl")]:
        p.unlink()
        p.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    assert load_reports(run) == []
    trainer = Trainer.from_run_dir(run, overrides=["num_iters=3"], quiet=True)
    with pytest.warns(RuntimeWarning, match="report.jsonl is corrupt"):
        assert [r.iteration for r in trainer.resume()] == [3]


@pytest.mark.parametrize(
    "line, needle",
    [
        ("benchmark = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
        ("seed = " + "1" * 5001, "not a valid TOML file"),
    ],
)
def test_crafted_params_toml_is_a_one_line_error_naming_it(run, line, needle):
    text = (run / "params.toml").read_text()
    key = line.split(" ", 1)[0]
    lines = [x for x in text.splitlines() if not x.startswith(f"{key} = ")]
    (run / "params.toml").write_text("\n".join([line, *lines]) + "\n")
    proc = cli("train", "tictactoe", "--run-dir", run, "--resume")
    assert_one_line_error(proc, str(run / "params.toml"), needle)


def test_file_strings_are_never_printed_raw_nor_pasted_into_commands(run):
    _edit_state(run, lambda s: s.update(game_name="tic\x1b[2Jtactoe"))
    proc = cli("train", "tictactoe", "--run-dir", run, "--resume")
    line = assert_one_line_error(proc, "holds a run of 'tic\\x1b[2Jtactoe'")
    assert "\x1b" not in proc.stderr and "\x1b" not in line
    target = "$(touch /tmp/pwned)x:env"
    _edit_state(
        run, lambda s: s.update(game_name=None, game_factory={"target": target, "kwargs": {}})
    )
    with pytest.raises(RunDirError) as e:
        Trainer.from_run_dir(run, quiet=True)
    message = str(e.value)
    assert repr(target) in message and "az-gym train MODULE:FACTORY --run-dir" in message
    assert message.count(target) == 1  # only inside the repr


def test_resume_on_a_folder_of_other_files_suggests_a_start_that_would_run(tmp_path):
    # It suggested `az-gym train GAME --run-dir THAT_FOLDER`, which a new run refuses.
    (tmp_path / "notes.txt").write_text("notes\n")
    line = assert_one_line_error(
        cli("train", "tictactoe", "--resume", "--run-dir", tmp_path), "holds no run"
    )
    assert f"--run-dir {tmp_path}" not in line and "NEW_DIR" in line, line
    proc = cli("train", "tictactoe", "--run-dir", tmp_path)  # the start it no longer suggests
    assert_one_line_error(proc, "not empty and holds no run")
