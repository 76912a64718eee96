"""The training loop, shaped like AlphaZero.jl's ``train!``: each iteration is
self-play -> memory update -> learning (an arena after each checkpoint) -> memory analysis
-> benchmark -> record and commit.

:class:`Trainer` holds one named method per phase (:meth:`Trainer.self_play`,
:meth:`~Trainer.update_memory`, :meth:`~Trainer.learn` with :meth:`~Trainer.arena`,
:meth:`~Trainer.memory_analysis`, :meth:`~Trainer.benchmark`) and the loop that calls them
(:meth:`~Trainer.run_iteration`, ``_loop``). What it keeps between iterations and how that
reaches the run directory (its layout, atomic commits, fallbacks) is
:class:`~az_gym.training.trainer_state.TrainerState`; the phases' pure pieces (the record,
stage losses, benchmark duels) are :mod:`az_gym.training.iteration`.
"""

from __future__ import annotations

import copy
import shlex
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from az_gym._procs import exit_if_rerunning_main
from az_gym.training.arena import ArenaReport, run_arena
from az_gym.training.events import (
    Callbacks,
    IterationReport,
    StopTraining,
    interrupt_guard,
    terminate_as_interrupt,
)
from az_gym.training.iteration import draw_seed, iteration_record, memory_stages, run_benchmark
from az_gym.training.report import ReportWriter
from az_gym.training.resources import check_backend_installed
from az_gym.training.run_dir import RunDir, RunDirError, resolve_game
from az_gym.training.run_state import RunExistsError
from az_gym.training.selfplay import NetSpec, SelfPlayReport, net_weights, run_self_play
from az_gym.training.trainer_state import TrainerState

__all__ = ["IterationReport", "RunDirError", "StopTraining", "Trainer"]


