"""README.md is executed: every python block runs as written, every shell line is checked.

* Each ```python block is saved as a script and run as written (``python block.py``), in a
  fresh process, from an empty temporary directory, with the repository on ``PYTHONPATH``:
  what a user who pastes it into a file gets. The snippets are cheap as written (tiny
  budgets in their own arguments); nothing here edits their text.
* Each ```bash line is either run (cheap ones: ``--help``, ``az-gym list``) or checked
  without running it: ``az-gym SUB ...`` must parse (the subcommand's ``--help`` runs and
  lists every flag used, argparse accepts the line, a ``game`` is a registered game), a
  ``python FILE.py`` script must exist, compile and declare every flag used, ``pytest -m M``
  must use a declared marker, ``bash FILE`` must pass ``bash -n``, ``pip install -e ".[X]"``
  must name extras (``pip install NAME``: a dependency) of pyproject.toml; any other
  installed tool must list the flags used in its ``--help``. A command that is not
  installed fails, so a new kind of command in the README gets a rule here.

Failures name the README line (python tracebacks are rewritten to README line numbers).
"""

from __future__ import annotations

import ast
import functools
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TIMEOUT = 240  # per python block: generous for a loaded machine; a block takes seconds


@dataclass(frozen=True)
class Block:
    """A fenced code block: its language, the README line of its first code line, its text."""

    lang: str
    line: int
    text: str


def readme_blocks(lang: str) -> list[Block]:
    """The ```lang blocks of README.md, in order."""
    blocks, current, start, fence = [], None, 0, None
    for number, line in enumerate(README.read_text().splitlines(), 1):
        if current is None:
            m = re.match(r"^(\s*)```(\w+)\s*$", line)
            if m:
                current, start, fence = [], number + 1, m.group(2)
        elif line.strip() == "```":
            if fence == lang:
                blocks.append(Block(lang, start, "\n".join(current) + "\n"))
            current = None
        else:
            current.append(line)
    return blocks


def _id(block: Block) -> str:
    return f"README.md:{block.line}"


