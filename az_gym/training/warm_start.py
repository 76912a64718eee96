"""Starting a run from a trained network (fine-tuning): ``Trainer(..., init_from=...)``,
``az-gym train GAME --init-from AGENT``.

A new run normally starts from a randomly initialised network. With ``init_from`` its first
current and best networks are the weights of an AlphaZero checkpoint instead: an agent file
(:meth:`AlphaZeroAgent.save <az_gym.agents.alphazero.AlphaZeroAgent.save>`, a shipped
``pretrained`` file) or a run directory's best network. Only the weights carry over: the
memory buffer starts empty, the optimiser fresh, the parameters are the new run's. So a
shipped agent can be trained further with other settings without repeating the hours that
made it, and an interrupted run can be continued under a new learning-rate schedule from
iteration 1.

The checkpoint is read with the one safe loader (:func:`~az_gym.checkpoint_format.read_checkpoint`,
``weights_only``) and must be for the same game and hold exactly the run's network
(``params.network``): a different architecture is refused, naming both, rather than
silently half-loaded. The run keeps its own copy as ``init.pt`` and ``state.json`` records
where it came from (``init_from``: the path and the file's SHA-256), so that a run
interrupted before its first commit resumes from the same weights, and the run directory
says how it began; the path recorded there is never read again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from az_gym.game import Game
from az_gym.training.run_state import RunDirError

INIT_FILE = "init.pt"
"""The run directory's copy of the network a fine-tuning run started from."""


def _toml(value: Any) -> str:
    """``value`` as ``--set`` takes it (a TOML literal: ``true``, ``"mlp"``, ``[64, 64]``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


def read_initial_network(
    source: str | Path, game: Game, network: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """The weights a new run of ``game`` with network ``network`` (a
    :class:`~az_gym.networks.NetworkConfig`) starts from, and the record of where they came
    from (``{"path": ..., "sha256": ...}``, for ``state.json``).

    Args:
        source: an AlphaZero checkpoint file, a run directory (its ``best.pt``), or
            ``"pretrained"``: the agent file shipped for ``game`` (``az_gym.pretrained``).

    Raises:
        RunDirError: no such file, not a safe az_gym checkpoint, another game, or another
            network than ``network`` (one line naming the file and what differs).
    """
    from az_gym._suggest import did_you_mean
    from az_gym.checkpoint_format import CheckpointError, network_from_checkpoint, read_checkpoint
    from az_gym.envs.registry import same_game

    path = Path(source)
    if str(source) == "pretrained" and not path.exists():
        from az_gym.agents.shipped import available_pretrained, pretrained_path_for

        try:
            path = pretrained_path_for(game)
        except ValueError:
            raise RunDirError(
                f"init_from='pretrained': no pre-trained agent ships for {game.game_id} "
                f"(games with one: {', '.join(available_pretrained())})"
            ) from None
    if path.is_dir():
        path = path / "best.pt"
    try:
        ckpt = read_checkpoint(path)
        net = network_from_checkpoint(ckpt, path)
    except FileNotFoundError as e:
        close = did_you_mean(str(source), ["pretrained"])
        raise RunDirError(
            f"init_from: {e}"
            + (f" (did you mean {close!r}?)" if close and not path.parent.name else "")
            + "; it takes a checkpoint file, a run directory, or pretrained"
        ) from None
    except CheckpointError as e:
        raise RunDirError(f"init_from: {e}") from None
    if not same_game(ckpt["game_id"], game):
        raise RunDirError(
            f"init_from: {str(path)!r} was made for game {ckpt['game_id'][:80]!r}, "
            f"not for {game.game_id!r}"
        )
    want, have = network.to_dict(), ckpt["network_config"]
    if have != want:
        from az_gym.networks import network_differences

        field = next(k for k in sorted(set(have) | set(want)) if have.get(k) != want.get(k))
        raise RunDirError(
            f"init_from: {str(path)!r} holds another network than the run's parameters "
            f"({network_differences(have, want, ('file', 'run'))}); start from a network of "
            f"the run's architecture, or set the run's network to the file's (e.g. --set "
            f"network.{field}={_toml(have.get(field))})"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return net.state_dict(), {"path": str(path.resolve()), "sha256": digest}


def committed_initial_weights(run_dir: Path, validate: Any) -> dict[str, Any]:
    """The weights of a run's ``init.pt`` (a run started with ``init_from`` and resumed
    before its first commit), checked by ``validate`` (the resume's checkpoint loader).

    Raises:
        RunDirError: the file is missing or fails the check.
    """
    path = run_dir / INIT_FILE
    try:
        return validate(path)["weights"]
    except (OSError, ValueError) as e:
        raise RunDirError(
            f"{path}: the network this run started from is unusable ({e}); start the run "
            "again with --init-from"
        ) from None
