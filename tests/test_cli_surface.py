"""The ``az-gym`` surface a newcomer touches first, run as real processes: every ``--help``,
one-line errors for every kind of bad input, ``analyse`` for every agent spec, ``play``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from run_dir_helpers import ctrl_c_as_in_a_terminal

from az_gym.agent_specs import AGENT_HELP, AGENT_SPECS
from az_gym.cli import build_parser, main

PRETRAINED_TTT = str(Path(__file__).resolve().parents[1] / "az_gym" / "pretrained" / "tictactoe.pt")

COMMANDS = [
    "train",
    "play",
    "evaluate",
    "tournament",
    "analyse",
    "bench",
    "list",
    "export",
    "serve",
]


def az_gym(
    *args: str, stdin: str = "", timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``az-gym ARGS`` as a process of this checkout's package."""
    return subprocess.run(
        [sys.executable, "-m", "az_gym.cli", *args],
        input=stdin, capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


# ---------------------------------------------------------------------------- help
@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_help_runs_as_a_process(command: str | None) -> None:
    # `az-gym --help` once crashed (TypeError) on the "%" of "95% interval".
    proc = az_gym(*([command] if command else []), "--help", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: az-gym" + (f" {command}" if command else ""))
    assert len(proc.stdout.splitlines()) > 3 and not proc.stderr
    assert "%%" not in proc.stdout  # the description is not %-formatted: "95%" as written
    # a description under the usage (bench and list once had none); defaults said in words
    assert not proc.stdout.split("\n\n")[1].startswith(("options:", "positional")), proc.stdout


def test_version_names_az_gym_and_what_it_runs_on() -> None:
    from importlib.metadata import version

    from az_gym import __version__

    proc = az_gym("--version", timeout=60)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    line = proc.stdout.strip()
    assert "\n" not in line and line.startswith(f"az-gym {__version__} (torch ")
    assert __version__ == version("az_gym")  # the package's and pyproject's agree
    assert f"Python {sys.version_info.major}.{sys.version_info.minor}." in line


def test_the_help_test_covers_every_command() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert sorted(sub.choices) == sorted(COMMANDS)


def test_list_and_help_come_from_the_one_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "games: connect_four" in out
    for spec in AGENT_SPECS:
        assert spec.syntax in out and spec.meaning in out and spec.syntax in AGENT_HELP
    assert "pre-trained agents ship for: connect_four, gomoku, othello (also -o size=6)" in out


def test_each_command_lists_only_the_agents_it_takes() -> None:
    # analyse's help listed human and dqn, which it refuses; play's and serve's, human.
    def agent_help(command: str) -> str:
        parser = build_parser().commands[command]
        return " ".join(a.help or "" for a in parser._actions if a.dest in ("agent", "opponent"))

    assert "human" not in agent_help("analyse") and "dqn" not in agent_help("analyse")
    assert "network:" in agent_help("analyse")
    assert "human" not in agent_help("play") and "dqn:FILE.pt" in agent_help("play")
    assert "human" not in agent_help("serve") and "pretrained" in agent_help("serve")
    assert "human" in AGENT_HELP  # evaluate and tournament take every kind


# -------------------------------------------------------------------------- errors
def _bad_inputs(tmp: Path) -> dict[str, list[str]]:
    """Each kind of user mistake or environment problem, as the arguments that cause it."""
    (tmp / "empty_run").mkdir()
    (tmp / "a_dir").mkdir()
    (tmp / "a_file").write_text("x")
    (tmp / "junk.pt").write_bytes(b"not a checkpoint at all")
    (tmp / "corrupt_run").mkdir()
    (tmp / "corrupt_run" / "best.pt").write_bytes(b"PK\x03\x04" + bytes(200))
    (tmp / "mine").mkdir()  # a directory of the user's own files, no run
    (tmp / "mine" / "params.toml").write_text("# my parameters\n")
    t = str(tmp)
    duel = ["evaluate", "tictactoe", "random", "random"]
    slow_duel = ["evaluate", "tictactoe", "mcts:5000", "mcts:5000", "--games", "1000"]
    return {
        "no command": [],
        "unknown agent": ["evaluate", "tictactoe", "no_such_agent", "random"],
        "bad spec number": ["evaluate", "tictactoe", "alphabeta:x", "random"],
        "zero simulations": ["evaluate", "tictactoe", "mcts:0", "random"],
        "alpha-beta too deep": ["evaluate", "connect_four", "alphabeta:100", "random"],
        "rollout mcts too long": ["evaluate", "connect_four", "mcts:10000000", "random"],
        "unknown game": ["evaluate", "no_such_game", "random", "random"],
        "pettingzoo game by its bare name": ["evaluate", "chess", "random", "random"],
        "unknown flag of a command": ["analyse", "tictactoe", "random", "--moves", "a1"],
        "misspelt command": ["trian", "tictactoe"],
        "misspelt flag": ["train", "tictactoe", "--reusme"],
        "a game as the command": ["tictactoe"],
        "misspelt --version": ["--versoin"],
        "misspelt --init-from pretrained": [
            "train", "tictactoe", "--init-from", "pretrianed", "--run-dir", f"{t}/ifp"
        ],
        "option before the command": ["--games", "3", "evaluate", "tictactoe", "random", "random"],
        "unknown top-level option": ["--bogus"],
        "misspelt game": ["play", "tictacto"],
        "misspelt agent": ["evaluate", "tictactoe", "alphabet:3", "random"],
        "unknown option": ["evaluate", "tictactoe", "-o", "size=6", "random", "random"],
        "malformed option": ["evaluate", "othello", "-o", "size", "random", "random"],
        "missing run dir": ["evaluate", "tictactoe", f"{t}/missing_run", "random"],
        "run dir without checkpoints": ["evaluate", "tictactoe", f"{t}/empty_run", "random"],
        "junk checkpoint": ["evaluate", "tictactoe", f"{t}/junk.pt", "random"],
        "corrupt checkpoint in a run": ["analyse", "tictactoe", f"{t}/corrupt_run"],
        "network of a missing run": ["analyse", "tictactoe", f"network:{t}/missing"],
        "network with simulations": ["analyse", "tictactoe", "network:pretrained:100"],
        "network of nothing": ["analyse", "tictactoe", "network:"],
        "pretrained for other options": [
            "play", "gomoku", "-o", "size=15", "--opponent", "pretrained"
        ],
        "unknown move": ["analyse", "tictactoe", "random", "b2", "zz"],
        "move index past the actions": ["analyse", "tictactoe", "random", "9"],
        "human as play's opponent": ["play", "tictactoe", "--opponent", "human"],
        "unknown agent in analyse": ["analyse", "tictactoe", "no_such_agent"],
        "dqn in analyse": ["analyse", "tictactoe", "dqn:no_such.pt"],
        "misspelt :sym": ["evaluate", "tictactoe", "pretrained:16:symm", "random"],
        "AlphaZero file as dqn": ["evaluate", "tictactoe", f"dqn:{PRETRAINED_TTT}", "random"],
        "export with simulations": [
            "export", "tictactoe", "pretrained:16", "--out", f"{t}/sims.onnx"
        ],
        "resnet field on an mlp": [
            "train", "tictactoe", "--set", "network.num_filters=8", "--run-dir", f"{t}/mlp"
        ],
        "mlp field on a resnet": [
            "train", "connect_four", "--set", "network.hidden=[8]", "--run-dir", f"{t}/res"
        ],
        "scalar for an array": [
            "train", "tictactoe", "--set", "network.hidden=64", "--run-dir", f"{t}/arr"
        ],
        "misspelt none": ["train", "tictactoe", "--set", "arena=nonee", "--run-dir", f"{t}/arn"],
        "misspelt flag before the positionals": ["evaluate", "tictactoe", "--gmes", "3"],
        "empty --run-dir": ["train", "tictactoe", "--run-dir", ""],
        "--out under a file": [*slow_duel, "--out", f"{t}/a_file/x.json"],
        "seed twice": ["train", "tictactoe", "--seed", "3", "--set", "seed=4", "--run-dir",
                       f"{t}/sd"],
        "unknown flag among moves": ["analyse", "tictactoe", "random", "b2", "--bogus", "a1"],
        "serve an agent twice": ["serve", "tictactoe", "--agent", "random", "--agent", "RANDOM",
                                 "--port", "0"],
        "empty --run-dir on resume": ["train", "tictactoe", "--resume", "--run-dir", ""],
        "serve option twice": ["serve", "othello,size=6,size=8", "--port", "0"],
        "file spec with :sym twice": ["evaluate", "tictactoe", f"{PRETRAINED_TTT}:sym:sym",
                                      "random"],
        "file spec with a bad suffix": ["evaluate", "tictactoe", f"{PRETRAINED_TTT}:abc",
                                        "random"],
        "pretrained over the simulation bound": [
            "evaluate", "tictactoe", "pretrained:1000001", "random"
        ],
        "game option twice": ["evaluate", "othello", "random", "random", "-o", "size=6",
                              "-o", "size=8"],
        "evaluate --out empty": [*duel, "--out", ""],
        "tournament --out empty": ["tournament", "tictactoe", "random", "one_step", "--out", ""],
        "evaluate --out unwritable": [*slow_duel, "--out", "/proc/duel.json"],
        "empty agent": ["evaluate", "tictactoe", "", "random"],
        "dqn of a directory": ["evaluate", "tictactoe", f"dqn:{t}/a_dir", "random"],
        "seed not whole": [*duel, "--seed", "1.5"],
        "export takes no seed": ["export", "tictactoe", "pretrained", "--seed", "1"],
        "infinite bench seconds": ["bench", "--seconds", "inf"],
        "serve negative seed": ["serve", "--seed", "-1"],
        "serve port not a number": ["serve", "--port", "x"],
        "serve --run a file": ["serve", "--run", f"{t}/a_file"],
        "serve a game twice": ["serve", "tictactoe", "tictactoe", "--port", "0"],
        "factory refuses an option value": [
            "evaluate", "pettingzoo.classic.go_v5:env", "-o", "board_size=-3", "random", "random"
        ],
        "one agent in two spellings": ["tournament", "tictactoe", "random", "RANDOM"],
        "bad schedule": ["train", "tictactoe", "--set", "self_play.mcts.temperature=abc",
                         "--run-dir", f"{t}/sch"],
        "illegal move": ["analyse", "tictactoe", "random", "b2", "b2"],
        "move after the end": ["analyse", "tictactoe", "random", *"a1 b1 a2 b2 a3 c3".split()],
        "human cannot analyse": ["analyse", "tictactoe", "human"],
        "export without a network": ["export", "tictactoe", "alphabeta", "--out", f"{t}/m.onnx"],
        "evaluate --out a directory": [*slow_duel, "--out", f"{t}/a_dir"],
        "export --out a directory": ["export", "tictactoe", "pretrained", "--out", f"{t}/a_dir"],
        "export --out over a checkpoint": [
            "export", "tictactoe", "pretrained", "--out", f"{t}/junk.pt"
        ],
        "negative seed": [*duel, "--seed", "-1"],
        "evaluate --out under a file": [*slow_duel, "--out", f"{t}/a_file/duel.json"],
        "tournament --out a file": [
            "tournament", "tictactoe", "random", "one_step", "--out", f"{t}/a_file",
        ],
        "tournament twice the same spec": ["tournament", "tictactoe", "random", "random"],
        "zero games": [*duel, "--games", "0"],
        "negative games": [*duel, "--games", "-1"],
        "zero processes": [*duel, "--processes", "0"],
        "a thousand processes": [*duel, "--processes", "1000"],
        "factory with a bad option": [
            "evaluate", "pettingzoo.classic.tictactoe_v3:env", "-o", "bogus=1", "random", "random"
        ],
        "factory of no env": ["evaluate", "os:getcwd", "random", "random"],
        "module without its factory": ["play", "pettingzoo.classic.connect_four_v3"],
        "module named as the factory": ["play", "pettingzoo.classic:connect_four_v3"],
        "negative opening plies": [*duel, "--opening-plies", "-1"],
        "openings longer than the game": [*duel, "--opening-plies", "9"],
        "tournament openings longer than the game": [
            "tournament", "tictactoe", "random", "one_step", "--opening-plies", "12",
        ],
        "negative bench seconds": ["bench", "--seconds", "-1"],
        "directory as --config": ["train", "tictactoe", "--config", f"{t}/a_dir",
                                  "--run-dir", f"{t}/run1"],
        "file as --run-dir": ["train", "tictactoe", "--run-dir", f"{t}/a_file"],
        "--set twice": ["train", "tictactoe", "--set", "num_iters=0", "--set", "num_iters=3",
                        "--run-dir", f"{t}/st"],
        "column 0": ["analyse", "connect_four", "random", "0"],
        "new run into a directory of other files": [
            "train", "tictactoe", "--set", "num_iters=1", "--run-dir", f"{t}/mine"
        ],
    }  # fmt: skip


@pytest.fixture(scope="module")
def bad_input_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, subprocess.CompletedProcess[str]]]:
    """Every case of :func:`_bad_inputs` run once as a process, a few at a time (each is
    mostly the interpreter's start): the directory they ran in and each case's process."""
    from concurrent.futures import ThreadPoolExecutor

    tmp = tmp_path_factory.mktemp("bad_inputs")
    cases = _bad_inputs(tmp)
    with ThreadPoolExecutor(max(2, os.cpu_count() or 1)) as pool:
        procs = pool.map(lambda args: az_gym(*args, timeout=60), cases.values())
        return tmp, dict(zip(cases, procs))


