"""Any PettingZoo AEC board game with action masks, as an az_gym :class:`~az_gym.game.Game`.

:class:`PettingZooGame` lets search and training run on unmodified PettingZoo envs such as
``pettingzoo.classic`` ``connect_four_v3``, ``tictactoe_v3``, ``go_v5`` and ``chess_v6``::

    import pettingzoo
    game = PettingZooGame(lambda: pettingzoo.make("aec", "classic/go-v5", board_size=9))

What the env must offer (checked at construction, with a clear error otherwise): 1 or 2
agents; the same ``Discrete(A)`` action space for each; a legal-action mask, either
``observe(agent)["action_mask"]`` or ``infos[agent]["action_mask"]``; rewards that arrive at
the end of the game (the returns are read from ``_cumulative_rewards`` once it is over).

A state (:class:`PettingZooState`) owns a private env that nobody steps:
:meth:`PettingZooGame.next_state` clones it and steps the clone.

**Cloning.** ``copy.deepcopy(env)`` is *wrong* for these envs: the classic envs are
``gymnasium.utils.EzPickle``, whose ``__getstate__``/``__setstate__`` rebuild a fresh env
from the constructor arguments, so the copy silently holds an empty board (and a raw env
copied that way has not even been reset). Two correct clones are offered:

* ``clone="fast"`` (default), :func:`clone_env`: copy each wrapper layer's state, the
  shared core of both adapters (:func:`az_gym.envs.env_clone.clone_wrapped`): spaces and
  the attributes named in ``share`` are shared, and an attribute that cannot be deep-copied
  is shared only when it is a pygame object (rendering), else it is a ``TypeError`` naming
  it (the one rule, stated in :mod:`az_gym.envs.env_clone`).
* ``clone="replay"``, :func:`replay_env`: build a fresh env (the factory, else a fast clone
  of the pristine reset env), reset it with the same seed, and step the action history.
  Always correct for deterministic envs; O(moves) per clone. States taken from a live env
  (:meth:`PettingZooGame.state_from_env`) have no history and always clone fast.

``python bench/clone.py`` measures the cost of each method per clone (and of ``copy.deepcopy``).

Go caveat: ``go_v5`` keeps the board size in module globals, so go envs of two different
sizes must not live in one process (a PettingZoo limitation).
"""

from __future__ import annotations

import hashlib
import types
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv

from az_gym.envs.env_clone import clone_wrapped, pickle_layers, rebuild_wrapper_chain
from az_gym.game import Game, Symmetry

EnvFactory = Callable[..., AECEnv]


# ----------------------------------------------------------------------- cloning
def clone_env(env: AECEnv, share: Sequence[str] = ()) -> AECEnv:
    """Return an independent copy of ``env`` in its current position (see the module
    docstring): :func:`~az_gym.envs.env_clone.clone_wrapped` over PettingZoo layers.

    Stepping the copy never changes ``env`` and vice versa. Spaces and the attributes named
    in ``share`` are shared.

    Raises:
        TypeError: an attribute that cannot be deep-copied and is not a pygame object.
    """
    return clone_wrapped(env, AECEnv, share)


def replay_env(fresh: AECEnv, actions: Sequence[int], seed: int | None) -> AECEnv:
    """Reset ``fresh`` with ``seed``, step ``actions`` in order and return it."""
    fresh.reset(seed=seed)
    for a in actions:
        fresh.step(int(a))
    return fresh