class Trainer(TrainerState):
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
        quiet: no progress bars nor progress messages (what an interruption kept, and how
            to resume it, is printed anyway: it answers the user's Ctrl-C).
        game_options: registry options when ``env_or_name`` is a name (``{"size": 6}``).
        init_from: an AlphaZero checkpoint file (an agent file), a run directory, or
            ``"pretrained"`` (the game's shipped agent), whose network starts this run
            instead of random weights (fine-tuning; the memory and optimiser start fresh).
            Only for a new run: see :mod:`az_gym.training.warm_start`.

    Raises:
        ParamsError: invalid parameters, or a network and learning batch that cannot fit in
            the available memory (raised here, before anything is allocated or written).
        RunDirError: ``run_dir`` holds a run of another game or network; ``init_from``
            is not a checkpoint of this game and network, or ``run_dir`` already holds a
            started run.

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
        init_from: str | Path | None = None,
    ) -> None:
        exit_if_rerunning_main()  # a worker re-running an unguarded script: see _procs
        from az_gym.training.iteration import check_benchmark
        from az_gym.training.params import (
            Params,
            ParamsError,
            apply_overrides,
            default_params,
            load_params,
        )
        from az_gym.training.params_io import override_list, tuned_options_mismatch
        from az_gym.training.resources import check_memory, check_processes

        self.game_spec, self.game = resolve_game(env_or_name, game_options or {})
        if params is None:
            try:
                params = default_params(self.game.name, self.game.options())
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
        params = apply_overrides(params, override_list(overrides))
        _check_network_overrides(params.network, self.game, override_list(overrides))
        params.validate_for_game(self.game)
        check_benchmark(params)
        check_processes(params)
        self.params: Any = params
        self.quiet = quiet
        self.resume_command: str | None = None
        """The shell command that resumes this run, for the Ctrl-C message (the CLI sets
        it; ``None``: the message names the Python call and the generic command)."""
        self.run = RunDir(Path(run_dir) if run_dir is not None else Path("runs") / self.game.name)
        self.run.check_compatible(self.game, self.game_spec, params.network)
        self.device = self._device(params.learning.use_gpu)
        check_memory(self.game, params, self.device)
        self.callbacks = Callbacks(callbacks)
        self.net_spec = NetSpec(self.game.observation_shape, self.game.num_actions, params.network)
        self._pool = None
        self._loaded = False
        self._reports: list[dict[str, Any]] = []
        self._params_saved = False
        self.iteration = self.run.last_iteration()
        """The last completed iteration (read from ``run_dir`` until the run starts)."""
        self._init = None
        if init_from is not None:
            from az_gym.training.warm_start import read_initial_network

            if self.iteration > 0:
                raise RunExistsError(
                    f"{self.run.path} already holds a run at iteration {self.iteration}: "
                    "init_from starts a new run only (choose another run directory)",
                    self.run.path,
                    self.iteration,
                )
            self._init = read_initial_network(init_from, self.game, params.network)

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

        Without ``params``, a Ray backend in the run's ``params.toml`` is dropped with a
        warning (self-play runs locally) unless ``overrides`` type a backend again, and its
        ``ray_address`` unless they type that ``ray_address`` itself: a run directory may
        come from someone else, and a resume must not connect to the cluster its file names.

        Raises:
            RunDirError: no run there, another game or options, or ``params`` that differ
                from the run's (the message names both).
        """
        from az_gym.training.resume import resume_setup

        spec, recorded, overrides = resume_setup(
            Path(run_dir), env_or_name, game_options, params, overrides
        )
        return cls(spec, recorded, run_dir, overrides=overrides, quiet=quiet,
                   callbacks=callbacks)  # fmt: skip

    # ------------------------------------------------------------------ public API
    def train(self) -> list[IterationReport]:
        """Start a new run in ``run_dir`` and do ``params.num_iters`` iterations.

        Raises:
            RunDirError: ``run_dir`` already holds a started run (call :meth:`resume`), or
                another trainer holds it.
            KeyboardInterrupt: after Ctrl-C, once the run is saved at its last completed
                iteration (a run interrupted before its first commit leaves nothing);
                after SIGTERM the same, as :class:`~az_gym.training.events.Terminated`
                (the workers shut down and the run directory's lock released).
        """
        check_backend_installed(self.params)
        with terminate_as_interrupt(), self.run.writing():
            if self.run.last_iteration() > 0:
                raise RunExistsError(
                    f"{self.run.path} already holds a run at iteration "
                    f"{self.run.last_iteration()}; continue it with Trainer.from_run_dir(...)"
                    ".resume(), or choose another run directory",
                    self.run.path,
                    self.run.last_iteration(),
                )
            self.run.check_new()  # before any file is written
            self._fresh_state()
            init = self._start_from_init()
            self.run.start(self.game, self.game_spec, self.params, **init)
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

        check_backend_installed(self.params)
        with terminate_as_interrupt(), self.run.writing():
            state = self.run.read_state() or {"iteration": 0}
            self._load_state(state)
            self.run.publish()  # a process killed between its commit and the links
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

    # ------------------------------------------------------------------ one iteration
    def run_iteration(self, iteration: int) -> dict[str, Any]:
        """Run iteration ``iteration`` (1-based) in memory and return its report record.

        Mutates the networks, the memory, the learner and ``rng``; writes no file (the loop
        commits the record with :meth:`_save`).
        """
        samples, sp = self.self_play(iteration)
        data = self.update_memory(iteration, samples, sp)
        learning, arenas, promoted = self.learn(iteration, data)
        stages = self.memory_analysis()
        benchmark = self.benchmark()
        return iteration_record(iteration, self.params, self.game.num_players, sp, self.memory,
                                data, learning, arenas, promoted, stages, benchmark)  # fmt: skip

    def self_play(self, iteration: int) -> tuple[Any, SelfPlayReport]:
        """Play ``self_play.sim.num_games`` games with the best network on the pool;
        returns the games' samples and the phase's report."""
        sp = self.params.self_play
        bar = self.progress(sp.sim.num_games, f"[{iteration}] self-play", "games")
        with bar:
            samples, report = run_self_play(
                self.game_spec, self.game, self.net_spec, net_weights(self.best_net), sp,
                self.pool(), seed=draw_seed(self.rng), on_game_end=lambda _n: bar.update(1),
            )  # fmt: skip
        self.callbacks.fire("on_self_play_end", report)
        return samples, report

    def update_memory(self, iteration: int, samples: Any, sp: SelfPlayReport) -> Any:
        """Add self-play's samples to the memory (its capacity from ``mem_buffer_size`` at
        this iteration) and return the learning set (position averaging, sample weights;
        the symmetric images are made per batch)."""
        p = self.params
        capacity = int(p.mem_buffer_size[iteration])
        self.memory.add(samples, num_games=sp.num_games, capacity=capacity)
        symmetries = self.game.symmetries() if p.use_symmetries else None
        return self.memory.training_data(
            p.learning.use_position_averaging, p.learning.samples_weighing_policy, symmetries
        )

    def learn(self, iteration: int, data: Any) -> tuple[Any, list[ArenaReport], bool]:
        """Train the current network on ``data``; after each of its checkpoints,
        :meth:`arena` decides whether it becomes the best network.

        Returns:
            ``(learning report, arena reports, promoted)``: ``promoted`` when any checkpoint
            replaced the best network.
        """
        lp = self.params.learning
        checks: list[ArenaReport | None] = []
        bar = self.progress(lp.batches_per_checkpoint(len(data)) * lp.num_checkpoints,
                            f"[{iteration}] learning", "batches")  # fmt: skip
        with bar:
            learning = self.learner.train(
                data, iteration, self.rng, on_progress=lambda *_a: bar.update(1),
                on_checkpoint=lambda index, _r: checks.append(self.arena(iteration, index)),
            )  # fmt: skip
        self.current_net.eval()
        self.callbacks.fire("on_learning_end", learning)
        arenas = [a for a in checks if a is not None]
        promoted = bool(checks) and (self.params.arena is None or any(a.promoted for a in arenas))
        return learning, arenas, promoted

    def arena(self, iteration: int, index: int) -> ArenaReport | None:
        """Play the current network (candidate) against the best one and promote it when it
        reaches ``arena.update_threshold``; without an arena it is always promoted (and
        ``None`` returned)."""
        a = self.params.arena
        report = None
        if a is not None:
            bar = self.progress(a.sim.num_games, f"[{iteration}] arena {index + 1}", "games")
            with bar:
                report = run_arena(
                    self.game_spec, self.game.num_players, self.net_spec,
                    net_weights(self.current_net), net_weights(self.best_net), a, self.pool(),
                    seed=draw_seed(self.rng), use_gpu=a.sim.use_gpu,
                    on_game_end=lambda _n: bar.update(1),
                )  # fmt: skip
            self.callbacks.fire("on_arena_end", report)
        if report is None or report.promoted:
            self.best_net.load_state_dict(copy.deepcopy(self.current_net.state_dict()))
        return report

    def memory_analysis(self) -> dict[str, Any]:
        """The current network's losses on the memory by game stage
        (``params.memory_analysis``; ``{}`` when off)."""
        if self.params.memory_analysis is None:
            return {}
        return memory_stages(self.current_net, self.memory, self.params, self.device)

    def benchmark(self) -> dict[str, Any]:
        """``params.benchmark``'s duels of the best network against baselines, on the
        self-play workers (processes or Ray actors)."""
        if not self.params.benchmark:
            return {}
        return run_benchmark(self.game, self.best_net, self.params, self.rng, self.pool())

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> list[IterationReport]:
        writer = ReportWriter(self.run.path)
        reports: list[IterationReport] = []
        self._say(f"{self.game.game_id}: {self.iteration} of {self.params.num_iters} "
                  f"iterations done; run directory {self.run.path}")  # fmt: skip
        if self.iteration >= self.params.num_iters > 0:
            more = self.iteration + 10
            how = (
                f"`{self.resume_command} --set num_iters={more}`"
                if self.resume_command
                else f"overrides=['num_iters={more}']"
            )
            # shown when quiet too: otherwise a quiet resume of a finished run says nothing
            self._say(f"the run is complete; to train further, raise num_iters: {how}", True)
        try:
            while self.iteration < self.params.num_iters:
                start = time.perf_counter()
                try:
                    record = self.run_iteration(self.iteration + 1)
                except (KeyboardInterrupt, StopTraining):
                    self._restore()
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
        except KeyboardInterrupt as interrupt:
            interrupt.reported = True  # type: ignore[attr-defined]  # the CLI adds no line
            if self.iteration == 0:
                self._say(f"\ninterrupted before the first iteration was saved; {self.run.path} "
                          "keeps nothing of this run", always=True)  # fmt: skip
            else:
                how = (
                    f"`{self.resume_command}`"
                    if self.resume_command
                    else "Trainer.from_run_dir(...).resume() or `az-gym train GAME --resume "
                    f"--run-dir {shlex.quote(str(self.run.path))}`"
                )
                self._say(
                    f"\ninterrupted: the run is saved at iteration {self.iteration} in "
                    f"{self.run.path}; continue with {how}",
                    always=True,
                )
            raise  # scripts see Ctrl-C (the CLI exits 130)
        finally:
            self.close()
            writer.close()
        return reports

    def _say(self, text: str, always: bool = False) -> None:
        if always or not self.quiet:
            print(text, file=sys.stderr, flush=True)

    def progress(self, total: int, desc: str, unit: str = "") -> Any:
        """A tqdm bar on a terminal, periodic log lines otherwise, nothing when quiet
        (:func:`az_gym.progress.progress`)."""
        from az_gym.progress import progress

        return progress(total, desc, unit=unit, enabled=not self.quiet)


def _check_network_overrides(network: Any, game: Any, overrides: list[str]) -> None:
    """Refuse an override of a network field that the game's network does not read
    (``network.num_filters`` on an MLP), which would otherwise change nothing, silently.

    Raises:
        ParamsError: names the field, the network's kind and the fields it reads.
    """
    from az_gym.networks import KIND_FIELDS, network_kind, unused_network_fields
    from az_gym.training.params import ParamsError

    shape = tuple(game.observation_shape)
    unused, kind = unused_network_fields(network, shape), network_kind(network, shape)
    names = {"mlp": "an MLP", "resnet": "a ResNet"}
    reads = ", ".join(KIND_FIELDS[kind]) + (
        " (e.g. network.hidden=[64, 64])" if kind == "mlp" else ""
    )
    for item in overrides:
        field = item.partition("=")[0].strip().removeprefix("network.")
        if item.strip().startswith("network.") and field in unused:
            other = unused[field]
            raise ParamsError(
                f"override {item!r}: {game.name}'s network is {names[kind]} (network.kind = "
                f"{network.kind!r}), which has no {field}; its size is set by {reads} (or "
                f"network.kind={other} for {names[other]})"
            )
