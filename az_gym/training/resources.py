"""Memory a run will need, estimated before anything is allocated, and a clear refusal.

``network.hidden=[100000, 100000]`` (ten billion weights) or ``learning.batch_size=1e8``
would otherwise be found out by the kernel's OOM killer, or after a self-play phase. The
estimate builds the network on PyTorch's ``meta`` device (shapes without storage), so it
costs microseconds whatever the size, and counts:

* the weights x 6: the trained and the best network, the gradients, Adam's two moments,
  and one copy in flight to the workers;
* a learning batch: the inputs of ``learning.batch_size`` samples plus every layer's
  activations (measured by a forward pass on ``meta``) x 3, for the forward values kept
  for the backward pass and their gradients;
* the loss reports' batch (no gradients), when larger.

It is compared with the memory the system reports as available (``MemAvailable`` of
``/proc/meminfo``, else ``os.sysconf``; a GPU's free memory when learning runs there). It
is a lower bound of what training needs, so a refusal is never a false alarm; the memory
buffer, which fills over many iterations, gets a warning instead when its full size would
not fit.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from az_gym._procs import MAX_PROCESSES_PER_CORE, available_cores, max_processes
from az_gym.memory_budget import GIB, available_memory_bytes, network_footprint

__all__ = [
    "GIB",
    "available_memory_bytes",
    "check_memory",
    "estimate_training_bytes",
    "network_footprint",
]


def estimate_training_bytes(game: Any, params: Any) -> dict[str, int]:
    """Bytes the run needs at once (see the module docstring): ``{"weights", "batch",
    "buffer"}`` (``buffer``: the full memory buffer, reached only after many games)."""
    obs = tuple(int(d) for d in game.observation_shape)
    num_actions = int(game.num_actions)
    num_params, per_sample = network_footprint(obs, num_actions, params.network)
    sample = 4 * (math.prod(obs) + 2 * num_actions + 4) + num_actions  # float32s + bool mask
    lp = params.learning
    batch = max(
        lp.batch_size * (sample + 3 * 4 * per_sample),
        lp.loss_computation_batch_size * (sample + 4 * per_sample),
    )
    # The buffer's samples, then the learning set's merged rows beside them (symmetric
    # images are made per batch): unpacked sizes, an upper bound of the packed ones.
    buffer = max(params.mem_buffer_size.ys) * sample * 2
    return {"weights": 6 * 4 * num_params, "batch": batch, "buffer": buffer}


def check_memory(game: Any, params: Any, device: Any = "cpu") -> None:
    """Refuse parameters whose network and learning batch cannot fit in memory.

    Raises:
        ParamsError: the message gives the estimate, what is available, and the settings
            to reduce.
    """
    import torch

    from az_gym.training.params import ParamsError

    need = estimate_training_bytes(game, params)
    have = available_memory_bytes()
    where = "memory"
    if torch.device(device).type == "cuda":
        have, where = int(torch.cuda.mem_get_info(torch.device(device))[0]), "GPU memory"
    if have is None:
        return
    now = need["weights"] + need["batch"]
    if now > have:
        raise ParamsError(
            f"these parameters need about {now / GIB:.1f} GiB (network.* "
            f"{need['weights'] / GIB:.1f} GiB with its gradients and optimiser state, a "
            f"learning batch {need['batch'] / GIB:.1f} GiB) but only {have / GIB:.1f} GiB of "
            f"{where} is available; reduce network.hidden / network.num_filters / "
            "network.num_blocks or learning.batch_size / learning.loss_computation_batch_size"
        )
    if now + need["buffer"] > have:
        warnings.warn(
            f"the full memory buffer (mem_buffer_size) would need about "
            f"{need['buffer'] / GIB:.1f} GiB, more than the {have / GIB:.1f} GiB available; "
            "the run may run out of memory once it fills",
            RuntimeWarning,
            stacklevel=3,
        )


def check_processes(params: Any) -> None:
    """Refuse ``self_play.sim.num_processes`` / ``arena.sim.num_processes`` above
    :data:`MAX_PROCESSES_PER_CORE` times the cores this process may use.

    Raises:
        ParamsError: names the setting, the value and the bound.
    """
    from az_gym.training.params import ParamsError

    cores, bound = available_cores(), max_processes()
    sims = [("self_play.sim", params.self_play.sim)]
    if params.arena is not None:
        sims.append(("arena.sim", params.arena.sim))
    for where, sim in sims:
        if sim.num_processes is not None and sim.num_processes > bound:
            raise ParamsError(
                f"{where}.num_processes={sim.num_processes} is more than {bound} worker "
                f"processes ({MAX_PROCESSES_PER_CORE} per core, {cores} cores here); set it "
                "lower, or leave it out (one per core)"
            )


def check_backend_installed(params: Any) -> None:
    """Refuse ``backend = "ray"`` (self-play or arena) where Ray is not installed: called
    as a run starts or resumes, before anything is written or printed (the run once began
    its first iteration, then failed in it).

    Raises:
        ImportError: says how to install Ray.
    """
    import importlib.util

    sims = [params.self_play.sim] + ([params.arena.sim] if params.arena is not None else [])
    if any(sim.backend == "ray" for sim in sims) and importlib.util.find_spec("ray") is None:
        from az_gym.training.ray_connect import import_ray

        import_ray()  # raises the ImportError that says how to install it