# ------------------------------------------------------------------------- state
class PettingZooState:
    """A position: a private env (never stepped again) and how it was reached.

    Attributes:
        env: the private PettingZoo env holding the position. Do not step it.
        history: the actions from the initial state, or ``None`` for a state taken from
            a live env.
    """

    __slots__ = ("_cache", "env", "history")

    def __init__(self, env: AECEnv, history: tuple[int, ...] | None) -> None:
        self.env = env
        self.history = history
        self._cache: dict[Any, Any] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> PettingZooState:
        return PettingZooState(clone_env(self.env), self.history)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle layer by layer, like :func:`clone_env` (plain pickling hits EzPickle)."""
        return (_unpickle_state, (pickle_layers(self.env, AECEnv), self.history))

    def __repr__(self) -> str:
        moves = "?" if self.history is None else len(self.history)
        return f"<PettingZooState {self.env} after {moves} moves>"


def _unpickle_state(
    layers: list[tuple[type, dict[str, Any]]], history: tuple[int, ...] | None
) -> PettingZooState:
    return PettingZooState(rebuild_wrapper_chain(layers), history)


# -------------------------------------------------------------------------- game
class PettingZooGame(Game):
    """The :class:`Game` contract over a PettingZoo AEC env (see the module docstring).

    Args:
        env_or_fn: an env factory (``connect_four_v3.env``, ``lambda: go_v5.env(board_size=9)``),
            a module with an ``env`` factory, or an env instance (cloned, never touched).
        symmetries: optional user-supplied symmetries (identity first); each ``sigma``
            must have ``num_actions`` entries.
        state_transform: ``f(state, symmetry) -> state`` implementing
            :meth:`apply_symmetry`; without it only the identity can be applied.
        name: the game name (default: the env's ``metadata["name"]``).
        clone: ``"fast"`` (copy each wrapper layer) or ``"replay"`` (replay the history).
        seed: the seed passed to the env's ``reset``.
        share: attribute names (on any wrapper layer) whose values fast clones share
            instead of copying (values that never change, or that cannot be copied).

    Players: agent ``possible_agents[i]`` is player ``i``. Observations are
    ``float32`` copies of ``observe(agent)["observation"]`` (of ``observe(agent)`` itself
    when the mask is in ``infos``), from that agent's side, read-only.

    Raises:
        ValueError: more than 2 (or no) agents, unequal or non-``Discrete`` action spaces,
            no action mask, a bad ``clone`` or symmetry.
    """

    def __init__(
        self,
        env_or_fn: AECEnv | EnvFactory | types.ModuleType,
        *,
        symmetries: Sequence[Symmetry] | None = None,
        state_transform: Callable[[PettingZooState, Symmetry], PettingZooState] | None = None,
        name: str | None = None,
        clone: str = "fast",
        seed: int | None = None,
        share: Sequence[str] = (),
    ) -> None:
        if clone not in ("fast", "replay"):
            raise ValueError(f"clone={clone!r}; expected 'fast' or 'replay'")
        self._share = tuple(share)
        if isinstance(env_or_fn, types.ModuleType):
            env_or_fn = env_or_fn.env  # type: ignore[attr-defined]
        if isinstance(env_or_fn, AECEnv):
            self._factory: EnvFactory | None = None
            env = clone_env(env_or_fn, self._share)
        elif callable(env_or_fn):
            self._factory = env_or_fn
            env = env_or_fn()
        else:
            raise TypeError(
                f"PettingZooGame needs a PettingZoo AECEnv or a function making one, got "
                f"{type(env_or_fn).__name__}"
            )
        if not isinstance(env, AECEnv):
            raise TypeError(f"the factory returned {type(env).__name__}, not a PettingZoo AECEnv")
        self._clone_mode = clone
        self._seed = seed
        raw = env.unwrapped
        self._ansi = raw.render_mode == "ansi"
        if raw.render_mode is None and "ansi" in raw.metadata.get("render_modes", ()):
            raw.render_mode = "ansi"  # private env: text rendering for render()
            self._ansi = True
        env.reset(seed=seed)
        # for replay without a factory; a state, so that pickling the game stays correct
        self._pristine = PettingZooState(clone_env(env, self._share), ())
        self._validate(env, name)
        self._initial = PettingZooState(env, ())
        if symmetries is not None:
            for s in symmetries:
                if not isinstance(s, Symmetry) or len(s.sigma) != self.num_actions:
                    raise ValueError(
                        f"symmetry {s!r} must be a Symmetry with {self.num_actions} sigma entries"
                    )
        self._symmetries = list(symmetries) if symmetries is not None else None
        self._state_transform = state_transform

    @property
    def player_names(self) -> tuple[str, ...]:
        """The env's agents, player ``i`` as ``possible_agents[i]`` (what its board and its
        ``agent_selection`` call them), for the command line's and the web app's labels."""
        return tuple(self._agents)

    def _validate(self, env: AECEnv, name: str | None) -> None:
        try:
            agents = list(env.possible_agents)
        except AttributeError:  # envs that generate agents on the fly
            agents = list(env.agents)
        label = name or env.unwrapped.metadata.get("name", type(env.unwrapped).__name__)
        if not 1 <= len(agents) <= 2:
            raise ValueError(
                f"PettingZooGame supports 1 or 2 players; {label} has {len(agents)} "
                f"possible agents {agents}"
            )
        acts = [env.action_space(a) for a in agents]
        if not all(isinstance(s, spaces.Discrete) and s.n == acts[0].n for s in acts):
            raise ValueError(
                f"{label}: every agent needs the same Discrete action space, got {acts}"
            )
        agent = env.agent_selection
        obs = env.observe(agent)
        if isinstance(obs, dict) and "action_mask" in obs:
            self._mask_in_info = False
            if "observation" not in obs:
                raise ValueError(
                    f"{label}: observe() returned a dict with keys {sorted(obs)}; it needs "
                    "'observation' next to 'action_mask'"
                )
            planes = obs["observation"]
        elif "action_mask" in env.infos.get(agent, {}):
            self._mask_in_info = True
            planes = obs
        else:
            raise ValueError(
                f"{label} provides no legal-action mask: observe({agent!r}) returned "
                f"{type(obs).__name__}"
                + (f" with keys {sorted(obs)}" if isinstance(obs, dict) else "")
                + f" and infos[{agent!r}] has keys {sorted(env.infos.get(agent, {}))}; "
                "PettingZooGame needs observe(agent)['action_mask'] or "
                "infos[agent]['action_mask'] (int8/bool of length num_actions)"
            )
        self.name = label
        self.num_players = len(agents)
        self.num_actions = int(acts[0].n)
        self.observation_shape = tuple(np.asarray(planes).shape)
        self._agents = agents
        self._index = {a: i for i, a in enumerate(agents)}

    # ----------------------------------------------------------------- states
    def initial_state(self) -> PettingZooState:
        """The env right after ``reset(seed)`` (one shared, never-stepped state)."""
        return self._initial

    def state_from_env(self, env: AECEnv) -> PettingZooState:
        """Return a state holding a clone of ``env``'s current position (``env`` untouched)."""
        return PettingZooState(clone_env(env, self._share), None)

    def clone(self, state: PettingZooState) -> AECEnv:
        """Return a fresh private env in ``state``'s position (by the ``clone`` method)."""
        if self._clone_mode == "replay" and state.history is not None:
            fresh = (
                self._factory()
                if self._factory is not None
                else clone_env(self._pristine.env, self._share)
            )
            if self._ansi and fresh.unwrapped.render_mode is None:
                fresh.unwrapped.render_mode = "ansi"
            return replay_env(fresh, state.history, self._seed)
        return clone_env(state.env, self._share)

    def next_state(self, state: PettingZooState, action: int) -> PettingZooState:
        """Clone ``state``'s env and step the clone with ``action`` (assumed legal)."""
        env = self.clone(state)
        env.step(int(action))
        history = None if state.history is None else (*state.history, int(action))
        return PettingZooState(env, history)

    # ---------------------------------------------------------------- queries
    def to_play(self, state: PettingZooState) -> int:
        """The index of ``env.agent_selection`` in ``possible_agents``."""
        return self._index[state.env.agent_selection]

    def move_number(self, state: PettingZooState) -> int | None:
        """Moves since the reset, when the state knows its history (``None`` otherwise)."""
        return None if state.history is None else len(state.history)

    def is_terminal(self, state: PettingZooState) -> bool:
        """Over when no agent is left or any agent is terminated or truncated."""
        raw = state.env.unwrapped
        if not raw.agents:
            return True
        return any(raw.terminations.get(a) or raw.truncations.get(a) for a in raw.agents)

    def returns(self, state: PettingZooState) -> np.ndarray:
        """``float[num_players]``: ``_cumulative_rewards`` once over, zeros before."""
        if not self.is_terminal(state):
            return np.zeros(self.num_players)
        cum = state.env.unwrapped._cumulative_rewards
        return np.array([float(cum.get(a, 0.0)) for a in self._agents])

    def _observe(self, state: PettingZooState, player: int) -> Any:
        key = ("obs", player)
        if key not in state._cache:
            state._cache[key] = state.env.observe(self._agents[player])
        return state._cache[key]

    def legal_mask(self, state: PettingZooState) -> np.ndarray:
        """``bool[num_actions]`` from the mover's ``action_mask`` (all False when over)."""
        if "mask" not in state._cache:
            if self.is_terminal(state):
                mask = np.zeros(self.num_actions, dtype=bool)
            elif self._mask_in_info:
                mask = np.asarray(state.env.infos[state.env.agent_selection]["action_mask"])
            else:
                mask = np.asarray(self._observe(state, self.to_play(state))["action_mask"])
            mask = mask.astype(bool)
            mask.flags.writeable = False
            state._cache["mask"] = mask
        return state._cache["mask"]

    def observation(self, state: PettingZooState, player: int | None = None) -> np.ndarray:
        """``float32[*observation_shape]``: ``player``'s observation (read-only array)."""
        p = self.to_play(state) if player is None else int(player)
        key = ("planes", p)
        if key not in state._cache:
            obs = self._observe(state, p)
            planes = obs if self._mask_in_info else obs["observation"]
            arr = np.asarray(planes, dtype=np.float32)
            arr.flags.writeable = False
            state._cache[key] = arr
        return state._cache[key]

    def key(self, state: PettingZooState) -> Hashable:
        """A 16-byte digest of the mover, its raw observation and the legal mask."""
        p = self.to_play(state)
        obs = self._observe(state, p)
        planes = obs if self._mask_in_info else obs["observation"]
        h = hashlib.blake2b(digest_size=16)
        h.update(bytes([p]))
        h.update(np.ascontiguousarray(planes).tobytes())
        h.update(np.packbits(self.legal_mask(state)).tobytes())
        return h.digest()

    def render(self, state: PettingZooState) -> str:
        """The env's ``"ansi"`` rendering when it has one, else a picture of planes 0/1.

        The fallback draws the mover's observation: ``X`` where plane 0 is set (the
        mover's pieces in the classic envs), ``O`` where plane 1 is, ``.`` elsewhere.
        """
        if self._ansi:
            text = clone_env(
                state.env, self._share
            ).render()  # render may touch the env: use a copy
            if isinstance(text, str):
                return text
        planes = np.asarray(self.observation(state))
        if planes.ndim == 3 and planes.shape[-1] >= 2:
            rows = [" ".join("X" if c[0] else "O" if c[1] else "." for c in row) for row in planes]
            return "\n".join([*rows, f"(X: {self._agents[self.to_play(state)]}, to move)"])
        return str(planes)

    def action_to_string(self, action: int) -> str:
        """The env's ``action_to_string`` if it has one, else ``str(action)``."""
        namer = getattr(self._initial.env.unwrapped, "action_to_string", None)
        return str(namer(action)) if callable(namer) else str(int(action))

    # ------------------------------------------------------------- symmetries
    def symmetries(self) -> list[Symmetry]:
        """The user-supplied symmetries, or just the identity."""
        return list(self._symmetries) if self._symmetries is not None else super().symmetries()

    def apply_symmetry(self, state: PettingZooState, symmetry: Symmetry) -> PettingZooState:
        """Identity, or the user's ``state_transform``.

        Raises:
            NotImplementedError: a non-identity symmetry without a ``state_transform``.
        """
        if symmetry.name == "identity":
            return state
        if self._state_transform is None:
            raise NotImplementedError(
                f"{self.name}: no state_transform was given to PettingZooGame, so states "
                f"cannot be transformed by {symmetry.name!r} (observations and policies can)"
            )
        return self._state_transform(state, symmetry)
