"""A single-player Gymnasium env with a discrete action space, as an az_gym :class:`Game`.

:class:`GymnasiumGame` lets :class:`~az_gym.agents.alphazero.AlphaZeroAgent` and the
``Trainer`` run single-player AlphaZero (as AlphaZero.jl does on its grid world) on an
unmodified ``gymnasium.Env``::

    game = GymnasiumGame(lambda: gymnasium.make("FrozenLake-v1", is_slippery=False))

What the env must offer (checked at construction, with a clear error otherwise): a
``Discrete(n, start)`` action space (game action ``a`` is env action ``start + a``: what
an agent's ``act`` returns is ``a``);
a ``Box`` observation space (observations are its arrays as ``float32``) or a ``Discrete``
one (observations are ``float32`` one-hot vectors of length ``n``). The legal-action mask is
``info["action_mask"]`` when ``reset`` gives one, else ``env.action_masks()`` (the sb3-contrib
convention) when the env has it, else every action is legal; it is all False once over.

**Returns.** A state is terminal once the env says ``terminated`` or ``truncated`` (its
``TimeLimit``) or after ``max_steps`` steps. The Game contract only has *final* returns, so
**intermediate rewards are folded into the final return**: ``returns(state)`` is
``[sum of every reward of the episode]`` (undiscounted) once over, ``[0.0]`` before. A
position's value target is therefore the whole episode's return, rewards already collected
included, which is exact for envs that reward only at the end (AlphaZero.jl's single-player
games with a terminal reward) and noisy when the observation does not show what was
collected. The search mixes these returns with the network's ``tanh`` values, which lie in
``[-1, 1]``, so ``returns`` divides the episode's return by ``return_scale`` (default 1) and
refuses (``ValueError``) a scaled return outside ``[-1, 1]`` rather than let the two
scales mix: pass ``return_scale`` >= the largest ``|return|`` (500 for ``CartPole-v1``).

A state (:class:`GymnasiumState`) owns a private env that nobody steps, plus the last
observation, info, mask, return so far, step count and flags, so reading it steps nothing.
:meth:`GymnasiumGame.next_state` clones the env and steps the clone.

**Cloning** (``clone="deepcopy"`` or ``"replay"``) and what a clone of a stochastic env
means: :mod:`az_gym.envs.gym_state`; ``python bench/clone.py`` measures what each costs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from az_gym.envs.env_clone import wrapper_chain
from az_gym.envs.gym_state import SHARED_ATTRIBUTES, GymnasiumState, clone_gym_env
from az_gym.game import Game, GameError, Symmetry

EnvFactory = Callable[[], gymnasium.Env]


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


# -------------------------------------------------------------------------- game
class GymnasiumGame(Game):
    """The :class:`Game` contract over a single-player Gymnasium env (module docstring).

    Args:
        env_or_fn: a zero-argument env factory (``lambda: gymnasium.make(...)``, an env
            class) or an env instance (cloned, never touched).
        name: the game name (default: the env's ``spec.id``, else its class name).
        clone: ``"deepcopy"`` (layer-wise deep copy) or ``"replay"`` (replay the history).
        seed: the seed passed to ``reset`` for the initial state. Every game starts from
            that one reset, so a stochastic env's start and RNG are the same each game.
        max_steps: end episodes (truncated) after this many steps; ``None``: the env's.
        symmetries: optional symmetries (identity first) of observations and policies;
            states are never transformed, so keep ``flip_probability = 0``.
        return_scale: ``returns`` is the episode's return divided by this (> 0); a scaled
            return outside ``[-1, 1]`` raises ``ValueError`` (see the module docstring).
        share: attribute names whose values clones share (:data:`SHARED_ATTRIBUTES`).

    ``game_id`` is ``name(options)`` where the options are the env spec's simple keyword
    arguments (``map_name=4x4``...) and ``max_steps``, so checkpoints of FrozenLake with
    another map are refused.

    Raises:
        TypeError: not a gymnasium env or a factory of one.
        ValueError: a non-``Discrete`` action space, an observation space other than
            ``Box``/``Discrete``, a bad ``clone``, ``max_steps``, mask or symmetry.
    """

    num_players = 1

    def __init__(
        self,
        env_or_fn: gymnasium.Env | EnvFactory,
        *,
        name: str | None = None,
        clone: str = "deepcopy",
        seed: int | None = 0,
        max_steps: int | None = None,
        symmetries: Sequence[Symmetry] | None = None,
        share: Sequence[str] = SHARED_ATTRIBUTES,
        return_scale: float = 1.0,
    ) -> None:
        if (
            isinstance(return_scale, bool)
            or not isinstance(return_scale, (int, float))
            or not 0.0 < return_scale < float("inf")
        ):
            raise ValueError(f"return_scale={return_scale!r}; must be a finite number > 0")
        self._return_scale = float(return_scale)
        if clone not in ("deepcopy", "replay"):
            raise ValueError(f"clone={clone!r}; expected 'deepcopy' or 'replay'")
        if max_steps is not None and (
            isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1
        ):
            raise ValueError(f"max_steps={max_steps!r}; must be None or an integer >= 1")
        self._share = tuple(share)
        if isinstance(env_or_fn, gymnasium.Env):
            self._factory: EnvFactory | None = None
            env = clone_gym_env(env_or_fn, self._share)
        elif callable(env_or_fn):
            self._factory = env_or_fn
            env = env_or_fn()
        else:
            raise TypeError(
                f"GymnasiumGame needs a gymnasium.Env or a function making one, got "
                f"{type(env_or_fn).__name__}"
            )
        if not isinstance(env, gymnasium.Env):
            raise TypeError(f"the factory returned {type(env).__name__}, not a gymnasium.Env")
        self._clone_mode, self._seed, self._max_steps = clone, seed, max_steps
        self._validate_spaces(env, name)
        self._ansi = self._use_ansi(env)
        obs, info = env.reset(seed=seed)
        if "action_mask" in info:
            self._mask_source = "info"
        elif callable(_wrapper_attr(env, "action_masks")):
            self._mask_source = "method"
        else:
            self._mask_source = "none"
        self._pristine = clone_gym_env(env, self._share)  # for replay without a factory
        self._initial = self._make_state(env, obs, info, 0.0, 0, False, False, ())
        if symmetries is not None:
            for s in symmetries:
                if not isinstance(s, Symmetry) or len(s.sigma) != self.num_actions:
                    raise ValueError(
                        f"symmetry {s!r} must be a Symmetry with {self.num_actions} sigma entries"
                    )
        self._symmetries = list(symmetries) if symmetries is not None else None

    def _validate_spaces(self, env: gymnasium.Env, name: str | None) -> None:
        spec = env.spec
        self.name = name or (spec.id if spec is not None else type(env.unwrapped).__name__)
        act, obs = env.action_space, env.observation_space
        if not isinstance(act, spaces.Discrete):
            raise ValueError(f"{self.name}: GymnasiumGame needs a Discrete action space, got {act}")
        self.num_actions = int(act.n)
        self._action_start = int(act.start)
        if isinstance(obs, spaces.Box):
            self.observation_shape = tuple(obs.shape)
            self._obs_start: int | None = None
        elif isinstance(obs, spaces.Discrete):
            self.observation_shape = (int(obs.n),)
            self._obs_start = int(obs.start)
        else:
            raise ValueError(
                f"{self.name}: GymnasiumGame needs a Box or Discrete observation space, got "
                f"{obs}; flatten it first (e.g. gymnasium.wrappers.FlattenObservation)"
            )
        kwargs = dict(spec.kwargs) if spec is not None else {}
        self._options = {
            k: v
            for k, v in kwargs.items()
            if k != "render_mode" and isinstance(v, (int, float, str, bool))
        }
        if self._max_steps is not None:
            self._options["max_steps"] = self._max_steps
        if self._return_scale != 1.0:
            self._options["return_scale"] = self._return_scale

    def _use_ansi(self, env: gymnasium.Env) -> bool:
        """Switch the private env to text rendering when it offers it and renders nothing."""
        raw = env.unwrapped
        if raw.render_mode is None and "ansi" in raw.metadata.get("render_modes", ()):
            raw.render_mode = "ansi"
        return raw.render_mode == "ansi"

    def options(self) -> dict[str, Any]:
        """The env spec's simple keyword arguments, and ``max_steps``, ``return_scale`` when
        given."""
        return dict(self._options)

    # ----------------------------------------------------------------- states
    def _make_state(
        self,
        env: gymnasium.Env,
        obs: Any,
        info: dict[str, Any],
        total: float,
        steps: int,
        terminated: bool,
        truncated: bool,
        history: tuple[int, ...] | None,
    ) -> GymnasiumState:
        if self._max_steps is not None and steps >= self._max_steps:
            truncated = True
        if self._obs_start is None:
            arr = np.array(obs, dtype=np.float32).reshape(self.observation_shape)
        else:
            arr = np.zeros(self.observation_shape, dtype=np.float32)
            arr[int(obs) - self._obs_start] = 1.0
        over = bool(terminated or truncated)
        if over:
            mask = np.zeros(self.num_actions, dtype=bool)
        elif self._mask_source == "none":
            mask = np.ones(self.num_actions, dtype=bool)
        else:
            raw = (
                info.get("action_mask")
                if self._mask_source == "info"
                else (_wrapper_attr(env, "action_masks")())
            )
            mask = np.asarray(raw if raw is not None else (), dtype=bool).reshape(-1)
            if mask.shape != (self.num_actions,) or not mask.any():
                raise GameError(
                    f"{self.name}: the action mask at step {steps} is {raw!r}; it must be "
                    f"{self.num_actions} booleans with at least one True while the episode runs"
                )
        return GymnasiumState(
            env,
            _readonly(arr),
            info,
            _readonly(mask),
            float(total),
            steps,
            bool(terminated),
            bool(truncated),
            history,
        )

    def initial_state(self) -> GymnasiumState:
        """The env right after ``reset(seed)`` (one shared, never-stepped state)."""
        return self._initial

    def state_from_env(
        self,
        env: gymnasium.Env,
        obs: Any = None,
        info: dict[str, Any] | None = None,
        *,
        total_return: float = 0.0,
        terminated: bool = False,
        truncated: bool = False,
    ) -> GymnasiumState:
        """Return a state holding a clone of live ``env`` (``env`` is never touched).

        A gymnasium env does not keep its last observation, so give ``obs`` (and ``info``
        for masks in infos) when you have them; otherwise they are read from the clone
        by convention: ``_get_obs()``/``_get_info()`` (the Gymnasium custom-env tutorial),
        else ``s`` (toy-text envs), else ``state`` when its shape is the observation's
        (CartPole, MountainCar). Steps come from a ``TimeLimit`` layer (else 0); the
        return so far is ``total_return`` (default 0: the return counts from now on).

        Raises:
            ValueError: no observation given and none can be read.
        """
        clone = clone_gym_env(env, self._share)
        raw = clone.unwrapped
        if obs is None:
            if callable(getattr(raw, "_get_obs", None)):
                obs = raw._get_obs()
                if info is None and callable(getattr(raw, "_get_info", None)):
                    info = raw._get_info()
            elif self._obs_start is not None and hasattr(raw, "s"):
                obs = raw.s
            elif np.shape(getattr(raw, "state", None)) == self.observation_shape != ():
                obs = raw.state
            else:
                raise ValueError(
                    f"{self.name}: cannot read the current observation of {env}; pass "
                    "game.state_from_env(env, obs, info) with the last reset/step output"
                )
        if info is None:
            info = {}
        if self._ansi:
            clone.unwrapped.render_mode = "ansi"
        steps = _wrapper_attr(clone, "_elapsed_steps")
        return self._make_state(
            clone, obs, info, total_return, int(steps or 0), terminated, truncated, None
        )

    def clone(self, state: GymnasiumState) -> gymnasium.Env:
        """Return a fresh private env in ``state``'s position (by the ``clone`` method)."""
        if self._clone_mode == "replay" and state.history is not None:
            if self._factory is not None:
                env = self._factory()
                self._use_ansi(env)
            else:
                env = clone_gym_env(self._pristine, self._share)
            env.reset(seed=self._seed)
            for a in state.history:
                env.step(self._action_start + a)
            return env
        return clone_gym_env(state.env, self._share)

    def next_state(self, state: GymnasiumState, action: int) -> GymnasiumState:
        """Clone ``state``'s env and step the clone with ``action`` (assumed legal)."""
        env = self.clone(state)
        a = int(action)
        obs, reward, terminated, truncated, info = env.step(self._action_start + a)
        history = None if state.history is None else (*state.history, a)
        return self._make_state(
            env,
            obs,
            info,
            state.total_return + float(reward),
            state.steps + 1,
            terminated,
            truncated,
            history,
        )

    # ---------------------------------------------------------------- queries
    def to_play(self, state: GymnasiumState) -> int:
        """Always 0: one player."""
        return 0

    def move_number(self, state: GymnasiumState) -> int:
        """Steps since the reset (drives the temperature schedule)."""
        return state.steps

    def is_terminal(self, state: GymnasiumState) -> bool:
        """Over when terminated or truncated (``TimeLimit`` or ``max_steps``)."""
        return state.terminated or state.truncated

    def returns(self, state: GymnasiumState) -> np.ndarray:
        """``float[1]``: the episode's undiscounted return divided by ``return_scale`` once
        over, ``[0.0]`` before.

        Raises:
            ValueError: the scaled return lies outside ``[-1, 1]``, the range of the value
                head it is mixed with.
        """
        if not self.is_terminal(state):
            return np.zeros(1)
        r = state.total_return / self._return_scale
        if not -1.0 <= r <= 1.0:
            raise ValueError(
                f"{self.name}: episode return {state.total_return!r} / return_scale "
                f"{self._return_scale!r} = {r!r} lies outside [-1, 1], the value head's "
                "range; pass GymnasiumGame(..., return_scale=R) with R >= the largest |return|"
            )
        return np.array([r])

    def legal_mask(self, state: GymnasiumState) -> np.ndarray:
        """``bool[num_actions]`` (read-only; all False when over)."""
        return state.mask

    def observation(self, state: GymnasiumState, player: int | None = None) -> np.ndarray:
        """``float32[*observation_shape]`` (read-only); ``player`` must be None or 0."""
        if player not in (None, 0):
            raise ValueError(f"{self.name} has one player (0); asked for player {player!r}")
        return state.obs

    def key(self, state: GymnasiumState) -> Hashable:
        """A 16-byte digest of the observation, step count, return so far and flags."""
        h = hashlib.blake2b(digest_size=16)
        h.update(state.obs.tobytes())
        h.update(np.array([state.steps, state.total_return, self.is_terminal(state)]).tobytes())
        return h.digest()

    def render(self, state: GymnasiumState) -> str:
        """The env's ``"ansi"`` rendering when it has one, else the observation; then the
        step count and return so far."""
        text = None
        if self._ansi:
            text = clone_gym_env(state.env, self._share).render()  # render may touch the env
        if not isinstance(text, str):
            text = np.array2string(state.obs, precision=3)
        return f"{text.rstrip()}\n(step {state.steps}, return {state.total_return:g})"

    def action_to_string(self, action: int) -> str:
        """``str(action)``: the game's action index."""
        return str(int(action))

    # ------------------------------------------------------------- symmetries
    def symmetries(self) -> list[Symmetry]:
        """The user-supplied symmetries, or just the identity."""
        return list(self._symmetries) if self._symmetries is not None else super().symmetries()


def _wrapper_attr(env: gymnasium.Env, name: str) -> Any:
    """``name`` from the outermost layer of ``env``'s wrapper chain that has it, else None."""
    for layer in wrapper_chain(env, gymnasium.Env):
        if name in layer.__dict__:
            return layer.__dict__[name]
        value = getattr(type(layer), name, None)
        if value is not None:
            return getattr(layer, name)
    return None


__all__ = ["SHARED_ATTRIBUTES", "EnvFactory", "GymnasiumGame", "GymnasiumState", "clone_gym_env"]
