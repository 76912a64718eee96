"""The training loop: self-play -> memory -> learning -> arena -> analysis -> report -> save.

:class:`Trainer` wires the pieces together around a *run directory*::

    params.toml       the parameters of the run (written at the start)
    state.json        last completed iteration, its directory, rng state, game id (the
                      commit point: written LAST each iteration)
    iter-NNNNNN/      the files of the iteration that state.json names:
        current.pt    the network being trained
        best.pt       the network that generates data
        optimiser.pt  the optimiser's state
        memory.npz    the memory buffer
    iter-MMMMMM/      the same files of the previous iteration (M = N - 1), the fallback
                      for a corrupt file; older directories are deleted after each commit
    current.pt, best.pt   hard links to (or copies of) the committed iteration's networks
    report.jsonl      one JSON object per iteration
    tensorboard/      scalars;  plots/*.png: loss terms, arena, benchmark, buffer, stages
    (state.json also records how to rebuild the game: registry name or factory path)

Every write is atomic (temporary file + ``os.replace``). An iteration writes its files into
a fresh ``iter-NNNNNN/`` and then ``state.json``, which names it; resume reads only the
directory that ``state.json`` names, so a ``kill -9`` at any point loses at most the
iteration in progress and never mixes its files with the committed ones. On resume a
missing or corrupt file is reported and the previous iteration's copy is used. Runs of the
older flat layout (``current.pt`` + ``current.prev.pt``, ``optimiser.pt``, ``memory.npz``)
still resume and move to this layout at their next commit.
Checkpoints use :class:`~az_gym.agents.alphazero.AlphaZeroAgent`'s file format, so
``AlphaZeroAgent.load("runs/x/best.pt")`` works.
"""

from __future__ import annotations

import copy
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from az_gym.training.report import ReportWriter, to_jsonable
from az_gym.training.run_dir import Callbacks, RunDir, RunDirError, resolve_game
from az_gym.training.selfplay import NetSpec

__all__ = ["IterationReport", "RunDirError", "StopTraining", "Trainer"]

CHECKPOINT_FORMAT = "az_gym.alphazero/1"


@dataclass(frozen=True)
class IterationReport:
    """What one iteration did (the object ``on_iteration_end`` receives).

    Attributes:
        iteration: 1-based index of the iteration.
        promoted: whether the best network changed.
        seconds: wall time of the iteration.
        record: the JSON record written to ``report.jsonl``.
    """

    iteration: int
    promoted: bool
    seconds: float
    record: dict[str, Any]


class StopTraining(Exception):
    """Raise from a callback to end training cleanly (what has been saved stays saved).

    Raised from ``on_iteration_end`` it stops after that iteration; from an earlier event
    the iteration in progress is dropped, as for Ctrl-C.
    """