# ------------------------------------------------------------------ python blocks
def _env() -> dict[str, str]:
    """The caller's environment with the repository first on ``PYTHONPATH``."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg"}  # plots need no display


@dataclass
class Run:
    """A python block running as a script in its own directory."""

    proc: subprocess.Popen[bytes]
    script: Path

    def output(self, name: str) -> str:
        return (self.script.parent / name).read_text(errors="replace")


@pytest.fixture(scope="module")
def python_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Start the selected python blocks all at once, each in a fresh directory.

    They are independent processes that mostly import torch, one core each: started
    together they take about half the wall time on 2 cores. Output goes to files, so no
    pipe can fill up and stall a block that prints much.
    """
    blocks = [
        item.callspec.params["block"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_python_block_runs_as_written"
    ]
    runs: dict[int, Run] = {}
    for block in blocks:
        cwd = tmp_path_factory.mktemp(f"readme_line_{block.line}")
        script = cwd / f"readme_line_{block.line}.py"
        script.write_text(block.text)
        with open(cwd / "stdout", "wb") as out, open(cwd / "stderr", "wb") as err:
            # SB3's logger makes a /tmp/SB3-<date> folder per learn() without SB3_LOGDIR.
            env = {**_env(), "SB3_LOGDIR": str(cwd / "sb3")}
            proc = subprocess.Popen(
                [sys.executable, script.name], cwd=cwd, env=env, stdout=out, stderr=err,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        runs[block.line] = Run(proc, script)
    yield runs
    for run in runs.values():
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()


@pytest.mark.parametrize("block", readme_blocks("python"), ids=_id)
def test_python_block_runs_as_written(block: Block, python_runs: dict[int, Run]) -> None:
    run = python_runs[block.line]
    try:
        code = run.proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"README.md line {block.line}: the python block ran over {TIMEOUT} s")
    if code != 0:
        # Point the script's traceback lines at the README.
        def to_readme(m: re.Match[str]) -> str:
            return f'File "README.md", line {block.line + int(m.group(1)) - 1}'

        name = re.escape(run.script.name)
        err = re.sub(rf'File "[^"]*{name}", line (\d+)', to_readme, run.output("stderr"))
        pytest.fail(
            f"README.md line {block.line}: the python block exited with {code}\n"
            f"--- stdout (tail)\n{run.output('stdout')[-2000:]}\n--- stderr (tail)\n{err[-4000:]}"
        )


# ------------------------------------------------------------------ shell lines
@dataclass(frozen=True)
class Command:
    """One command of a bash block: its README line and its words (comments removed)."""

    line: int
    words: tuple[str, ...]

    def __str__(self) -> str:
        return f"README.md line {self.line}: `{shlex.join(self.words)}`"


SEPARATORS = ("&&", "||", ";", "|", "&")
REDIRECTS = (">", ">>", "<")


def readme_commands() -> list[Command]:
    """Every command of the bash blocks: ``a && b`` (or ``;``, ``|``, ``||``) gives two,
    ``\\`` joins lines, comments and redirections (``> FILE``) are dropped."""
    commands = []
    for block in readme_blocks("bash"):
        pending, first = "", 0
        for offset, raw in enumerate(block.text.splitlines()):
            if not pending:
                first = block.line + offset
            if raw.rstrip().endswith("\\"):
                pending += raw.rstrip()[:-1] + " "
                continue
            lexer = shlex.shlex(pending + raw, posix=True, punctuation_chars=True)
            lexer.whitespace_split, lexer.commenters = True, "#"
            pending = ""
            command: list[str] = []
            tokens = iter([*lexer, "&&"])
            for token in tokens:
                if token in SEPARATORS:
                    if command:
                        commands.append(Command(first, tuple(command)))
                    command = []
                elif token in REDIRECTS:
                    next(tokens)
                else:
                    command.append(token)
    return commands


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _flags(words: tuple[str, ...] | list[str]) -> list[str]:
    """The option names used (``--set a=b`` -> ``--set``, ``--x=1`` -> ``--x``)."""
    return [w.split("=", 1)[0] for w in words if re.match(r"^--?[A-Za-z]", w)]


@functools.cache
def az_gym_help(sub: str) -> str:
    """The output of ``az-gym SUB --help``; fails if it fails (an unknown SUB included)."""
    argv = [sys.executable, "-m", "az_gym.cli", sub, "--help"]
    proc = _run(argv)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, (
        f"`az-gym {sub} --help` exited with {proc.returncode}:\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


def check_az_gym(cmd: Command, args: list[str]) -> None:
    """Run cheap az-gym lines; for the others check the subcommand, flags and game name."""
    if not args or args[-1] in ("-h", "--help") or args == ["list"]:
        proc = _run([sys.executable, "-m", "az_gym.cli", *args])
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, (
            f"{cmd} exited with {proc.returncode}:\n{proc.stderr[-3000:]}"
        )
        return
    sub = args[0]
    help_text = az_gym_help(sub)
    for flag in _flags(args[1:]):
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text), (
            f"{cmd}: `az-gym {sub} --help` does not list {flag}"
        )
    from az_gym import cli  # the parser itself: positionals, value types, choices

    try:
        parsed = cli.build_parser().parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"{cmd}: az-gym's parser refuses it (exit {exc.code})")
    game = getattr(parsed, "game", None)
    if isinstance(game, str) and ":" not in game:  # MODULE:FACTORY games are imported: skip
        from az_gym.envs.registry import available_games

        assert game in available_games(), f"{cmd}: unknown game {game!r}"