def test_every_bad_input_is_one_error_line(
    bad_input_runs: tuple[Path, dict[str, subprocess.CompletedProcess[str]]],
) -> None:
    # Each case once tracebacked, said `legal actions are []`, exited 1 or 0, or played
    # every game before refusing its --out (the slow duel would time out if it played).
    failures = []
    for case, proc in bad_input_runs[1].items():
        lines = proc.stderr.splitlines()
        ok = (
            proc.returncode == 2
            and len(lines) == 1
            and lines[0].startswith("az-gym: error: ")
            and "Traceback" not in proc.stderr
            and "legal actions are" not in proc.stderr
        )
        if not ok:
            failures.append(f"{case}: rc={proc.returncode} stderr={proc.stderr[-500:]!r}")
    assert not failures, "\n".join(failures)


def test_error_messages_say_what_to_do(
    bad_input_runs: tuple[Path, dict[str, subprocess.CompletedProcess[str]]],
) -> None:
    tmp_path, procs = bad_input_runs

    def err(case: str) -> str:
        return procs[case].stderr

    assert "legal moves after b2: a3 b3 c3 a2 c2 a1 b1 c1" in err("unknown move")
    assert "'b2' is illegal after b2; legal moves: a3" in err("illegal move")
    assert "tictactoe takes no option size" in err("unknown option")
    assert "these can: random, one_step" in err("human cannot analyse")
    # each listed specs the command does not take (human, dqn), or said nothing useful
    assert "human" not in err("unknown agent in analyse").partition("agent specs")[2]
    assert "dqn" not in err("unknown agent in analyse")
    assert "cannot analyse a position" in err("dqn in analyse")
    assert "you are the human here" in err("human as play's opponent")  # played itself
    assert "(did you mean ':sym'?)" in err("misspelt :sym")
    dqn = err("AlphaZero file as dqn")
    assert "DQNAgent.load" not in dqn and f"{PRETRAINED_TTT} without 'dqn:'" in dqn
    assert "':16' (simulations) would change nothing" in err("export with simulations")
    assert "network is an MLP" in err("resnet field on an mlp")  # it trained, ignoring it
    assert "network is a ResNet" in err("mlp field on a resnet")
    assert "e.g. network.hidden=[64]" in err("scalar for an array")
    assert "(did you mean 'none'?)" in err("misspelt none")
    assert "game option size given twice" in err("game option twice")  # the last one won
    # trained into "." (or, resuming, into runs/tictactoe)
    assert "--run-dir '': give a directory name" in err("empty --run-dir")
    assert "a_file is a file, not a directory" in err("--out under a file")  # "File exists"
    assert "give the seed once" in err("seed twice")  # --set seed=4 won, silently
    assert "unrecognized arguments: --bogus (see" in err("unknown flag among moves")  # +a1
    assert "each agent once, please: RANDOM, random" in err("serve an agent twice")
    assert "--run-dir '': give a directory name" in err("empty --run-dir on resume")
    serve_twice = err("serve option twice")  # it named "-o", which serve does not take
    assert "size given twice (size=8 too)" in serve_twice and "-o" not in serve_twice
    assert "':sym' or ':nosym' given twice" in err("file spec with :sym twice")  # "unknown"
    assert "takes ':SIMS' and ':sym' or ':nosym'" in err("file spec with a bad suffix")
    assert "SIMS is at most 1000000" in err("pretrained over the simulation bound")
    # it said "the following arguments are required: agent_a, agent_b", not the typo
    assert "unrecognized arguments: --gmes; did you mean '--games'" in err(
        "misspelt flag before the positionals"
    )
    assert "--out '': give a file name" in err("evaluate --out empty")  # exit 0, no file
    assert "--out '': give a directory name" in err("tournament --out empty")
    assert "--out /proc/duel.json: cannot write there" in err("evaluate --out unwritable")
    assert "agent '' is empty" in err("empty agent")  # "'.' holds no network"
    assert "a_dir' is a directory, not a DQN file" in err("dqn of a directory")
    assert "'1.5' is not a whole number" in err("seed not whole")
    assert "inf must be a finite number" in err("infinite bench seconds")  # ran forever
    assert "argument --seed: -1 must be >= 0" in err("serve negative seed")  # numpy's words
    assert "argument --port: 'x' is not a whole number" in err("serve port not a number")
    assert "is a file, not a run directory" in err("serve --run a file")
    assert "offered twice" in err("serve a game twice")
    assert "env(board_size=-3) failed: " in err("factory refuses an option value")
    assert "RANDOM, random (one agent named twice)" in err("one agent in two spellings")
    schedule = err("bad schedule")
    assert "is not a schedule: 'abc'" in schedule and schedule.count("not a schedule") == 1
    network = err("network of a missing run")  # it once guessed the spec as typed
    assert "did you mean" not in network and "no run directory or .pt file" in network
    assert "is a directory" in err("evaluate --out a directory")
    other_options = err("pretrained for other options")  # it named the package's file path
    assert "agent plays gomoku(size=9) only" in other_options and ".pt'" not in other_options
    assert f"e.g. {tmp_path}/a_dir/tictactoe.onnx" in err("export --out a directory")
    assert "is not an .onnx file" in err("export --out over a checkpoint")  # it overwrote it
    assert "--seed" in err("negative seed")  # numpy's "expected non-negative integer" alone
    # export draws nothing: its --seed was accepted and changed nothing.
    assert "unrecognized arguments: --seed" in err("export takes no seed")
    # Both once pointed nowhere useful: chess said only that the native games are four,
    # and a command's unknown flag sent the user to the top-level help.
    assert "pettingzoo.classic.chess_v6:env" in err("pettingzoo game by its bare name")
    assert "unrecognized arguments: --moves (see `az-gym analyse --help`)" in err(
        "unknown flag of a command"
    )
    assert "did you mean 'train'?" in err("misspelt command")
    assert "did you mean '--resume' for '--reusme'?" in err("misspelt flag")
    assert "takes no simulations (network:pretrained)" in err("network with simulations")
    assert "name a run directory or a .pt file" in err("network of nothing")
    assert "e.g. `az-gym play tictactoe`" in err("a game as the command")
    assert "did you mean '--version'?" in err("misspelt --version")
    assert "--set num_iters given twice" in err("--set twice")  # num_iters=3 won, silently
    assert "'0' is not a move of connect_four" in err("column 0")  # it played column 1
    # it wrote the run over the user's params.toml, among their files
    mine = err("new run into a directory of other files")
    assert "mine is not empty and holds no run (params.toml)" in mine
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["params.toml"]  # no lock
    assert (tmp_path / "mine" / "params.toml").read_text() == "# my parameters\n"
    assert "(did you mean 'pretrained'?)" in err("misspelt --init-from pretrained")
    # both were "internal error: TypeError: ..."
    assert "env(bogus=1) gave no game: " in err("factory with a bad option")
    assert "getcwd() gave no game: the factory returned str" in err("factory of no env")
    assert "e.g. pettingzoo.classic.connect_four_v3:env" in err("module without its factory")
    assert "e.g. pettingzoo.classic.connect_four_v3:env" in err("module named as the factory")
    assert "options go after it (az-gym evaluate ... --games)" in err("option before the command")
    assert "unknown option '--bogus'" in err("unknown top-level option")
    assert "did you mean 'tictactoe'?" in err("misspelt game")
    assert "did you mean 'alphabeta:3'?" in err("misspelt agent")


