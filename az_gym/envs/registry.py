"""Names of the native games, env constructors, and registration with Gymnasium / PettingZoo.

* :func:`make_game` builds the rules (a :class:`~az_gym.game.Game`), :func:`make` the
  PettingZoo AEC env (:class:`~az_gym.envs.aec.AzGymEnv`).
* :func:`register_all` (run by ``import az_gym``) registers

  - the Gymnasium single-agent views (:class:`~az_gym.envs.gym_view.GymView`) as
    ``"az_gym/TicTacToe-v0"``, ``"az_gym/ConnectFour-v0"``, ``"az_gym/Othello-v0"``,
    ``"az_gym/Gomoku-v0"``: ``gymnasium.make("az_gym/Othello-v0", size=6, agent_color=1)``;
  - the AEC envs in PettingZoo's own registry (PettingZoo >= 1.27 has one, modelled on
    Gymnasium's: ``pettingzoo.register`` / ``pettingzoo.make``) as ``"az_gym/tictactoe-v0"``,
    ``"az_gym/connect_four-v0"``, ``"az_gym/othello-v0"``, ``"az_gym/gomoku-v0"``:
    ``pettingzoo.make("aec", "az_gym/connect_four-v0", render_mode="ansi")``.

  Both use string entry points, so nothing is imported until an env is made, and
  registering twice is a no-op.
* :func:`as_game` is the one resolver of what a user calls "the game" (a name with
  options, a :class:`~az_gym.game.Game`, an env of any kind, a ``(game, state)`` pair or a
  factory): ``AlphaZeroAgent``, ``az_gym.evaluate``, ``Trainer`` and the CLI all use it.
* :func:`game_and_state` turns whatever env an agent is handed into ``(game, state)``;
  :func:`game_of` into the rules alone (no ``reset()`` needed).
* :data:`CLASSIC_EQUIVALENTS` declares the ``pettingzoo.classic`` envs that are exactly a
  native game, so agents trained on the native game play them
  (:func:`canonical_game_id`).

Game modules are imported lazily: a missing module only breaks the name that needs it.
"""

from __future__ import annotations

import importlib
import inspect
import weakref
from typing import TYPE_CHECKING, Any

from az_gym._suggest import did_you_mean
from az_gym.game import Game, State

if TYPE_CHECKING:
    from az_gym.envs.adapter import PettingZooGame
    from az_gym.envs.aec import AzGymEnv
    from az_gym.envs.gym_adapter import GymnasiumGame

_GAMES: dict[str, tuple[str, str, str]] = {
    # name: (module, class, CamelCase name of the Gymnasium id)
    "connect_four": ("az_gym.envs.connect_four", "ConnectFour", "ConnectFour"),
    "gomoku": ("az_gym.envs.gomoku", "Gomoku", "Gomoku"),
    "othello": ("az_gym.envs.othello", "Othello", "Othello"),
    "tictactoe": ("az_gym.envs.tictactoe", "TicTacToe", "TicTacToe"),
}

GYM_NAMESPACE = "az_gym"


def available_games() -> list[str]:
    """Return the registry names of the native games, sorted."""
    return sorted(_GAMES)


def gym_id(name: str) -> str:
    """Return the Gymnasium id of ``name`` (``"connect_four"`` -> ``"az_gym/ConnectFour-v0"``)."""
    return f"{GYM_NAMESPACE}/{_entry(name)[2]}-v0"


def pettingzoo_id(name: str) -> str:
    """Return the PettingZoo registry id of game ``name`` (``"az_gym/connect_four-v0"``)."""
    _entry(name)
    return f"{GYM_NAMESPACE}/{name}-v0"


def make_game(name: str, **kwargs: Any) -> Game:
    """Return the rules of game ``name``; ``kwargs`` go to its constructor (``size=6``).

    Raises:
        ValueError: unknown name (the message lists the known ones), an option the game
            does not take (naming the ones it takes) or a bad option value.
    """
    module, cls_name, _ = _entry(name)
    cls = getattr(importlib.import_module(module), cls_name)
    known = list(inspect.signature(cls).parameters)
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        close = did_you_mean(unknown[0], known) if len(unknown) == 1 else None
        raise ValueError(
            f"{name} takes no option {', '.join(unknown)} "
            + (f"(did you mean {close!r}? " if close else "(")
            + f"its options: {', '.join(known) if known else 'none'})"
        )
    try:
        return cls(**kwargs)
    except TypeError as e:  # a value of the wrong kind
        raise ValueError(f"{name}: bad option value ({e})") from None


