"""The AlphaZero checkpoint file: its format tag, its builder and its one safe loader.

One ``torch.save`` zip archive holding a dict of tensors and plain Python values::

    format             "az_gym.alphazero/1"
    weights            {name: tensor} of the PolicyValueNet (on the CPU)
    network_config     NetworkConfig.to_dict()
    game_id            the game's id ("othello(size=6)")
    observation_shape  [H, W, C] (or any shape), num_actions: int
    mcts               MctsParams.to_dict()
    iteration          (trainer checkpoints only) the iteration that wrote it

:meth:`AlphaZeroAgent.save <az_gym.agents.alphazero.AlphaZeroAgent.save>` and the trainer's
``current.pt``/``best.pt`` are this format, so ``AlphaZeroAgent.load("runs/x/best.pt")``
works. Every load (agent files, run directories, ``az-gym evaluate``) goes through
:func:`safe_torch_load`: the file must be a zip archive whose members fit in the file and
pass their CRC-32, and ``torch.load(weights_only=True)`` refuses any pickle that would run
code. :func:`network_from_checkpoint` then checks the weights against the network the file
describes, built on the meta device, and each tensor against the bytes the file really
holds for it (a zero-stride tensor, ``torch.zeros(1).expand(20000, 20000)``, is a few bytes in
the file and gigabytes once copied into a network), and bounds the network by the memory
available (:mod:`az_gym.memory_budget`), before allocating it: a crafted file cannot make a
load allocate gigabytes. Every field is type-checked, so a crafted value is a
:class:`CheckpointError` naming the file, never a ``TypeError`` from deep inside. This
module sits below ``agents/`` and ``training/`` (both use it); torch is imported lazily so
that importing it (the run directory's readers do) stays light.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from az_gym.mcts_params import MctsParams
    from az_gym.networks import PolicyValueNet

CHECKPOINT_FORMAT = "az_gym.alphazero/1"
"""Tag stored in every AlphaZero checkpoint."""

FIELDS = frozenset(
    {"format", "weights", "network_config", "game_id", "observation_shape", "num_actions", "mcts"}
)
"""The keys every checkpoint holds (trainer checkpoints add ``iteration``)."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be read: missing, truncated, corrupt or unsafe."""