@contextmanager
def interrupt_guard() -> Iterator[None]:
    """Defer Ctrl-C until the block ends (so a save is never cut in half)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hit: list[Any] = []
    old = signal.signal(signal.SIGINT, lambda *a: hit.append(a))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
    if hit:
        raise KeyboardInterrupt


class Trainer:
    """AlphaZero training of one game in one run directory.

    Args:
        env_or_name: a registry name (``"connect_four"``), a native :class:`Game`, an
            az_gym env, a PettingZoo AEC env, a picklable zero-argument factory of one (e.g.
            ``pettingzoo.classic.tictactoe_v3.env``), or ``(env_fn, kwargs)``.
        params: a :class:`~az_gym.training.params.Params`, a TOML file, or ``None`` (the
            game's tuned file when it has one, else the defaults).
        run_dir: the run directory (default ``runs/<game name>``).
        callbacks: an object with any of ``on_self_play_end``, ``on_learning_end``,
            ``on_arena_end``, ``on_iteration_end`` (each gets a report object), a dict of
            such functions, or a list of either.
        overrides: ``"dotted.path=value"`` strings applied to ``params``.
        quiet: no progress bars nor console messages.
        game_options: registry options when ``env_or_name`` is a name (``{"size": 6}``).

    Raises:
        ParamsError: invalid parameters (raised here, before any work).
        RunDirError: ``run_dir`` holds a run of another game or network.

    Self-play runs in spawned worker processes (``SimParams.num_processes``), so a script
    that trains must guard its entry point with ``if __name__ == "__main__":``.
    """

    def __init__(
        self,
        env_or_name: Any,
        params: Any = None,
        run_dir: str | Path | None = None,
        *,
        callbacks: Any = None,
        overrides: Iterable[str] = (),
        quiet: bool = False,
        game_options: dict[str, Any] | None = None,
    ) -> None:
        from az_gym.training.params import (
            Params,
            ParamsError,
            apply_overrides,
            default_params,
            load_params,
        )
        from az_gym.training.params_io import tuned_options_mismatch

        self.game_spec, self.game = resolve_game(env_or_name, game_options or {})
        if params is None:
            try:
                params = default_params(self.game.name)
            except ParamsError:
                params = Params()
            else:
                mismatch = tuned_options_mismatch(self.game.name, self.game.options())
                if mismatch:
                    import warnings

                    warnings.warn(mismatch, UserWarning, stacklevel=2)
        elif isinstance(params, (str, Path)):
            params = load_params(params)
        if not isinstance(params, Params):
            raise ParamsError(f"Trainer: params={params!r} must be a Params, a TOML path or None")
        params = apply_overrides(params, list(overrides))
        params.validate_for_game(self.game)
        self.params: Any = params
        self.quiet = quiet
        self.run = RunDir(Path(run_dir) if run_dir is not None else Path("runs") / self.game.name)
        self.run.check_compatible(self.game, params.network)
        self.callbacks = Callbacks(callbacks)
        self.net_spec = NetSpec(self.game.observation_shape, self.game.num_actions, params.network)
        self.device = self._device(params.learning.use_gpu)
        self._pool: Any = None
        self._loaded = False
        self.iteration = self.run.last_iteration()
        """The last completed iteration (read from ``run_dir`` until the run starts)."""

    @staticmethod
    def _device(use_gpu: bool) -> torch.device:
        from az_gym.networks import resolve_device

        return resolve_device(use_gpu)

    @classmethod
    def from_run_dir(
        cls,
        run_dir: str | Path,
        *,
        env_or_name: Any = None,
        overrides: Iterable[str] = (),
        quiet: bool = False,
        callbacks: Any = None,
    ) -> Trainer:
        """A trainer for an existing run (its ``params.toml`` and game), ready to resume.

        ``env_or_name`` is needed only for games that neither the registry nor a pickled
        factory can rebuild.
        """
        run = RunDir(Path(run_dir))
        if not run.params_path.exists():
            raise RunDirError(f"{run_dir} holds no run (no params.toml)")
        game = env_or_name if env_or_name is not None else run.stored_game()
        return cls(game, run.params_path, run_dir, overrides=overrides, quiet=quiet,
                   callbacks=callbacks)  # fmt: skip

    # ------------------------------------------------------------------ public API
    def train(self) -> list[IterationReport]:
        """Start a new run in ``run_dir`` and do ``params.num_iters`` iterations.

        Raises:
            RunDirError: ``run_dir`` already holds a started run (call :meth:`resume`).
        """
        if self.run.last_iteration() > 0:
            raise RunDirError(
                f"{self.run.path} already holds a run at iteration {self.run.last_iteration()}; "
                "call resume() (az-gym train --resume) or choose another run directory"
            )
        self.run.start(self.game, self.game_spec, self.params)
        self._fresh_state()
        return self._loop()

    def resume(self) -> list[IterationReport]:
        """Continue the run in ``run_dir`` from its last completed iteration up to
        ``params.num_iters`` (a fresh start if the directory holds no run)."""
        if self.run.read_state() is None:
            return self.train()
        from az_gym.training.checkpoint import remove_stale_temp_files
        from az_gym.training.params import save_params

        save_params(self.params, self.run.params_path)  # overrides such as num_iters persist
        self._load_state()
        # A process killed between its commit and the top-level links left them stale.
        self.run.publish()
        remove_stale_temp_files(self.run.path)
        return self._loop()

    def best_agent(self, **kwargs: Any) -> Any:
        """An :class:`~az_gym.agents.alphazero.AlphaZeroAgent` of the best network (arena
        search parameters), e.g. ``trainer.best_agent(seed=0)``."""
        from az_gym.agents.alphazero import AlphaZeroAgent

        self._ensure_loaded()
        mcts = self.params.arena.mcts if self.params.arena else self.params.self_play.mcts
        return AlphaZeroAgent(self.game, copy.deepcopy(self.best_net).cpu().eval(), mcts, **kwargs)

    @property
    def agent(self) -> Any:
        """The best agent (see :meth:`best_agent`)."""
        return self.best_agent()

    @staticmethod
    def export_best_agent(run_dir: str | Path, path: str | Path | None = None) -> Path:
        """Write the run's best network as an agent file (default ``run_dir/best_agent.pt``)
        that ``AlphaZeroAgent.load`` reads; returns its path."""
        from az_gym.training.checkpoint import atomic_torch_save

        run = RunDir(Path(run_dir))
        ckpt = run.load_checkpoint("best")
        out = Path(path) if path is not None else run.path / "best_agent.pt"
        atomic_torch_save(ckpt, out)
        return out

    def close(self) -> None:
        """Stop the worker processes (done at the end of :meth:`train` too)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    # ------------------------------------------------------------------ state
    def _new_net(self) -> Any:
        return self.net_spec.build().to(self.device)

    def _fresh_state(self) -> None:
        from az_gym.training.learning import Learner
        from az_gym.training.memory import MemoryBuffer

        torch.manual_seed(self.params.seed)
        self.rng = np.random.default_rng(self.params.seed)
        self.current_net = self._new_net()
        self.best_net = copy.deepcopy(self.current_net)
        self.memory = MemoryBuffer(int(self.params.mem_buffer_size[1]))
        self.learner = Learner(self.current_net, self.params.learning, self.device)
        self.iteration = 0
        self._loaded = True

    def _load_state(self) -> None:
        """Load the committed iteration's files (see :class:`RunDir` for the fallbacks)."""
        from az_gym.training.checkpoint import CheckpointError

        state = self.run.read_state() or {}
        self._fresh_state()
        self.iteration = int(state.get("iteration", 0))
        if self.iteration == 0:
            return
        for kind, net in (("current", self.current_net), ("best", self.best_net)):
            ckpt = self.run.load_checkpoint(kind)
            self._check_checkpoint(ckpt, kind)
            net.load_state_dict(ckpt["weights"])
        try:
            self.learner.load_state_dict(self.run.load_optimiser())
        except (CheckpointError, KeyError, ValueError, AttributeError) as e:
            import warnings

            warnings.warn(f"optimiser state not restored ({e}); starting it afresh",
                          RuntimeWarning, stacklevel=2)  # fmt: skip
        memory = self.run.load_memory()
        if memory is not None:
            self.memory = memory
        if state.get("rng"):
            self.rng.bit_generator.state = state["rng"]
        ReportWriter(self.run.path, tensorboard=False, plots=False).truncate(self.iteration)

    def _check_checkpoint(self, ckpt: dict[str, Any], kind: str) -> None:
        if ckpt.get("game_id") != self.game.game_id:
            raise RunDirError(
                f"{self.run.checkpoint_path(kind)} was made for game {ckpt.get('game_id')!r}, "
                f"not {self.game.game_id!r}"
            )
        if ckpt.get("network_config") != self.params.network.to_dict():
            raise RunDirError(
                f"{self.run.checkpoint_path(kind)} holds a network {ckpt.get('network_config')} "
                f"but the parameters ask for {self.params.network.to_dict()}"
            )

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            if self.run.read_state() is not None:
                self._load_state()
            else:
                self._fresh_state()

    def _checkpoint(self, net: Any) -> dict[str, Any]:
        mcts = self.params.arena.mcts if self.params.arena else self.params.self_play.mcts
        return {
            "format": CHECKPOINT_FORMAT,
            "weights": {k: v.detach().cpu() for k, v in net.state_dict().items()},
            "network_config": self.params.network.to_dict(),
            "game_id": self.game.game_id,
            "observation_shape": list(self.game.observation_shape),
            "num_actions": int(self.game.num_actions),
            "mcts": mcts.to_dict(),
            "iteration": self.iteration,
        }

    def _save(self, record: dict[str, Any], writer: ReportWriter) -> None:
        """Write the iteration's files into a fresh ``iter-NNNNNN/``, then ``state.json``
        last (the commit point; see :meth:`RunDir.commit`)."""
        from az_gym.training.checkpoint import atomic_torch_save

        directory = self.run.begin_iteration(self.iteration)
        atomic_torch_save(self._checkpoint(self.current_net), directory / "current.pt")
        atomic_torch_save(self._checkpoint(self.best_net), directory / "best.pt")
        atomic_torch_save({**self.learner.state_dict(), "iteration": self.iteration},
                          directory / "optimiser.pt")  # fmt: skip
        self.memory.save(directory / "memory.npz")
        writer.append(record)
        self.run.commit(self.iteration, rng=to_jsonable(self.rng.bit_generator.state))

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> list[IterationReport]:
        from az_gym.training.iteration import run_iteration

        writer = ReportWriter(self.run.path)
        reports: list[IterationReport] = []
        self._say(f"{self.game.game_id}: {self.iteration} of {self.params.num_iters} "
                  f"iterations done; run directory {self.run.path}")  # fmt: skip
        try:
            while self.iteration < self.params.num_iters:
                start = time.perf_counter()
                snapshot = self._snapshot()
                try:
                    record = run_iteration(self, self.iteration + 1)
                except (KeyboardInterrupt, StopTraining):
                    self._restore(snapshot)
                    raise
                with interrupt_guard():
                    self.iteration += 1
                    record["seconds"] = time.perf_counter() - start
                    self._save(record, writer)
                report = IterationReport(self.iteration, bool(record["promoted"]),
                                         record["seconds"], record)  # fmt: skip
                self._say(f"iteration {self.iteration}: {record['summary']}")
                reports.append(report)
                self.callbacks.fire("on_iteration_end", report)
        except StopTraining as stop:
            self._say(f"training stopped after iteration {self.iteration}: {stop}")
        except KeyboardInterrupt:
            self._say(
                f"\ninterrupted: the run is saved at iteration {self.iteration} in "
                f"{self.run.path}; continue with Trainer.from_run_dir(...).resume() or "
                "`az-gym train GAME --resume`"
            )
        finally:
            self.close()
            writer.close()
        return reports

    def _snapshot(self) -> Any:
        """Cheap handles to restore the in-memory state if an iteration is interrupted."""
        return self.run.last_iteration()

    def _restore(self, saved_iteration: Any) -> None:
        # The files on disk are the truth: reload them so that the trainer object stays
        # consistent with state.json after an interrupted iteration.
        if saved_iteration > 0:
            self._load_state()
        else:
            self._fresh_state()

    def pool(self) -> Any:
        """The self-play backend (created on first use, kept across iterations)."""
        if self._pool is None:
            sim = self.params.self_play.sim
            if sim.backend == "ray":
                from az_gym.training.ray_backend import RayPool

                self._pool = RayPool(sim.num_processes, address=sim.ray_address)
            else:
                from az_gym.training.selfplay import LocalPool

                n = sim.num_processes
                if (n is None or n > 1) and not self.game_spec.picklable():
                    import warnings

                    warnings.warn(
                        f"{self.game.game_id}: the game cannot be pickled, so self-play runs "
                        "in this process; pass a zero-argument factory (e.g. the PettingZoo "
                        "module's env function) to use worker processes",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                    n = 1
                self._pool = LocalPool(n)
        return self._pool

    def _say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)

    def progress(self, total: int, desc: str) -> Any:
        """A tqdm bar with ETA (disabled when quiet or stderr is not a terminal)."""
        from tqdm.auto import tqdm

        disable = self.quiet or not sys.stderr.isatty()
        return tqdm(total=total, desc=desc, disable=disable, leave=False, dynamic_ncols=True)