def test_debug_variable_gives_the_traceback() -> None:
    proc = az_gym("evaluate", "tictactoe", "no_such_agent", "random", env={"AZ_GYM_DEBUG": "1"})
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "SpecError" in proc.stderr


def test_an_unexpected_error_is_one_line_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The last resort: a bug, not a user mistake, still gets one line and a pointer.
    import az_gym.cli

    def broken(args: argparse.Namespace) -> int:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(az_gym.cli, "cmd_list", broken)
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "az-gym: error: internal error: RuntimeError: boom; second line "
        "(set AZ_GYM_DEBUG=1 for the traceback)\n"
    )


def test_ctrl_c_exits_130_with_one_line() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "az_gym.cli", "play", "tictactoe", "--opponent", "random"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    while "legal moves" not in proc.stdout.readline():  # waiting for the human's move
        pass
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip() == "az-gym: interrupted"


# -------------------------------------------------------------------------- analyse
@pytest.mark.parametrize(
    ("game", "spec", "moves", "expected"),
    [
        ("tictactoe", "random", ["b2"], "0.125"),
        ("tictactoe", "one_step", ["a1", "b1", "a2"], "loses"),
        ("tictactoe", "alphabeta", ["a1", "b1", "a2"], "loss in 2"),
        ("tictactoe", "mcts:30", ["b2"], "rollout value"),
        ("connect_four", "alphabeta:2", ["4", "4"], "depth 2"),
        ("connect_four", "pretrained:16", ["4"], "network value"),
        ("connect_four", "network:pretrained", ["4"], "prior"),
    ],
)
def test_analyse_every_spec_that_can(
    game: str, spec: str, moves: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # All but rollout MCTS once tracebacked; AlphaZero printed the board twice.
    assert main(["analyse", game, spec, *moves, "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert expected in out
    footer = "a b c" if game == "tictactoe" else "1 2 3 4 5 6 7"
    assert out.count(footer) == 1


@pytest.mark.parametrize(
    ("game", "typed", "named"), [("tictactoe", "4", "b2"), ("connect_four", "4", "4")]
)
def test_analyse_takes_moves_as_play_does(
    game: str, typed: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # analyse once refused the index `4` that play took; a name is read first (Connect
    # Four's "4" is column 4, action 3), then the index.
    assert main(["analyse", game, "random", typed]) == 0
    by_index = capsys.readouterr().out
    assert main(["analyse", game, "random", named]) == 0
    assert by_index == capsys.readouterr().out


def test_moves_may_follow_options(capsys: pytest.CaptureFixture[str]) -> None:
    # `analyse GAME AGENT --seed 1 b2 a1` once said "unrecognized arguments: b2 a1".
    outs = []
    for words in (["--seed", "1", "b2", "a1"], ["b2", "--seed", "1", "a1"], ["b2", "a1"]):
        assert main(["analyse", "tictactoe", "one_step", *words]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] == outs[2] and "X to move" in outs[0]
    assert main(["tournament", "tictactoe", "random", "--games-per-pair", "2", "one_step"]) == 0
    assert "one_step" in capsys.readouterr().out


def test_foreign_env_players_go_by_their_names() -> None:
    # play once said "you are player 0 (first)" over a board saying "(X: player_1, ...)".
    proc = az_gym("play", "pettingzoo.classic.tictactoe_v3:env", "--opponent", "random",
                  "--seed", "1", stdin="4\nquit\n")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("you are player_1 (first), against random")
    assert "random (player_2) plays" in proc.stdout and "player 0" not in proc.stdout
    proc = az_gym("analyse", "pettingzoo.classic.tictactoe_v3:env", "alphabeta", "4")
    assert proc.returncode == 0 and "player_2 to move" in proc.stdout
    assert "-0.000" not in proc.stdout and "+0.000" in proc.stdout


def test_text_to_action_reads_names_first() -> None:
    import az_gym
    from az_gym.agents.human import text_to_action
    from az_gym.game import IllegalActionError

    ttt, c4 = az_gym.make_game("tictactoe"), az_gym.make_game("connect_four")
    assert text_to_action(ttt, " B2 ") == text_to_action(ttt, "4") == 4
    assert text_to_action(c4, "4") == 3
    for bad in ("9", "-1", "b9", ""):
        with pytest.raises(IllegalActionError):
            text_to_action(ttt, bad)
    # Connect Four names its moves 1-7: a number is a name there, never an index ("0" was
    # column 1 and "3" column 3)
    for bad in ("0", "8"):
        with pytest.raises(IllegalActionError):
            text_to_action(c4, bad)


def test_alphabeta_analysis_values_every_move(capsys: pytest.CaptureFixture[str]) -> None:
    # X (to move) has a1 a2 and O threatens nothing: a3 wins now, the rest are exact values.
    assert main(["analyse", "tictactoe", "alphabeta", "a1", "b1", "a2", "c1"]) == 0
    out = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(out) if line.split()[:1] == ["action"])
    table = {line.split()[0]: line.split(None, 1)[1].strip() for line in out[head + 1 :]}
    assert table["a3"].strip() == "win in 1"
    assert len(table) == 5  # every legal move, none cut off by the pruning


# ----------------------------------------------------------------------- evaluate
def test_evaluate_keeps_the_full_specs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results" / "duel.json"  # its folder is made
    args = ["evaluate", "tictactoe", "alphabeta:2", "random", "--games", "6", "--seed", "0"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())
    assert result["wins"] + result["draws"] + result["losses"] == 6
    assert (result["agent_a"], result["agent_b"]) == ("alphabeta:2", "random")
    assert "alphabeta:2 vs random" in capsys.readouterr().out
    assert main([*args, "--opening-plies", "2", "--out", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["opening_plies"] == 2
    assert "from 2-ply random openings" in capsys.readouterr().out
    # without --seed the file records the seed drawn, and that seed plays the same duel
    duel = ["evaluate", "tictactoe", "random", "one_step", "--games", "8", "--quiet"]
    assert main([*duel, "--out", str(out)]) == 0
    first = json.loads(out.read_text())
    assert first["game"] == "tictactoe" and isinstance(first["seed"], int)
    assert main([*duel, "--seed", str(first["seed"]), "--out", str(out)]) == 0
    again = json.loads(out.read_text())
    assert {**first, "seconds": 0} == {**again, "seconds": 0}

    # deterministic players repeat their games: the duel says so, and what to do
    same = ["evaluate", "tictactoe", "pretrained:16", "pretrained:16", "--games", "6", "--quiet"]
    assert main(same) == 0
    err = capsys.readouterr().err
    assert "note: 6 games, only 1 of them distinct" in err and "--opening-plies" in err
    assert main([*same, "--opening-plies", "2"]) == 0
    assert "of them distinct" not in capsys.readouterr().err


def test_tournament_names_agents_by_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = ["alphabeta:1", "alphabeta:3", "random"]
    args = ["tournament", "tictactoe", *specs, "--games-per-pair", "2", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "t")]) == 0
    saved = (tmp_path / "t" / "tournament.json").read_text()
    printed = capsys.readouterr().out
    assert all(f'"{s}"' in saved and s in printed for s in specs)


# --------------------------------------------------------------------------- play
def test_play_reads_like_a_game() -> None:
    # The typo and the illegal move are asked again, never played; the agent's moves are
    # named; the end shows the winning line and the result in words, not `returns [...]`.
    moves = "zz\nb2\nb2\na1\nc3\na3\nc1\nb1\nc2\na2\n"
    proc = az_gym("play", "tictactoe", "--opponent", "alphabeta:9", "--seed", "0", stdin=moves)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("you are X (first), against alphabeta:9\n")
    assert "'zz' is not a legal move" in out and "X to move; legal moves: a3" in out
    assert "alphabeta:9 (O) plays " in out
    assert "returns" not in out and not proc.stderr
    last = out.rstrip().splitlines()
    assert last[-1] in ("you lose", "draw")  # perfect play never loses tic-tac-toe
    if last[-1] == "you lose":
        assert last[-2].startswith("O wins with ")


def test_play_second() -> None:
    moves = "b2\na1\nc3\na3\nc1\nb1\nc2\na2\nb3\n"
    proc = az_gym("play", "tictactoe", "--opponent", "one_step", "--second", "--seed", "1",
                  stdin=moves)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("you are O (second), against one_step\none_step (X) plays ")
    assert proc.stdout.rstrip().splitlines()[-1] in ("you win", "you lose", "draw")


@pytest.mark.parametrize("stdin", ["quit\n", "b2\nq\n", "b2\n", ""])
def test_quit_or_end_of_input_leaves_with_exit_0(stdin: str) -> None:
    # 'quit' once printed "interrupted" and exited 130; Ctrl-D (end of input) alike.
    proc = az_gym("play", "tictactoe", "--opponent", "random", stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith("goodbye (game abandoned)")
    assert not proc.stderr


@pytest.mark.parametrize(
    ("game", "moves", "line"),
    [("tictactoe", "a1 b1 b2 c1 c3", "c3 b2 a1"), ("gomoku", "a1 b1 b2 c1 c3 d1 d4 e1 e5",
     "e5 d4 c3 b2 a1")],
)  # fmt: skip
def test_winning_line(game: str, moves: str, line: str) -> None:
    from az_gym.envs.registry import make_game

    g = make_game(game)
    s = g.initial_state()
    assert g.winning_line(s) is None
    for m in moves.split():
        s = g.step(s, g.string_to_action(m))
    assert " ".join(g.action_to_string(a) for a in g.winning_line(s)) == line


def test_output_closed_early_is_quiet() -> None:
    proc = subprocess.run(
        f"{sys.executable} -m az_gym.cli list | head -1", shell=True, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.stdout.startswith("games:") and not proc.stderr


def test_export_prints_no_exporter_noise(tmp_path: Path) -> None:
    """``az-gym export`` once printed torch's "model in training mode" warning, its
    torchvision log lines and pytree FutureWarnings; now only what the user needs: the file
    written, and for ``:sym`` a note that the model averages over the symmetries."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    plain = az_gym("export", "connect_four", "pretrained:nosym", "--out", f"{tmp_path}/a.onnx")
    assert plain.returncode == 0 and plain.stderr == "", plain.stderr
    assert plain.stdout == f"wrote {tmp_path}/a.onnx\n"
    sym = az_gym("export", "connect_four", "pretrained:sym", "--out", f"{tmp_path}/b.onnx")
    assert sym.returncode == 0
    assert sym.stderr.startswith("note: ':sym': the ONNX model averages the network over the "
                                 "game's 2 symmetries")  # fmt: skip
    assert len(sym.stderr.splitlines()) == 1, sym.stderr
    assert (tmp_path / "a.onnx").read_bytes() != (tmp_path / "b.onnx").read_bytes()


def test_warnings_are_one_line_without_source_excerpts(tmp_path: Path) -> None:
    """The options warning once came as Python prints warnings: the path and line of
    ``cli_commands.py``, then the source line ``trainer = Trainer(``."""
    proc = az_gym("train", "gomoku", "-o", "size=15", "--set", "num_iters=0",
                  "--run-dir", str(tmp_path / "run"), "--quiet")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    warned = [line for line in proc.stderr.splitlines() if line.strip()]
    assert warned and warned[0].startswith("az-gym: warning: the shipped parameters for 'gomoku'")
    assert warned[0].endswith("for the tuned options: az-gym train gomoku -o size=9")
    assert ".py:" not in proc.stderr and "Trainer(" not in proc.stderr, proc.stderr
