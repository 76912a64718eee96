"""The training loop: self-play -> memory -> learning -> arena -> analysis -> report -> save.

:class:`Trainer` wires the pieces together around a *run directory*::

    params.toml       the parameters of the run (written at the start, and at the first
                      commit of a resume that changed them with overrides)
    state.json        last completed iteration, its directory, rng state, game id (the
                      commit point: written LAST each iteration; see run_state.py)
    lock              the writer's lock: pid, host and start time of the trainer
    iter-NNNNNN/      the files of the iteration that state.json names:
        current.pt    the network being trained
        best.pt       the network that generates data
        optimiser.pt  the optimiser's state
        memory.npz    the memory buffer
        report.jsonl  the records of iterations 1..N
    iter-MMMMMM/      the same files of the previous iteration (M = N - 1), the fallback
                      for a corrupt file; older directories are deleted after each commit
    current.pt, best.pt, report.jsonl   hard links to (or copies of) the committed files
    tensorboard/      scalars;  plots/*.png: loss terms, arena, benchmark, buffer, stages
    (state.json also describes the game: registry name and options, or the factory's
    module:qualname, which is compared with the one passed on resume, never imported)

One trainer writes a run directory at a time (``lock``); reading it (``from_run_dir``,
``best_agent``, ``AlphaZeroAgent.load("runs/x/best.pt")``, ``az-gym evaluate``) never
writes, works on a read-only copy and is safe while the run trains.

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
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from az_gym._procs import exit_if_rerunning_main
from az_gym.training.events import (
    Callbacks,
    IterationReport,
    StopTraining,
    interrupt_guard,
)
from az_gym.training.report import ReportWriter, to_jsonable, write_reports
from az_gym.training.run_dir import RunDir, RunDirError, resolve_game
from az_gym.training.selfplay import NetSpec

__all__ = ["IterationReport", "RunDirError", "StopTraining", "Trainer"]

CHECKPOINT_FORMAT = "az_gym.alphazero/1"


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
        ParamsError: invalid parameters, or a network and learning batch that cannot fit in
            the available memory (raised here, before anything is allocated or written).
        RunDirError: ``run_dir`` holds a run of another game or network.

    Constructing a trainer only reads ``run_dir``; :meth:`train` and :meth:`resume` take
    its lock for the whole run (a second trainer refuses). Self-play runs in spawned worker
    processes (``SimParams.num_processes``). They need the caller's ``__main__`` only when
    the game's factory (or class) is defined there; then a script must guard its training
    with ``if __name__ == "__main__":``, and from a notebook or stdin self-play runs in this
    process with a warning (see ``az_gym._procs``).
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
        exit_if_rerunning_main()  # a worker re-running an unguarded script: see _procs
        from az_gym.training.params import (
            Params,
            ParamsError,
            apply_overrides,
            default_params,
            load_params,
        )
        from az_gym.training.params_io import tuned_options_mismatch
        from az_gym.training.resources import check_memory

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
        self.run.check_compatible(self.game, self.game_spec, params.network)
        self.device = self._device(params.learning.use_gpu)
        check_memory(self.game, params, self.device)
        self.callbacks = Callbacks(callbacks)
        self.net_spec = NetSpec(self.game.observation_shape, self.game.num_actions, params.network)
        self._pool: Any = None
        self._loaded = False
        self._reports: list[dict[str, Any]] = []
        self._params_saved = False
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
        game_options: dict[str, Any] | None = None,
        params: Any = None,
        overrides: Iterable[str] = (),
        quiet: bool = False,
        callbacks: Any = None,
    ) -> Trainer:
        """A trainer for an existing run (its ``params.toml`` and game), ready to resume or
        to read (constructing it writes nothing).

        Args:
            run_dir: the run directory.
            env_or_name: the game, needed only for a run trained on a factory or an env
                (``state.json`` describes it, but az_gym never imports what a run directory
                names); when given it must be the run's game (name and ``game_options``, or
                the same factory ``module:qualname`` and keyword arguments).
            game_options: registry options with a game name; they must be the run's.
            params: the user's own parameter file or :class:`Params`; it must equal the
                run's ``params.toml`` once both take ``overrides``, and is then trusted.
            overrides: ``"dotted.path=value"`` changes, validated and tried before anything
                is written, saved to ``params.toml`` with the first new commit.

        Without ``params``, a Ray backend or address in the run's ``params.toml`` is dropped
        with a warning (self-play runs locally) unless ``overrides`` set it again: a run
        directory may come from someone else, and a resume must not connect to the
        cluster its file names.

        Raises:
            RunDirError: no run there, another game or options, or ``params`` that differ
                from the run's (the message names both).
        """
        from az_gym.training.params import Params, load_params
        from az_gym.training.resume import resume_params
        from az_gym.training.run_game import check_same_game, game_from_state

        run = RunDir(Path(run_dir))
        state = run.read_state()
        missing = [p.name for p in (run.state_path, run.params_path) if not p.is_file()]
        if missing or state is None:
            raise RunDirError(
                f"{run_dir} holds no run ({' and '.join(missing)} missing); restore the files "
                f"from a backup, or start a run there with az-gym train GAME --run-dir {run_dir}"
            )
        recorded = load_params(run.params_path)
        if env_or_name is None:
            if game_options:
                raise ValueError("from_run_dir: game_options need env_or_name (a game name)")
            spec = game_from_state(state, run.state_path)
        else:
            spec, game = resolve_game(env_or_name, game_options or {})
            check_same_game(state, spec, game, run.path)
        if params is not None and not isinstance(params, Params):
            params = load_params(params)
        overrides = resume_params(run.path, recorded, list(overrides), params)
        return cls(spec, recorded, run_dir, overrides=overrides, quiet=quiet,
                   callbacks=callbacks)  # fmt: skip

    # ------------------------------------------------------------------ public API
    def train(self) -> list[IterationReport]:
        """Start a new run in ``run_dir`` and do ``params.num_iters`` iterations.

        Raises:
            RunDirError: ``run_dir`` already holds a started run (call :meth:`resume`), or
                another trainer holds it.
            KeyboardInterrupt: after Ctrl-C, once the run is saved at its last completed
                iteration (a run interrupted before its first commit leaves nothing).
        """
        with self.run.writing():
            if self.run.last_iteration() > 0:
                raise RunDirError(
                    f"{self.run.path} already holds a run at iteration "
                    f"{self.run.last_iteration()}; call resume() (az-gym train GAME --resume) "
                    "or choose another run directory"
                )
            self._fresh_state()
            self.run.start(self.game, self.game_spec, self.params)
            self._reports, self._params_saved = [], True
            return self._loop()

    def resume(self) -> list[IterationReport]:
        """Continue the run in ``run_dir`` from its last completed iteration up to
        ``params.num_iters`` (a fresh start if the directory holds no run).

        Everything is loaded, checked and built (networks, optimiser) before anything is
        written; the parameters (with overrides) reach ``params.toml`` at the first commit.

        Raises:
            RunDirError: another trainer holds the run directory, or its state is damaged
                beyond the fallbacks (one line naming the file and what to do).
            KeyboardInterrupt: as for :meth:`train`.
        """
        if self.run.read_state() is None:
            return self.train()
        from az_gym.training.checkpoint import remove_stale_temp_files

        with self.run.writing():
            state = self.run.read_state() or {"iteration": 0}
            self._load_state(state)
            self.run.publish()  # a process killed between its commit and the links
            if not self.run.artifact_path("report.jsonl", state).is_file():  # flat layout
                write_reports(self.run.path / "report.jsonl", self._reports)
            remove_stale_temp_files(self.run.path)
            return self._loop()

    def best_agent(self, **kwargs: Any) -> Any:
        """An :class:`~az_gym.agents.alphazero.AlphaZeroAgent` of the best network (arena
        search parameters), e.g. ``trainer.best_agent(seed=0)``. Reads only."""
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
        from az_gym.training.checkpoint import atomic_torch_save, safe_torch_load

        run = RunDir(Path(run_dir))
        state = run.read_state()
        if state is None:
            raise RunDirError(f"{run_dir} holds no run (no state.json)")
        ckpt = run.load_artifact("best.pt", safe_torch_load, state)
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
        self._reports = []
        self._loaded = True

    def _load_state(self, state: dict[str, Any] | None = None) -> None:
        """Load a commit (default: the one ``state.json`` holds now; see
        :func:`~az_gym.training.resume.load_committed`). A reader retries when the run
        committed again while it read (the files it wanted may be pruned)."""
        from az_gym.training.checkpoint import CheckpointError
        from az_gym.training.resume import load_committed

        for attempt in range(3):
            current = state if state is not None else self.run.read_state() or {"iteration": 0}
            try:
                load_committed(self, current)
            except CheckpointError:
                if state is not None or attempt == 2 or self.run.read_state() == current:
                    raise
                continue
            self._reports = self.run.load_reports(current)
            self._loaded = True
            return

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._load_state()

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
        """Write the iteration's files (and the report so far) into a fresh
        ``iter-NNNNNN/``, then ``state.json`` last (the commit point; see
        :meth:`RunDir.commit`); TensorBoard and plots follow the commit."""
        from az_gym.training.checkpoint import atomic_torch_save
        from az_gym.training.params import save_params

        records = [*self._reports, to_jsonable(record)]
        try:
            directory = self.run.begin_iteration(self.iteration)
            atomic_torch_save(self._checkpoint(self.current_net), directory / "current.pt")
            atomic_torch_save(self._checkpoint(self.best_net), directory / "best.pt")
            atomic_torch_save({**self.learner.state_dict(), "iteration": self.iteration},
                              directory / "optimiser.pt")  # fmt: skip
            self.memory.save(directory / "memory.npz")
            write_reports(directory / "report.jsonl", records)
            if not self._params_saved:  # a resume's overrides, now that they have run
                save_params(self.params, self.run.params_path)
                self._params_saved = True
            self.run.commit(self.iteration, rng=to_jsonable(self.rng.bit_generator.state))
        except OSError as e:
            raise RunDirError(
                f"cannot save iteration {self.iteration} in the run directory "
                f"{self.run.path}: {e.strerror or e}"
            ) from None
        self._reports = records
        writer.show(records)

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
            if self.iteration == 0:
                self._say(f"\ninterrupted before the first iteration was saved; {self.run.path} "
                          "keeps nothing of this run")  # fmt: skip
            else:
                self._say(
                    f"\ninterrupted: the run is saved at iteration {self.iteration} in "
                    f"{self.run.path}; continue with Trainer.from_run_dir(...).resume() or "
                    "`az-gym train GAME --resume`"
                )
            raise  # scripts see Ctrl-C (the CLI exits 130)
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

    def progress(self, total: int, desc: str, unit: str = "") -> Any:
        """A tqdm bar on a terminal, periodic log lines otherwise, nothing when quiet
        (:func:`az_gym.progress.progress`)."""
        from az_gym.progress import progress

        return progress(total, desc, unit=unit, enabled=not self.quiet)
