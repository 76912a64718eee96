"""What memory a network needs and what the machine can still give, known before allocating.

The low half of :mod:`az_gym.training.resources` (which adds the training estimate): the
checkpoint loaders (:mod:`az_gym.checkpoint_format`, the DQN agent) sit below ``training/``
and bound the network a file describes with the same two measures, so a crafted file cannot
make a load allocate more than the machine has. The network is counted on PyTorch's
``meta`` device (shapes without storage): microseconds whatever its size.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

GIB = 1024**3


def available_memory_bytes() -> int | None:
    """The memory this machine can still give (``None`` when it cannot tell)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - e.g. Windows
        return None


def network_footprint(
    observation_shape: Sequence[int], num_actions: int, config: Any
) -> tuple[int, int]:
    """``(parameters, activations per sample)`` of a ``PolicyValueNet``, counted on the
    ``meta`` device (nothing allocated).

    Raises:
        ValueError: the shapes are not positive integers, or the config does not build.
    """
    import torch

    from az_gym.networks import PolicyValueNet

    shape = tuple(observation_shape)
    if not shape or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in (*shape, num_actions)
    ):
        raise ValueError(
            f"observation shape {list(shape)} and {num_actions!r} actions must be integers >= 1"
        )
    activations = 0

    def count(_module: Any, _inputs: Any, output: Any) -> None:
        nonlocal activations
        outs = output if isinstance(output, (tuple, list)) else (output,)
        activations += sum(o.numel() for o in outs if isinstance(o, torch.Tensor))

    with torch.device("meta"):
        try:
            net = PolicyValueNet(shape, int(num_actions), config)
        except (TypeError, RuntimeError) as e:
            raise ValueError(f"network {config}: {e}") from None
        net.eval()  # batch norm in train mode refuses one sample; the shapes are the same
        hooks = [m.register_forward_hook(count) for m in net.modules() if m is not net]
        try:
            net(torch.zeros((1, *shape)), torch.ones((1, num_actions), dtype=torch.bool))
        finally:
            for h in hooks:
                h.remove()
    return sum(p.numel() for p in net.parameters()), activations


def check_fits(num_bytes: int, what: str) -> None:
    """Refuse to allocate ``num_bytes`` for ``what`` when the machine reports less available.

    Raises:
        ValueError: the message names ``what``, the size and what is available.
    """
    have = available_memory_bytes()
    if have is not None and num_bytes > have:
        raise ValueError(
            f"{what} needs about {num_bytes / GIB:.1f} GiB but only {have / GIB:.1f} GiB of "
            "memory is available"
        )
