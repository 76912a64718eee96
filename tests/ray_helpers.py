"""Faults for the Ray tests, importable by the cluster's workers (the tests put this
directory on their ``PYTHONPATH``): a job whose worker dies in the middle of it once, a job
that waits once (long enough for a test to take its node away), and a game whose workers
die each time they build it while a marker file exists."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from az_gym.envs.registry import make_game


@dataclass(frozen=True)
class DieOnce:
    """A self-play job whose process is killed (SIGKILL, as by the OOM killer) after its
    first finished game, the first time it runs anywhere (``marker`` records that)."""

    inner: Any
    marker: str

    @property
    def num_games(self) -> int:
        return self.inner.num_games

    def run(self, on_game_end: Any = None) -> Any:
        if Path(self.marker).exists():
            return self.inner.run(on_game_end)

        def die(_n: int) -> None:
            Path(self.marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)

        return self.inner.run(die)

    def main_references(self) -> list[str]:
        return []

    def shared(self) -> tuple[Any, ...]:
        return self.inner.shared()

    def with_shared(self, parts: tuple[Any, ...]) -> DieOnce:
        return dataclasses.replace(self, inner=self.inner.with_shared(parts))


@dataclass(frozen=True)
class WaitOnce:
    """A job that, the first time it runs anywhere, writes its process id to ``marker`` and
    waits ``seconds`` before playing (a test meanwhile removes the node it runs on)."""

    inner: Any
    marker: str
    seconds: float

    @property
    def num_games(self) -> int:
        return self.inner.num_games

    def run(self, on_game_end: Any = None) -> Any:
        if not Path(self.marker).exists():
            Path(self.marker).write_text(str(os.getpid()))
            time.sleep(self.seconds)
        return self.inner.run(on_game_end)

    def main_references(self) -> list[str]:
        return []

    def shared(self) -> tuple[Any, ...]:
        return self.inner.shared()

    def with_shared(self, parts: tuple[Any, ...]) -> WaitOnce:
        return dataclasses.replace(self, inner=self.inner.with_shared(parts))


def dying_tictactoe(marker: str, driver_pid: int) -> Any:
    """Tic-tac-toe, except that a process other than ``driver_pid`` (a Ray worker) that
    builds it while ``marker`` exists is killed on the spot."""
    if os.getpid() != driver_pid and Path(marker).exists():
        os.kill(os.getpid(), signal.SIGKILL)
    return make_game("tictactoe")
