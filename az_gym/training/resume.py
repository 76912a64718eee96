"""What a trainer reads back from a run directory, and what it trusts there.

Loading (:func:`load_committed`) fills a trainer's objects
(:class:`~az_gym.training.trainer_state.TrainerState`) from one commit of ``state.json``,
every file checked before use: a checkpoint must hold finite weights of exactly the shapes
of the run's network, for its game; an optimiser state must survive a trial step of the
run's optimiser on a copy of the network (so ``--set learning.optimiser.kind=sgd`` on an
Adam run starts SGD afresh instead of failing after self-play); a memory file must hold
samples of the game's shapes. A file that fails is treated as corrupt: the previous
iteration's copy is used, with a warning naming both (see
:meth:`~az_gym.training.run_dir.RunDir.load_artifact`). The networks are needed: when no
copy is usable that is a one-line error. The optimiser state, the memory and the rng can be
rebuilt, so their loss is a warning and a fresh start of that part.

Trust (:func:`resume_params`): ``params.toml`` of a run directory is the run's, not the
user's, so a resume never connects to the Ray cluster it names unless the user asks again
on the command line, and a ``--config`` given on resume must describe the run.
"""

from __future__ import annotations

import copy
import shlex
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from az_gym.training.checkpoint import CheckpointError, safe_torch_load
from az_gym.training.run_state import RunDirError

if TYPE_CHECKING:  # pragma: no cover
    from az_gym.training.trainer_state import TrainerState


def _warn(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=4)


def checkpoint_validator(tr: TrainerState) -> Callable[[Path], dict[str, Any]]:
    """A loader of ``current.pt``/``best.pt`` that refuses (``ValueError``) a checkpoint of
    another game or network, or with weights of other shapes or non-finite values."""
    expected = {k: (tuple(v.shape), v.dtype) for k, v in tr.current_net.state_dict().items()}

    def load(path: Path) -> dict[str, Any]:
        ckpt = safe_torch_load(path)
        if ckpt.get("game_id") != tr.game.game_id:
            raise ValueError(f"made for game {str(ckpt.get('game_id'))[:80]!r}")
        if ckpt.get("network_config") != tr.params.network.to_dict():
            raise ValueError(f"holds another network ({str(ckpt.get('network_config'))[:200]})")
        weights = ckpt.get("weights")
        if not isinstance(weights, dict) or set(weights) != set(expected):
            raise ValueError("its weights do not name the network's tensors")
        for name, (shape, dtype) in expected.items():
            w = weights[name]
            if not isinstance(w, torch.Tensor) or tuple(w.shape) != shape or w.dtype != dtype:
                raise ValueError(f"{name} is not a {dtype} tensor of shape {list(shape)}")
            if w.is_floating_point() and not bool(torch.isfinite(w).all()):
                raise ValueError(f"{name} holds non-finite values")
        return ckpt

    return load


def optimiser_validator(tr: TrainerState) -> Callable[[Path], dict[str, Any]]:
    """A loader of ``optimiser.pt`` that refuses (``ValueError``) a state the run's
    optimiser cannot use: it is loaded into a fresh optimiser over a copy of the network,
    which then takes one step (the copies are thrown away)."""
    from az_gym.training.learning import make_optimiser

    def load(path: Path) -> dict[str, Any]:
        state = safe_torch_load(path)
        net = copy.deepcopy(tr.current_net)
        trial = make_optimiser(net, tr.params.learning)
        try:
            trial.load_state_dict(copy.deepcopy(state["optimiser"]))
            for p in net.parameters():
                p.grad = torch.zeros_like(p)
            trial.step()
        except Exception as e:  # any failure means this state does not fit: a trial
            raise ValueError(
                f"does not fit the {type(trial).__name__} optimiser: "
                f"{type(e).__name__}: {str(e)[:200]}"
            ) from None
        return state

    return load


def memory_validator(tr: TrainerState) -> Callable[[Path], Any]:
    """A loader of ``memory.npz`` that refuses (``ValueError``) samples of other shapes
    than the game's."""
    from az_gym.training.memory import MemoryBuffer

    obs_shape, num_actions = tuple(tr.game.observation_shape), int(tr.game.num_actions)

    def load(path: Path) -> MemoryBuffer:
        buf = MemoryBuffer.load(path)
        if len(buf):
            data = buf.samples()
            if data.obs.shape[1:] != obs_shape or data.mask.shape[1] != num_actions:
                raise ValueError(
                    f"holds samples of shape {list(data.obs.shape[1:])} with "
                    f"{data.mask.shape[1]} actions, not {list(obs_shape)} with {num_actions}"
                )
        return buf

    return load


def load_committed(tr: TrainerState, state: dict[str, Any]) -> None:
    """Fill ``tr``'s networks, optimiser, memory and rng from the commit ``state`` (fresh
    ones at iteration 0; see the module docstring for the checks and fallbacks).

    Raises:
        CheckpointError: no usable copy of a network (one line naming the files).
    """
    tr._fresh_state()
    n = tr.iteration = int(state["iteration"])
    load_ckpt = checkpoint_validator(tr)
    if n == 0:
        if state.get("init_from"):  # started from a network, interrupted before a commit
            from az_gym.training.warm_start import committed_initial_weights

            weights = committed_initial_weights(tr.run.path, load_ckpt)
            for net in (tr.current_net, tr.best_net):
                net.load_state_dict(weights)
        return
    for kind, net in (("current", tr.current_net), ("best", tr.best_net)):
        net.load_state_dict(tr.run.load_artifact(f"{kind}.pt", load_ckpt, state)["weights"])
    try:
        optimiser = tr.run.load_artifact("optimiser.pt", optimiser_validator(tr), state)
    except CheckpointError as e:
        _warn(f"optimiser state not restored ({e}); starting it afresh")
    else:
        tr.learner.load_state_dict(optimiser)
    try:
        tr.memory = tr.run.load_artifact("memory.npz", memory_validator(tr), state)
    except CheckpointError as e:
        _warn(f"memory buffer not restored ({e}); it starts empty")
    if state.get("rng") is not None:
        try:
            tr.rng.bit_generator.state = state["rng"]
        except (TypeError, ValueError, KeyError, OverflowError) as e:  # crafted values
            _warn(f"{tr.run.state_path}: rng state not restored ({str(e)[:200]!r}); reseeding")
            tr.rng = np.random.default_rng([tr.params.seed, n])


