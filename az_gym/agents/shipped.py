"""The AlphaZero agents shipped inside the package (``az_gym/pretrained/<game>.pt``).

::

    import az_gym
    agent = az_gym.pretrained("connect_four")          # 400 simulations per move
    agent = az_gym.pretrained("othello", simulations=50)  # the 6x6 board it was trained on

One file per native game, each an :meth:`AlphaZeroAgent.save` checkpoint (tensors and plain
values only, read with ``weights_only=True``) that records the game id it was trained on,
search parameters included. Their measured strength is in the README's Results table.
A shipped agent also plays the ``pettingzoo.classic`` envs declared identical to its game
(:data:`~az_gym.envs.registry.CLASSIC_EQUIVALENTS`): ``agent.act(connect_four_v3.env())``
on a reset env. Listing and finding the files does not import torch.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from az_gym.agents.alphazero import AlphaZeroAgent


def _directory() -> Path:
    return Path(str(resources.files("az_gym") / "pretrained"))


def available_pretrained() -> list[str]:
    """The names of the games a shipped agent exists for, sorted (``["connect_four", ...]``)."""
    return sorted(p.stem for p in _directory().glob("*.pt"))


def pretrained_path(name: str) -> Path:
    """The file of the agent shipped for game ``name``.

    Raises:
        ValueError: no agent ships for ``name`` (the message lists those that do).
    """
    path = _directory() / f"{name}.pt"
    if not isinstance(name, str) or "/" in name or not path.is_file():
        raise ValueError(
            f"no pre-trained agent ships for {name!r}; available: {available_pretrained()}"
        )
    return path


def pretrained(
    name: str,
    *,
    simulations: int | None = None,
    env_or_game: Any = None,
    seed: int | None = None,
    temperature: float | str | None = None,
    use_gpu: bool = False,
    leaves_per_call: int | None = None,
    inference: str = "auto",
    **game_options: Any,
) -> AlphaZeroAgent:
    """Load the agent shipped for game ``name``.

    Args:
        name: a native game name, one of :func:`available_pretrained`.
        simulations: MCTS simulations per move (default: the number stored with the agent,
            the one its README figure was measured with).
        env_or_game: the game or env to play (default: the game the agent was trained on,
            rebuilt from its stored id, e.g. ``othello(size=6)``). A declared-equivalent
            ``pettingzoo.classic`` env is accepted.
        seed: seeds move sampling (the agent plays greedily by default, so this only
            matters with a temperature).
        temperature: move temperature as in :class:`AlphaZeroAgent` (``None``: the most
            visited move; a number; ``"schedule"``).
        use_gpu: run the network on CUDA when available.
        leaves_per_call: leaves gathered per network call under virtual loss (default
            :func:`~az_gym.mcts_params.play_leaves_per_call` of the stored search: 8 for
            PUCT, 1 for Gumbel; ``1``: the sequential search, as stored with the agent).
        inference: the network's engine, as in :class:`AlphaZeroAgent` (``"auto"``).
        **game_options: options of the game (``size=6``); they must be those the agent was
            trained with (the error says which those are), so they only check.

    Raises:
        ValueError: no agent ships for ``name``, the options or the env are for another
            game, or ``simulations`` is not an integer ``>= 1``.
    """
    from az_gym.agents.alphazero import AlphaZeroAgent  # torch: only here
    from az_gym.checkpoint_format import read_checkpoint
    from az_gym.mcts_params import MctsParams

    path = pretrained_path(name)
    if leaves_per_call is None:
        leaves_per_call = "play"  # the stored search's number (play_leaves_per_call)
    else:
        MctsParams(leaves_per_call=leaves_per_call)  # checked here: a load error names the game
    if game_options:
        if env_or_game is not None:
            raise ValueError("pass either env_or_game or game options, not both")
        from az_gym.envs.registry import make_game

        try:
            env_or_game = make_game(name, **game_options)
        except ValueError as e:  # most often a mistyped keyword of pretrained() itself
            raise ValueError(
                f"{e}; pretrained() itself takes simulations=, env_or_game=, seed=, "
                "temperature=, use_gpu=, leaves_per_call=, inference= and the game's options"
            ) from None
    try:
        agent = AlphaZeroAgent.load(
            path, env_or_game, seed=seed, temperature=temperature, use_gpu=use_gpu,
            leaves_per_call=leaves_per_call,
            inference=inference,
        )  # fmt: skip
    except ValueError as e:
        trained = read_checkpoint(path)["game_id"]
        raise ValueError(f"the shipped {name} agent plays {trained!r} only: {e}") from None
    return agent if simulations is None else agent.with_simulations(simulations)