def check_python(cmd: Command, args: list[str]) -> None:
    """``python FILE.py ...``: exists, parses, declares its flags; ``-m pytest``: markers and
    test files exist; ``-m az_gym.cli``: as ``az-gym``."""
    if args[:2] == ["-m", "az_gym.cli"]:
        return check_az_gym(cmd, args[2:])
    if args[:2] == ["-m", "pytest"]:
        markers = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"][
            "ini_options"
        ]["markers"]
        declared = {m.split(":")[0].strip() for m in markers}
        rest = args[2:]
        for i, word in enumerate(rest):
            if word == "-m":
                expr = rest[i + 1]
                used = set(re.findall(r"\w+", expr)) - {"not", "and", "or"}
                assert used <= declared, f"{cmd}: marker(s) {used - declared} not in pyproject.toml"
        for word in rest:
            if word.startswith("tests"):
                path = word.split("::")[0]
                assert (ROOT / path).exists(), f"{cmd}: no {path}"
        return
    assert not args[0].startswith("-"), f"{cmd}: only `python FILE.py` and `-m pytest` are checked"
    script = ROOT / args[0]
    assert script.is_file() and script.suffix == ".py", f"{cmd}: no script {args[0]}"
    tree = ast.parse(script.read_text(), filename=str(script))
    declared = {
        node.value
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "add_argument"
        for node in call.args
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    for flag in _flags(args[1:]):
        assert flag in declared, f"{cmd}: {args[0]} declares no {flag} (add_argument)"


def check_bash(cmd: Command, args: list[str]) -> None:
    """``bash FILE``: the file exists and parses."""
    script = ROOT / args[0]
    assert script.is_file(), f"{cmd}: no file {args[0]}"
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, f"{cmd}: bash -n fails:\n{proc.stderr}"


def _requirement_names() -> set[str]:
    """Normalised names of every dependency of pyproject.toml, extras included."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"].values()
    reqs = [*project["dependencies"], *(r for extra in extras for r in extra)]
    return {re.split(r"[^\w.-]", r, maxsplit=1)[0].lower().replace("_", "-") for r in reqs}


def check_pip(cmd: Command, args: list[str]) -> None:
    """``pip install -e ".[X,Y]"``: the extras exist; ``pip install NAME``: a dependency of
    pyproject.toml (an extra's included), so the README never names an untested package."""
    assert args and args[0] == "install", f"{cmd}: only `pip install` is checked"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for target in (a for a in args[1:] if not a.startswith("-")):
        m = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", target)
        if m is None:
            name = re.split(r"[^\w.-]", target, maxsplit=1)[0].lower().replace("_", "-")
            assert name in _requirement_names(), f"{cmd}: {name} is not in pyproject.toml"
            continue
        for extra in (m.group(1) or "").split(","):
            assert not extra or extra in extras, f"{cmd}: pyproject.toml has no extra {extra!r}"


def check_tool(cmd: Command, args: list[str]) -> None:
    """Any other installed tool (``tensorboard``, ``ray``...): its ``--help`` runs and lists
    every flag used."""
    exe = Path(sys.executable).parent / _executable(cmd.words[0])
    found = str(exe) if exe.exists() else shutil.which(cmd.words[0])
    assert found, f"{cmd}: no rule checks `{cmd.words[0]}` and it is not installed"
    sub = [a for a in args[:1] if not a.startswith("-")]  # `ray start --head`: `ray start --help`
    proc = _run([found, *sub, "--help"])
    assert proc.returncode == 0, f"{cmd}: `{cmd.words[0]} {' '.join(sub)} --help` failed"
    for flag in _flags(args):
        assert flag in proc.stdout + proc.stderr, f"{cmd}: `--help` does not list {flag}"


def _executable(word: str) -> str:
    """``.venv/bin/az-gym`` -> ``az-gym``; ``python3`` -> ``python``."""
    name = word.rsplit("/", 1)[-1]
    return "python" if re.fullmatch(r"python(3(\.\d+)?)?", name) else name


RULES = {"az-gym": check_az_gym, "python": check_python, "bash": check_bash, "pip": check_pip}
"""Rules by executable; any other command goes to :func:`check_tool`."""


@pytest.mark.parametrize("cmd", readme_commands(), ids=lambda c: f"README.md:{c.line}:{c.words[0]}")
def test_shell_line_is_valid(cmd: Command) -> None:
    words = list(cmd.words)
    while words and re.match(r"^[A-Za-z_]\w*=", words[0]):  # `AZ_GYM_DEBUG=1 az-gym ...`
        words.pop(0)
    assert words, f"{cmd}: nothing to check"
    cmd = Command(cmd.line, tuple(words))
    RULES.get(_executable(words[0]), check_tool)(cmd, words[1:])


def test_readme_has_blocks() -> None:
    # The extraction itself: a fence the parser missed would silently skip its snippets.
    text = README.read_text()
    escaping = sorted(set(re.findall(r"^\s*```(py|python3|sh|shell|console|zsh)\s*$", text, re.M)))
    assert not escaping, f"README.md: write ```python / ```bash, not {escaping} (never checked)"
    assert len(readme_blocks("python")) == text.count("```python")
    assert len(readme_blocks("bash")) == text.count("```bash")
    assert readme_commands()