def make_checkpoint(
    net: PolicyValueNet, game_id: str, mcts: MctsParams, **extra: Any
) -> dict[str, Any]:
    """The checkpoint dict of ``net`` for game ``game_id`` and search ``mcts`` (weights
    copied to the CPU); ``extra`` adds keys (the trainer's ``iteration``)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "weights": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "network_config": net.config.to_dict(),
        "game_id": game_id,
        "observation_shape": list(net.observation_shape),
        "num_actions": int(net.num_actions),
        "mcts": mcts.to_dict(),
        **extra,
    }


def safe_torch_load(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a dict written by ``torch.save``, never executing code from the file.

    Raises:
        CheckpointError: the file is missing, empty, truncated, corrupt (archive or CRC-32),
            holds a pickle that needs arbitrary code (refused by ``weights_only=True``), or
            is not a dict. The message names the file and the reason.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes)")
    _check_archive(path)
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"checkpoint {path} is not a safe az_gym checkpoint: refused as unsafe or corrupt "
            f"(weights_only load): {first}"
        ) from None
    except (
        RuntimeError,
        EOFError,
        ValueError,
        OSError,
        KeyError,
        AttributeError,
        IndexError,
        TypeError,
        UnicodeDecodeError,
    ) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated: {msg}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(obj).__name__}, not a dict")
    return obj


def _check_archive(path: Path) -> None:
    """Refuse what ``torch.save`` never writes before ``torch.load`` reads it: a file that is
    not a zip archive (the legacy format takes storage sizes from the file and allocates
    them; a bare pickle could hold code), members larger than the file, or a member whose
    CRC-32 does not match (flipped bytes in the weights, which would otherwise load as other
    numbers)."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if sum(i.file_size for i in infos) > path.stat().st_size:
                raise CheckpointError(f"checkpoint {path} is corrupt: its members exceed the file")
            bad = zf.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(
            f"checkpoint {path} is not a readable torch.save archive (corrupt or truncated, "
            f"or not a safe az_gym checkpoint): {e}"
        ) from None
    except Exception as e:  # zlib or struct errors from a damaged archive
        raise CheckpointError(f"checkpoint {path} is corrupt: {type(e).__name__}: {e}") from None
    if bad is not None:
        raise CheckpointError(f"checkpoint {path} is corrupt: bad CRC-32 in {bad}")


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """:func:`safe_torch_load` an AlphaZero checkpoint and check its tag and fields.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: unsafe, corrupt or truncated, or not an az_gym AlphaZero checkpoint.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}")
    ckpt = safe_torch_load(path)
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{str(path)!r} is not an az_gym AlphaZero checkpoint ({CHECKPOINT_FORMAT})"
        )
    missing = FIELDS - set(ckpt)
    if missing:
        raise CheckpointError(f"checkpoint {str(path)!r} lacks the fields {sorted(missing)}")
    _check_field_types(ckpt, path)
    return ckpt


def _is_count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 1


def _check_field_types(ckpt: dict[str, Any], path: Path) -> None:
    """Refuse fields of the wrong type (a crafted ``observation_shape=5``, ``weights=[1, 2]``,
    ``num_actions="9"``) with one message naming the file and the field."""
    import torch

    shape, weights = ckpt["observation_shape"], ckpt["weights"]
    checks = [
        ("observation_shape", isinstance(shape, (list, tuple)) and len(shape) >= 1
         and all(_is_count(d) for d in shape), "a list of integers >= 1"),
        ("num_actions", _is_count(ckpt["num_actions"]), "an integer >= 1"),
        ("game_id", isinstance(ckpt["game_id"], str), "a string"),
        ("network_config", isinstance(ckpt["network_config"], dict), "a dict"),
        ("mcts", isinstance(ckpt["mcts"], dict), "a dict"),
        ("weights", isinstance(weights, dict) and all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()
        ), "a dict of tensors"),
    ]  # fmt: skip
    for name, ok, rule in checks:
        if not ok:
            value = repr(ckpt[name]) if name != "weights" else type(weights).__name__
            raise CheckpointError(
                f"checkpoint {str(path)!r}: {name} = {value[:80]}; must be {rule} "
                "(a damaged or crafted file)"
            )


def check_tensor_bytes(weights: dict[str, Any], where: str | Path) -> None:
    """Refuse tensors that claim more elements than the file holds for them.

    ``torch.save`` writes parameters contiguous, each over its own bytes. A crafted tensor
    with zero strides (``torch.zeros(1).expand(20000, 20000)``) or a storage smaller than its
    shape is a few bytes in the file but gigabytes once copied into a network.

    Raises:
        CheckpointError: a tensor is not contiguous or its storage is smaller than
            ``numel * element_size``; ``where`` names the file.
    """
    for name, t in weights.items():
        need = t.numel() * t.element_size()
        have = t.untyped_storage().nbytes() - t.storage_offset() * t.element_size()
        if not t.is_contiguous() or have < need:
            raise CheckpointError(
                f"checkpoint {str(where)!r}: tensor {name!r} of shape {list(t.shape)} is "
                f"backed by {max(have, 0)} bytes, not {need} (a damaged or crafted file)"
            )


def network_from_checkpoint(ckpt: dict[str, Any], where: str | Path) -> PolicyValueNet:
    """The :class:`PolicyValueNet` a checkpoint describes, with its weights (CPU).

    The stored weights are compared with the shapes of the described network, built on the
    meta device (no memory), and with the bytes the file holds for them
    (:func:`check_tensor_bytes`), and the network must fit in the available memory, before
    the real one is allocated.

    Raises:
        CheckpointError: a bad ``network_config`` or shape, or weights that are not those of
            the network the file describes (a damaged or crafted file); ``where`` names it.
    """
    import torch

    from az_gym.memory_budget import check_fits
    from az_gym.networks import NetworkConfig, PolicyValueNet

    shape, num_actions = ckpt["observation_shape"], ckpt["num_actions"]
    try:
        config = NetworkConfig.from_dict(ckpt["network_config"])
        with torch.device("meta"):
            probe = PolicyValueNet(tuple(shape), int(num_actions), config)
    except (TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {str(where)!r}: bad network_config: {e}") from None
    weights = ckpt["weights"]
    want = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    have = {k: tuple(getattr(v, "shape", ())) for k, v in dict(weights).items()}
    if want != have:
        raise CheckpointError(
            f"checkpoint {str(where)!r}: its weights do not have the shapes of the network "
            "it describes (a damaged or crafted file)"
        )
    check_tensor_bytes(weights, where)
    try:
        check_fits(4 * sum(p.numel() for p in probe.parameters()), "its network")
    except ValueError as e:
        raise CheckpointError(f"checkpoint {str(where)!r}: {e}") from None
    net = PolicyValueNet(tuple(shape), int(num_actions), config)
    try:
        net.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(
            f"checkpoint {str(where)!r}: weights do not fit the network: {e}"
        ) from None
    return net