def as_game(env_or_game: Any, **options: Any) -> Game:
    """The :class:`Game` (the rules) behind what a user calls "the game".

    Accepts, everywhere a game is asked for:

    * a registry name (``"othello"``) with its ``options`` (``size=6``);
    * a :class:`Game`;
    * a ``(game, state)`` pair (its game);
    * an env instance, reset or not: an az_gym AEC env or Gymnasium view (possibly
      wrapped), a foreign PettingZoo AEC env with action masks, or a single-player
      ``gymnasium.Env`` with a ``Discrete`` action space (see :func:`game_of`);
    * a zero-argument factory of a Game or of such an env (a function, class or
      ``functools.partial``, e.g. ``pettingzoo.classic.tictactoe_v3.env``), or
      ``(env_fn, kwargs)``: an env it makes goes to the adapter *as the factory*, so the
      adapter can make fresh envs (and the factory can travel to worker processes).

    Raises:
        ValueError: an unknown name, options it does not take (naming them and the ones it
            takes), or options with anything but a name.
        TypeError: anything else.
    """
    if options and not isinstance(env_or_game, str):
        raise ValueError("game options are only used with a registry name")
    if isinstance(env_or_game, str):
        return make_game(env_or_game, **options)
    if isinstance(env_or_game, Game):
        return env_or_game
    if isinstance(env_or_game, tuple) and len(env_or_game) == 2:
        first, second = env_or_game
        if isinstance(first, Game):
            return first
        if callable(first) and isinstance(second, dict):
            import functools

            return as_game(functools.partial(first, **second))
    if callable(env_or_game) and not hasattr(env_or_game, "agent_selection"):
        return _from_factory(env_or_game)
    return game_of(env_or_game)


def _from_factory(factory: Any) -> Game:
    made = factory()
    if isinstance(made, Game):
        return made
    import gymnasium

    if isinstance(made, gymnasium.Env):
        from az_gym.envs.gym_adapter import GymnasiumGame

        return GymnasiumGame(factory)
    from az_gym.envs.adapter import PettingZooGame

    return PettingZooGame(factory)


def make(name: str, render_mode: str | None = None, **kwargs: Any) -> AzGymEnv:
    """Return the PettingZoo AEC env of game ``name`` (``kwargs`` go to the game).

    Args:
        name: one of :func:`available_games`.
        render_mode: ``None``, ``"ansi"`` or ``"human"``.
    """
    from az_gym.envs.aec import AzGymEnv

    return AzGymEnv(make_game(name, **kwargs), render_mode=render_mode)


def register_all() -> None:
    """Register every native game with Gymnasium and PettingZoo (idempotent)."""
    import gymnasium

    for name in _GAMES:
        gid = gym_id(name)
        if gid not in gymnasium.registry:
            gymnasium.register(
                id=gid, entry_point="az_gym.envs.gym_view:GymView", kwargs={"game": name}
            )
    import pettingzoo

    if not hasattr(pettingzoo, "register"):  # pragma: no cover - PettingZoo < 1.27
        return
    for name in _GAMES:
        pid = pettingzoo_id(name)
        if pid not in pettingzoo.aec_registry:
            pettingzoo.register(
                "aec", pid, entry_point="az_gym.envs.registry:make", kwargs={"name": name}
            )


# ------------------------------------------------------------- env -> (game, state)
_ADAPTERS: weakref.WeakKeyDictionary[Any, PettingZooGame | GymnasiumGame] = (
    weakref.WeakKeyDictionary()
)


def game_of(env: Any) -> Game:
    """Return the :class:`Game` (the rules) behind ``env``, which need not be reset yet.

    Accepts what :func:`game_and_state` accepts. An agent needs only the rules to be built,
    so ``AlphaZeroAgent(az_gym.make("connect_four"))`` works before ``reset()``.

    Raises:
        TypeError: not an env nor a ``(game, state)`` tuple.
    """
    if isinstance(env, tuple) and len(env) == 2 and isinstance(env[0], Game):
        return env[0]
    from az_gym.envs.aec import AzGymEnv
    from az_gym.envs.gym_view import GymView

    inner = getattr(env, "unwrapped", None)
    if isinstance(inner, (AzGymEnv, GymView)):
        return inner.game
    return _foreign_game(env)


def game_and_state(env: Any) -> tuple[Game, State]:
    """Return ``(game, state)`` for the position in ``env``, never mutating ``env``.

    Accepts:

    * an :class:`~az_gym.envs.aec.AzGymEnv`, possibly inside PettingZoo wrappers;
    * a :class:`~az_gym.envs.gym_view.GymView`, possibly inside Gymnasium wrappers
      (``gymnasium.make`` output);
    * any other PettingZoo AEC env whose observation (or info) has an ``"action_mask"``:
      it is wrapped in a :class:`~az_gym.envs.adapter.PettingZooGame` (one per env
      object, cached) and the state is a *clone* of the env, so searching it leaves the
      caller's env as it was;
    * any other single-player ``gymnasium.Env`` with a ``Discrete`` action space: it is
      wrapped in a :class:`~az_gym.envs.gym_adapter.GymnasiumGame` (one per env object,
      cached) and the state holds a *clone* of the env (see
      :meth:`~az_gym.envs.gym_adapter.GymnasiumGame.state_from_env` for how its current
      observation is read);
    * a ``(game, state)`` tuple, returned as is.

    Raises:
        TypeError: anything else.
        AssertionError: a PettingZoo env that was not ``reset()`` yet (PettingZoo's
            convention for using an env before ``reset``).
    """
    if isinstance(env, tuple) and len(env) == 2 and isinstance(env[0], Game):
        return env[0], env[1]
    from az_gym.envs.aec import AzGymEnv
    from az_gym.envs.gym_view import GymView

    inner = getattr(env, "unwrapped", None)
    if isinstance(inner, (AzGymEnv, GymView)):
        return inner.game, inner.state
    game = _foreign_game(env)
    if _never_reset(env):
        raise AssertionError("reset() needs to be called before the env has a position.")
    return game, game.state_from_env(env)


