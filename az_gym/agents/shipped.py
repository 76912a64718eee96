"""The AlphaZero agents shipped inside the package (``az_gym/pretrained/<game>.pt``).

::

    import az_gym
    agent = az_gym.pretrained("connect_four")          # 800 simulations per move, averaged
    agent = az_gym.pretrained("othello")               # the full 8x8 board
    agent = az_gym.pretrained("othello", size=6)       # the agent trained on 6x6

One main file per native game, for the game's default options, and optionally more for
other options, named after them: ``othello@size=6.pt`` plays ``othello(size=6)``. Each is
an :meth:`AlphaZeroAgent.save` checkpoint (tensors and plain values only, read with
``weights_only=True``) that records the game id it was trained on, search parameters
included; :func:`pretrained_path` picks the file made for the game's options when there is
one, else the main file (whose loader then names the options it plays). Their measured
strength is in the README's Results table. A shipped agent also plays the
``pettingzoo.classic`` envs declared identical to its game
(:data:`~az_gym.envs.registry.CLASSIC_EQUIVALENTS`): ``agent.act(connect_four_v3.env())``
on a reset env. Listing and finding the files does not import torch.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from az_gym._suggest import did_you_mean

if TYPE_CHECKING:
    from az_gym.agents.alphazero import AlphaZeroAgent


def _directory() -> Path:
    return Path(str(resources.files("az_gym") / "pretrained"))


def available_pretrained() -> list[str]:
    """The names of the games a shipped agent exists for, sorted (``["connect_four", ...]``)."""
    return sorted({p.stem.partition("@")[0] for p in _directory().glob("*.pt")})


def shipped_variants() -> list[str]:
    """Every shipped file's stem, sorted: ``"othello"`` (default options) and those made
    for other options, ``"othello@size=6"``."""
    return sorted(p.stem for p in _directory().glob("*.pt"))


def _variant(game_id: str) -> str | None:
    """The file stem for a game id with options: ``othello(size=6)`` -> ``othello@size=6``."""
    name, sep, rest = game_id.partition("(")
    if not sep or not rest.endswith(")") or "/" in rest:
        return None
    return f"{name}@{rest[:-1].replace(' ', '')}"


def pretrained_path_for(game: Any) -> Path:
    """The shipped file for ``game`` (a :class:`~az_gym.game.Game`), found by its canonical
    id: ``othello(size=6)`` takes the 6x6 file, pettingzoo's ``connect_four_v3`` the Connect
    Four one. Raises ``ValueError`` as :func:`pretrained_path`."""
    from az_gym.envs.registry import canonical_game_id

    game_id = canonical_game_id(game)
    return pretrained_path(game_id.partition("(")[0], game_id)


def pretrained_path(name: str, game_id: str | None = None) -> Path:
    """The file of the agent shipped for game ``name``.

    Args:
        name: the native game's name.
        game_id: the canonical id of the game it is to play (``othello(size=6)``); the file
            made for exactly those options is taken when one ships, else the main one.

    Raises:
        ValueError: no agent ships for ``name`` (the message lists those that do).
    """
    ok = isinstance(name, str) and "/" not in name and "@" not in name
    variant = _variant(game_id) if ok and isinstance(game_id, str) else None
    if variant is not None and variant.partition("@")[0] == name:
        path = _directory() / f"{variant}.pt"
        if path.is_file():
            return path
    path = _directory() / f"{name}.pt" if ok else None
    if path is None or not path.is_file():
        close = did_you_mean(name, available_pretrained())
        raise ValueError(
            f"no pre-trained agent ships for {name!r}"
            + (f" (did you mean {close!r}?)" if close else "")
            + f"; available: {available_pretrained()}"
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
    symmetry_averaging: bool | None = None,
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
            :data:`~az_gym.mcts_params.PLAY_LEAVES_PER_CALL`; ``1``: the sequential
            search, as stored with the agent).
        symmetry_averaging: average the network over the game's symmetries at every leaf
            (:attr:`~az_gym.mcts_params.MctsParams.symmetry_averaging`; ``None``: as stored
            with the agent).
        inference: the network's engine, as in :class:`AlphaZeroAgent` (``"auto"``).
        **game_options: options of the game (``size=6``); they must be those the agent was
            trained with (the error says which those are), so they only check.

    Raises:
        ValueError: no agent ships for ``name``, the options or the env are for another
            game, or ``simulations`` is not an integer ``>= 1``.
    """
    from az_gym.agents.alphazero import AlphaZeroAgent  # torch: only here
    from az_gym.checkpoint_format import read_checkpoint
    from az_gym.mcts_params import PLAY_LEAVES_PER_CALL, MctsParams

    pretrained_path(name)  # an unknown name is refused before anything else
    if leaves_per_call is None:
        leaves_per_call = PLAY_LEAVES_PER_CALL
    MctsParams(leaves_per_call=leaves_per_call)  # checked here: a load error names the game
    if symmetry_averaging is not None and not isinstance(symmetry_averaging, bool):
        raise ValueError(
            f"symmetry_averaging = {symmetry_averaging!r}; must be True, False or None"
        )
    if game_options:
        if env_or_game is not None:
            raise ValueError("pass either env_or_game or game options, not both")
        from az_gym.envs.registry import make_game

        try:
            env_or_game = make_game(name, **game_options)
        except ValueError as e:  # most often a mistyped keyword of pretrained() itself
            raise ValueError(
                f"{e}; pretrained() itself takes simulations=, env_or_game=, seed=, "
                "temperature=, use_gpu=, leaves_per_call=, symmetry_averaging=, inference= "
                "and the game's options"
            ) from None
    if simulations is not None:  # before the file is read, named as the caller wrote it
        from az_gym.agents.alphazero import check_simulations

        check_simulations(simulations)
    if symmetry_averaging and env_or_game is not None:  # not worded as a game mismatch below
        from az_gym.agents.alphazero import check_symmetric
        from az_gym.envs.registry import as_game

        check_symmetric(as_game(env_or_game))
    path = pretrained_path(name, _game_id(env_or_game))
    if env_or_game is not None:  # another game is refused naming what the files play
        from az_gym.envs.registry import as_game, same_game

        game = as_game(env_or_game)
        if not same_game(read_checkpoint(path)["game_id"], game):
            files = [
                _directory() / f"{v}.pt" for v in shipped_variants() if v.partition("@")[0] == name
            ]
            trained = " or ".join(sorted(repr(read_checkpoint(p)["game_id"]) for p in files))
            plays = "agents play" if len(files) > 1 else "agent plays"
            raise ValueError(
                f"the shipped {name} {plays} {trained} only, not {game.game_id[:80]!r}"
            )
    agent = AlphaZeroAgent.load(
        path, env_or_game, seed=seed, temperature=temperature, use_gpu=use_gpu,
        leaves_per_call=leaves_per_call, symmetry_averaging=symmetry_averaging,
        inference=inference,
    )  # fmt: skip
    return agent if simulations is None else agent.with_simulations(simulations)


def _game_id(env_or_game: Any) -> str | None:
    """The canonical id of the game to play, ``None`` for the default one (or for anything
    that is not a game, which the loader then refuses with its own message)."""
    if env_or_game is None:
        return None
    from az_gym.envs.registry import as_game, canonical_game_id

    try:
        return canonical_game_id(as_game(env_or_game))
    except (TypeError, ValueError):
        return None
