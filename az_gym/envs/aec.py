"""The PettingZoo AEC shell around any native az_gym :class:`~az_gym.game.Game`.

:class:`AzGymEnv` follows the conventions of ``pettingzoo.classic`` (``connect_four_v3``,
``tictactoe_v3``) so that code written for those envs runs unchanged:

* Agents are ``"player_0"`` and ``"player_1"`` (``"player_0"`` alone for a 1-player
  game); agent ``"player_i"`` is the game's player ``i``. The agent to move is read from
  the game (:meth:`Game.to_play`), so passes and double moves work.
* ``observe(agent)`` returns ``{"observation": float32[*game.observation_shape],
  "action_mask": int8[num_actions]}``. The planes are seen from ``agent``'s side
  (``game.observation(state, player)``); the mask is all zeros unless ``agent`` is to move.
* Rewards are 0 until the end, then each player's return (+1 win, -1 loss, 0 draw).
* An *illegal* move (an action inside ``Discrete(num_actions)`` whose mask bit is 0) ends
  the game exactly as ``pettingzoo.utils.wrappers.TerminateIllegalWrapper(illegal_reward=-1)``
  does for the classic envs: a warning through PettingZoo's ``EnvLogger``, reward -1 for the
  offender and 0 for the others, every agent terminated *and* truncated. The offender's
  ``infos`` also gets ``"illegal_action"``. An action outside the action space (``99``,
  ``1.5``, ``"a"``) raises :class:`~az_gym.game.IllegalActionError` instead, like
  ``AssertOutOfBoundsWrapper``; the game is untouched.
* Dead agents are stepped with ``None`` (``_was_dead_step``).
* ``step``/``observe``/``render`` before ``reset`` raise ``AssertionError`` (the messages of
  ``OrderEnforcingWrapper``).

Why no PettingZoo wrappers: the classic envs get illegal-move handling, bounds checks and
order checks from three wrappers; :class:`AzGymEnv` does all three itself, so the object
users get *is* the env and its extras (:attr:`game`, :attr:`state`, :meth:`set_state`,
:meth:`symmetries`) are plain attributes. If you wrap it yourself, ``game`` and
``symmetries()`` still reach through ``BaseWrapper.__getattr__``, but ``wrapper.state`` is
``AECEnv.state()`` (the PettingZoo "global state" method) and fails; use
``wrapper.unwrapped.state`` or :func:`az_gym.envs.registry.game_and_state`.

:attr:`state` replaces PettingZoo's ``AECEnv.state()`` global-state method (which the
classic board envs do not implement either) by the az_gym state, an immutable value.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv
from pettingzoo.utils.env_logger import EnvLogger

from az_gym.envs.rgb import board_rgb, check_drawable
from az_gym.game import Game, IllegalActionError, State, Symmetry

RENDER_MODES = ("ansi", "human", "rgb_array")


def agent_name(player: int) -> str:
    """Return the PettingZoo agent name of az_gym player ``player`` (``"player_0"``...)."""
    return f"player_{player}"


def to_action_index(action: object, num_actions: int, legal: list[int], game_name: str) -> int:
    """Return ``action`` as an ``int`` in ``0 .. num_actions - 1``.

    Accepts Python and NumPy integers (and integral NumPy 0-d arrays).

    Raises:
        IllegalActionError: ``action`` is not an integer or lies outside the action space.
    """
    if isinstance(action, np.ndarray) and action.shape == ():
        action = action.item()
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
        raise IllegalActionError(action, legal, f"{game_name} (not an integer action)")
    a = int(action)
    if not 0 <= a < num_actions:
        raise IllegalActionError(action, legal, f"{game_name} (outside 0..{num_actions - 1})")
    return a


class AzGymEnv(AECEnv):
    """A PettingZoo AEC env playing a native az_gym game (see the module docstring).

    Args:
        game: the rules (1 or 2 players).
        render_mode: ``None``, ``"ansi"`` (``render()`` returns the text picture),
            ``"human"`` (``render()`` prints it, and every step renders) or ``"rgb_array"``
            (``uint8[H, W, 3]`` drawn with numpy, :func:`az_gym.envs.rgb.board_rgb`).

    Attributes:
        game: the :class:`Game`.
        metadata: ``{"name": "<game>_v0", "is_parallelizable": False, "render_modes": [...]}``.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "az_gym_v0",
        "is_parallelizable": False,
        "render_modes": list(RENDER_MODES),
        "render_fps": 1,
    }

    def __init__(self, game: Game, render_mode: str | None = None) -> None:
        super().__init__()
        if not isinstance(game, Game):
            raise TypeError(f"AzGymEnv needs an az_gym Game, got {type(game).__name__}")
        if game.num_players not in (1, 2):
            raise ValueError(
                f"AzGymEnv supports 1 or 2 players, {game.name} has {game.num_players}"
            )
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode={render_mode!r}; expected None or one of {RENDER_MODES}")
        if render_mode == "rgb_array":
            check_drawable(game)
        self.game = game
        self.render_mode = render_mode
        self.metadata = {**type(self).metadata, "name": f"{game.name}_v0"}  # type: ignore[misc]
        self.possible_agents = [agent_name(p) for p in range(game.num_players)]
        self._player_of = {a: p for p, a in enumerate(self.possible_agents)}
        obs_space = spaces.Dict(
            {
                "observation": spaces.Box(0.0, 1.0, game.observation_shape, np.float32),
                "action_mask": spaces.Box(0, 1, (game.num_actions,), np.int8),
            }
        )
        act_space = spaces.Discrete(game.num_actions)
        # One space object per agent, returned by identity (api_test checks `is`).
        self.observation_spaces = {a: obs_space for a in self.possible_agents}
        self.action_spaces = {a: act_space for a in self.possible_agents}
        self._state: State | None = None

    # ------------------------------------------------------------------ az_gym
    @property
    def state(self) -> State:  # type: ignore[override]
        """The current az_gym state (immutable, safe to keep). Requires ``reset()``."""
        self._require_reset("state")
        return self._state

    def set_state(self, state: State) -> None:
        """Jump to ``state`` (made by :attr:`game`): all agents alive, no pending rewards.

        A terminal ``state`` leaves every agent terminated with its return as reward.
        """
        self._state = state
        self.agents = self.possible_agents[:]
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {a: {} for a in self.agents}
        self._skip_agent_selection = None
        self.agent_selection = agent_name(self.game.to_play(state))
        if self.game.is_terminal(state):
            self._finish()

    def symmetries(self) -> list[Symmetry]:
        """The game's symmetries (see :meth:`Game.symmetries`)."""
        return self.game.symmetries()

    # ------------------------------------------------------------- PettingZoo
    def observation_space(self, agent: str) -> spaces.Space:
        """``Dict(observation=Box(0, 1, obs_shape, float32),
        action_mask=Box(0, 1, (A,), int8))``."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        """``Discrete(num_actions)``."""
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Start a new game. The games are deterministic; ``seed`` only seeds ``np_random``."""
        del options
        self.np_random, self.np_random_seed = gymnasium.utils.seeding.np_random(seed)
        self.set_state(self.game.initial_state())
        if self.render_mode == "human":
            self.render()

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        """Return ``agent``'s view: float32 planes from its side and an int8 legal mask."""
        self._require_reset("observe")
        player = self._player_of[agent]
        obs = np.asarray(self.game.observation(self._state, player), dtype=np.float32)
        if agent == self.agent_selection and not self.terminations.get(agent, True):
            mask = self.game.legal_mask(self._state).astype(np.int8)
        else:
            mask = np.zeros(self.game.num_actions, dtype=np.int8)
        return {"observation": obs, "action_mask": mask}

    def step(self, action: Any) -> None:
        """Play ``action`` for ``agent_selection`` (``None`` for a dead agent).

        Raises:
            IllegalActionError: ``action`` is outside ``Discrete(num_actions)``.
            AssertionError: ``reset()`` was never called.
        """
        if self._state is None:
            EnvLogger.error_step_before_reset()
        if not self.agents:
            EnvLogger.warn_step_after_terminated_truncated()
            return
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        mask = self.game.legal_mask(self._state)
        a = to_action_index(
            action, self.game.num_actions, np.flatnonzero(mask).tolist(), self.game.name
        )
        self._cumulative_rewards[agent] = 0.0
        self._clear_rewards()
        if not mask[a]:
            self._terminate_illegal(agent, a)
            return
        self._state = self.game.next_state(self._state, a)
        self.agent_selection = agent_name(self.game.to_play(self._state))
        if self.game.is_terminal(self._state):
            self._finish()
        else:
            self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()

    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: return the board text; ``"human"``: print it; ``"rgb_array"``: return
        ``uint8[H, W, 3]``; ``None``: warn."""
        if self.render_mode is None:
            gymnasium.logger.warn(
                "You are calling render method without specifying any render mode."
            )
            return None
        self._require_reset("render")
        if self.render_mode == "rgb_array":
            return board_rgb(self.game, self._state)
        text = self._text()
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        """Nothing to release (no window is ever opened)."""

    # ---------------------------------------------------------------- helpers
    def _text(self) -> str:
        board = self.game.render(self._state)
        if self.game.is_terminal(self._state):
            r = self.game.returns(self._state)
            status = "game over, returns " + ", ".join(
                f"{agent_name(p)}: {r[p]:+g}" for p in range(self.game.num_players)
            )
        elif self.agents and (self.terminations[self.agent_selection]):
            status = "game over (illegal move)"
        else:
            status = f"{self.agent_selection} to move"
        return f"{board}\n{status}"

    def _finish(self) -> None:
        """The game just ended: rewards are the returns, everyone is terminated."""
        returns = self.game.returns(self._state)
        self.rewards = {a: float(returns[p]) for p, a in enumerate(self.possible_agents)}
        self.terminations = dict.fromkeys(self.agents, True)
        self._accumulate_rewards()

    def _terminate_illegal(self, agent: str, action: int) -> None:
        """``TerminateIllegalWrapper(illegal_reward=-1)`` semantics."""
        EnvLogger.warn_on_illegal_move()
        self.terminations = dict.fromkeys(self.agents, True)
        self.truncations = dict.fromkeys(self.agents, True)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self.rewards[agent] = -1.0
        self.infos[agent]["illegal_action"] = action
        self._accumulate_rewards()
        self._deads_step_first()

    def _require_reset(self, what: str) -> None:
        if self._state is None:
            raise AssertionError(f"reset() needs to be called before {what}.")

    def __str__(self) -> str:
        return self.metadata["name"]