def _never_reset(env: Any) -> bool:
    """A PettingZoo env without a position yet: its ``OrderEnforcingWrapper`` says so, or
    the raw env lacks what ``reset()`` creates."""
    from pettingzoo import AECEnv

    if not isinstance(env, AECEnv):
        return False
    from az_gym.envs.env_clone import wrapper_chain

    if any(layer.__dict__.get("_has_reset") is False for layer in wrapper_chain(env, AECEnv)):
        return True
    return not hasattr(env.unwrapped, "terminations")


def _foreign_game(env: Any) -> PettingZooGame | GymnasiumGame:
    """The adapter of a foreign PettingZoo / Gymnasium env (one per env object, cached)."""
    import gymnasium
    from pettingzoo import AECEnv

    single_player = isinstance(env, gymnasium.Env) and isinstance(
        getattr(env, "action_space", None), gymnasium.spaces.Discrete
    )
    if not (isinstance(env, AECEnv) or single_player):
        raise TypeError(
            f"cannot get a game and state from {type(env).__name__}; expected an az_gym "
            "AzGymEnv (possibly wrapped), a GymView (possibly wrapped), a PettingZoo AEC env "
            "with action masks, a single-player gymnasium.Env with a Discrete action space, "
            "or a (Game, state) tuple"
        )
    try:
        adapter = _ADAPTERS.get(env)
    except TypeError:  # not weak-referenceable: no cache
        adapter = None
    if adapter is None:
        if isinstance(env, AECEnv):
            from az_gym.envs.adapter import PettingZooGame

            adapter = PettingZooGame(env)
        else:
            from az_gym.envs.gym_adapter import GymnasiumGame

            adapter = GymnasiumGame(env)
        try:
            _ADAPTERS[env] = adapter
        except TypeError:
            pass
    return adapter


# ------------------------------------------------ pettingzoo.classic equivalents
CLASSIC_EQUIVALENTS: dict[str, str] = {
    "connect_four_v3": "connect_four",
}
"""``pettingzoo.classic`` envs (by ``metadata["name"]``) that ARE a native game: the same
agents in the same order, observation planes, legal masks, action indices and rewards at
every step (checked move by move over random games in ``tests/test_equivalent_envs.py``).
An agent made for the native game plays them unchanged (:func:`canonical_game_id`).

``tictactoe_v3`` is not listed: it numbers the cells column by column and indexes its
planes ``[column, row]`` (the transpose of ours), so a native agent's moves would be wrong
there (``tests/test_vs_pettingzoo.py`` shows the mapping)."""


def canonical_game_id(game: Game) -> str:
    """``game.game_id``, or the native game's id for a declared-equivalent classic env.

    Agents compare this id, not ``game_id``, to decide whether they may play ``game``: the
    shipped Connect Four agent plays ``pettingzoo.classic.connect_four_v3`` (through the
    adapter) because that env is listed in :data:`CLASSIC_EQUIVALENTS`, and only such
    listed envs get this treatment.
    """
    from az_gym.envs.adapter import PettingZooGame

    if isinstance(game, PettingZooGame) and game.name in CLASSIC_EQUIVALENTS:
        raw = game.initial_state().env.unwrapped
        if type(raw).__module__.startswith("pettingzoo.classic."):
            return CLASSIC_EQUIVALENTS[game.name]
    return game.game_id


def symmetries_of(game: Game) -> list[Any]:
    """``game.symmetries()``, or the native game's for a declared-equivalent classic env.

    The adapter declares no symmetries for a foreign env (it cannot know them), but a
    :data:`CLASSIC_EQUIVALENTS` env has the native game's observation planes and action
    indices, so the native symmetries hold there too: a symmetry-averaged agent averages
    the same images on both (``tests/test_equivalent_envs.py``).
    """
    native = canonical_game_id(game)
    if native != game.game_id:
        return list(make_game(native).symmetries())
    return list(game.symmetries())


def same_game(game_id: str, game: Game) -> bool:
    """Whether a checkpoint stored for ``game_id`` (the ``game.game_id`` it was trained on)
    may play ``game``: the same id, or ids that :func:`canonical_game_id` makes equal (a
    network trained on ``pettingzoo.classic.connect_four_v3`` plays it and native Connect
    Four, as one trained on native Connect Four plays both)."""
    return game_id == game.game_id or (
        CLASSIC_EQUIVALENTS.get(game_id, game_id) == canonical_game_id(game)
    )


def _entry(name: str) -> tuple[str, str, str]:
    try:
        return _GAMES[name]
    except (KeyError, TypeError):
        close = did_you_mean(name, _GAMES)
        raise ValueError(
            f"unknown game {name!r}"
            + (f" (did you mean {close!r}?)" if close else "")
            + f"; available games are {available_games()}"
        ) from None