def resume_setup(
    run_dir: Path,
    env_or_name: Any,
    game_options: dict[str, Any] | None,
    params: Any,
    overrides: Sequence[str],
) -> tuple[Any, Any, list[str]]:
    """What :meth:`Trainer.from_run_dir <az_gym.training.trainer.Trainer.from_run_dir>`
    builds its trainer from: ``(game spec, the run's params, overrides)`` (see its
    docstring for the checks).

    Raises:
        RunDirError: no run there, another game or options, or ``params`` that differ
            from the run's.
    """
    from az_gym.training.params import Params, load_params
    from az_gym.training.params_io import override_list
    from az_gym.training.run_dir import RunDir, resolve_game
    from az_gym.training.run_game import check_same_game, game_from_state

    run = RunDir(run_dir)
    state = run.read_state()
    missing = [p.name for p in (run.state_path, run.params_path) if not p.is_file()]
    if missing or state is None:
        game = env_or_name if isinstance(env_or_name, str) else "GAME"
        start = (
            f"start one with `az-gym train {game} --run-dir {shlex.quote(str(run_dir))}` "
            "(without --resume)"
        )
        if not run.path.exists():
            raise RunDirError(f"{run_dir} does not exist, so there is no run to resume; {start}")
        if run.path.is_dir() and not any(run.path.iterdir()):
            raise RunDirError(f"{run_dir} is empty, so there is no run to resume; {start}")
        raise RunDirError(
            f"{run_dir} holds no run ({' and '.join(missing)} missing); restore the files "
            f"from a backup, or start a new run in a new or empty directory: `az-gym train "
            f"{game} --run-dir NEW_DIR` (a new run writes over nothing in {run_dir})"
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
    overrides = resume_params(run.path, recorded, override_list(overrides), params)
    return spec, recorded, overrides


# ---------------------------------------------------------------------------- trust
def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: data}


def params_differences(a: Any, b: Any) -> list[str]:
    """``"key: A vs B"`` for each parameter where two :class:`Params` differ."""
    from az_gym.training.params import params_to_dict

    fa, fb = _flat(params_to_dict(a)), _flat(params_to_dict(b))
    return [
        f"{k}: {fa.get(k)!r} vs {fb.get(k)!r}"
        for k in sorted(set(fa) | set(fb))
        if fa.get(k) != fb.get(k)
    ]


def resume_params(
    run_path: Path, recorded: Any, overrides: Sequence[str], user_params: Any = None
) -> list[str]:
    """The overrides a resume applies to the run's ``params.toml`` (``recorded``).

    * ``user_params`` (the user's own ``--config``) must equal ``recorded`` once both take
      ``overrides``; it is then trusted as the user's. Otherwise:
    * a Ray address in ``recorded`` is dropped with a warning unless ``overrides`` type that
      phase's ``ray_address`` itself (typing only ``backend=ray`` starts or joins a local
      Ray cluster, never the recorded one); a Ray backend is dropped (self-play runs
      locally) unless ``overrides`` type a backend again.

    Raises:
        RunDirError: ``user_params`` differs from the run's (names the keys and both files).
    """
    from az_gym.training.params import apply_overrides

    if user_params is not None:
        diff = params_differences(
            apply_overrides(user_params, overrides), apply_overrides(recorded, overrides)
        )
        if diff:
            shown = "; ".join(diff[:3]) + ("; ..." if len(diff) > 3 else "")
            raise RunDirError(
                f"the --config parameters differ from the run's {run_path / 'params.toml'} "
                f"(config vs run: {shown}); resume without --config, or change a parameter "
                "deliberately with --set KEY=VALUE"
            )
        return list(overrides)
    sims = [("self_play.sim", recorded.self_play.sim)]
    if recorded.arena is not None:
        sims.append(("arena.sim", recorded.arena.sim))
    typed = [o.split("=", 1)[0].strip() for o in overrides]

    def is_typed(key: str) -> bool:  # the key itself, or a section holding it
        return any(key == t or key.startswith(t + ".") for t in typed)

    # A backend typed again keeps the run's backends (both phases must match); an address
    # is a connection: only the one the user typed for that phase is used.
    keep_backend = any(t.endswith("backend") or t.endswith(".sim") for t in typed)
    drops, dropped = [], []
    for where, sim in sims:
        if sim.ray_address is not None and not is_typed(f"{where}.ray_address"):
            drops.append(f"{where}.ray_address=none")
            dropped.append(f"{where}.ray_address={sim.ray_address!r}"[:120])
        if sim.backend != "local" and not keep_backend:
            drops.append(f"{where}.backend=local")
            dropped.append(f"{where}.backend={sim.backend!r}"[:120])
    if dropped:
        _warn(
            f"{run_path / 'params.toml'} asks for {', '.join(dropped)}; a run directory may "
            "come from someone else, so this resume does not use it (to use Ray: --set "
            "self_play.sim.backend=ray --set self_play.sim.ray_address=ADDRESS)"
        )
    return [*drops, *overrides]
