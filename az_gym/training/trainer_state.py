"""What a :class:`~az_gym.training.trainer.Trainer` holds between iterations (networks,
optimiser, memory, rng, reports, the worker pool) and its round trip through the *run directory*::

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
    networks/best-NNNNNN.pt   the best network at the end of each iteration (hard links;
                      ``keep_best_networks = false``: none), linked after the commit
    tensorboard/      scalars;  plots/*.png: loss terms, arena, benchmark, buffer, stages
    init.pt           a run started from a trained network (``init_from``): that network
                      (see :mod:`az_gym.training.warm_start`)
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
older flat layout (every file at the top, no ``iter-NNNNNN/``) are refused with a
:class:`RunDirError` that says what to do.
Checkpoints are :mod:`az_gym.checkpoint_format`'s (the agent's file format), so
``AlphaZeroAgent.load("runs/x/best.pt")`` works.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from az_gym.checkpoint_format import make_checkpoint
from az_gym.game import Game
from az_gym.training.report import ReportWriter, to_jsonable, write_reports
from az_gym.training.run_dir import RunDir, RunDirError
from az_gym.training.selfplay import GameSpec, NetSpec
from az_gym.workers import WorkerPool


class TrainerState:
    """The state half of :class:`~az_gym.training.trainer.Trainer`: build it fresh, load a
    commit of the run directory, save an iteration. The trainer sets the configuration
    attributes below in its constructor; the state attributes exist once
    :meth:`_fresh_state` or :meth:`_load_state` ran."""

    # configuration (set by Trainer.__init__)
    params: Any
    game: Game
    game_spec: GameSpec
    net_spec: NetSpec
    device: torch.device
    run: RunDir
    _loaded: bool
    _reports: list[dict[str, Any]]
    _params_saved: bool
    _pool: WorkerPool | None
    _init: tuple[dict[str, Any], dict[str, str]] | None
    """``init_from``'s weights and the record of their source, or ``None``."""
    # state
    iteration: int
    rng: np.random.Generator
    current_net: Any
    best_net: Any
    memory: Any
    learner: Any

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

    def pool(self) -> WorkerPool:
        """The self-play backend (created on first use, kept across iterations)."""
        if self._pool is None:
            sim = self.params.self_play.sim
            if sim.backend == "ray":
                from az_gym.training.ray_backend import RayPool

                self._pool = RayPool(sim.num_processes, address=sim.ray_address)
            else:
                from az_gym.workers import LocalPool

                n = sim.num_processes
                if (n is None or n > 1) and not self.game_spec.picklable():
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

    def close(self) -> None:
        """Stop the worker processes (done at the end of :meth:`train` too)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

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

    def _start_from_init(self) -> dict[str, Any]:
        """Load the ``init_from`` weights (if any) into the fresh networks and keep their
        copy in the run directory (:mod:`~az_gym.training.warm_start`); returns the
        ``state.json`` fields that record it (none without ``init_from``)."""
        from az_gym.training.checkpoint import atomic_torch_save
        from az_gym.training.warm_start import INIT_FILE

        init = self._init
        if init is None:  # a new run in place of one that started from a network
            (self.run.path / INIT_FILE).unlink(missing_ok=True)
            return {}

        weights, record = init
        for net in (self.current_net, self.best_net):
            net.load_state_dict(weights)
        atomic_torch_save(self._checkpoint(self.current_net), self.run.path / INIT_FILE)
        return {"init_from": record}

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
        return make_checkpoint(net, self.game.game_id, mcts, iteration=self.iteration)

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
            if self.params.keep_best_networks:
                self.run.keep_network(self.iteration)
        except OSError as e:
            raise RunDirError(
                f"cannot save iteration {self.iteration} in the run directory "
                f"{self.run.path}: {e.strerror or e}"
            ) from None
        self._reports = records
        writer.show(records)

    def _restore(self) -> None:
        """After an interrupted iteration: the files on disk are the truth, so reload them
        (or start afresh before the first commit) to keep this object consistent with
        ``state.json``."""
        if self.run.last_iteration() > 0:
            self._load_state()
        else:
            self._fresh_state()
