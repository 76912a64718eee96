"""A single-agent Gymnasium view of a 2-player native game against a fixed opponent.

:class:`GymView` lets single-agent RL code (Stable-Baselines3, sb3-contrib's
``MaskablePPO``, CleanRL scripts) play one side of an az_gym game:

* ``observation_space = Box(0, 1, game.observation_shape, float32)``: the planes seen
  from the learning agent's side; ``action_space`` is a ``Discrete(game.num_actions)``
  (:class:`LegalDiscrete`) whose unmasked ``sample()`` returns a legal action.
* ``reset`` and ``step`` put the learner's legal-action mask in ``info["action_mask"]``
  (``int8[num_actions]``); :meth:`GymView.action_masks` returns it as ``bool`` (the
  ``MaskablePPO`` convention). Gymnasium 1.x wrappers do not forward attributes, so on what
  ``gymnasium.make`` returns call ``env.unwrapped.action_masks()`` or
  ``env.get_wrapper_attr("action_masks")()``; SB3 VecEnvs' ``env_method("action_masks")``
  (what sb3-contrib's ``get_action_masks`` and ``MaskablePPO`` use) goes through
  ``get_wrapper_attr`` and works as is.
* The opponent replies inside ``step`` (and moves first inside ``reset`` when the learner
  plays second), as often as the game gives it the move (passes work).
* Reward: 0 until the end, then the learner's return (+1 win, -1 loss, 0 draw).
  ``terminated`` is True at the end; ``truncated`` is always False (games are finite).
* **Illegal actions of the learner** follow PettingZoo classic's rule by default
  (``illegal_action="loss"``): the episode ends as a loss for the mover, reward -1,
  ``terminated``, the board unchanged, ``info["illegal_action"]`` holds the action and the
  mask is all zeros. So unmasked learners (plain PPO, DQN) train, an illegal move costing
  them the game, instead of crashing on their first illegal sample; it also lets Gymnasium's
  ``check_env`` step an action it sampled in another position (Othello's first position
  has illegal cells). ``illegal_action="raise"`` raises
  :class:`~az_gym.game.IllegalActionError` (a ``ValueError``) naming the action and the legal
  ones and leaves the game untouched: for masked policies, where an illegal action is a bug
  to catch at once. Stepping a finished game raises :class:`~az_gym.game.GameOverError`.
* **A failing opponent aborts the episode.** When the opponent raises, or returns an action
  that is not legal (az_gym agents never do: it is a bug in the opponent, so it is raised
  whatever ``illegal_action`` says rather than handed to the learner as a free win),
  ``step``/``reset`` raise that error and every later ``step`` raises ``RuntimeError``
  naming it until ``reset()``. Rolling the step back instead would not make a retry
  meaningful: the opponent's own state (search tree, random generator) has moved on. The
  ``state`` stays the position the opponent failed in, for inspection; the mask is all zeros.
* Rendering: ``"ansi"`` returns the board text, ``"human"`` prints it (after every
  ``reset``/``step``), ``"rgb_array"`` returns a ``uint8[H, W, 3]`` picture drawn with numpy
  (:func:`az_gym.envs.rgb.board_rgb`; no pygame), SB3's ``make_vec_env`` default.
"""

from __future__ import annotations

import weakref
from typing import Any, ClassVar, Protocol

import gymnasium
import numpy as np
from gymnasium import spaces

from az_gym.envs.rgb import board_rgb, check_drawable
from az_gym.game import Game, GameOverError, IllegalActionError, State

RENDER_MODES = ("ansi", "human", "rgb_array")
ILLEGAL_ACTION_RULES = ("loss", "raise")


class StateAgent(Protocol):
    """What an opponent must offer: a legal action for the player to move in ``state``."""

    def act_state(self, game: Game, state: State) -> int:
        """Return a legal action."""
        ...


class LegalDiscrete(spaces.Discrete):
    """``Discrete(n)`` whose unmasked :meth:`sample` draws a *legal* action of its env.

    ``contains`` and equality are those of ``Discrete(n)``; only ``sample()`` without a
    mask or probabilities looks at the env's current legal actions (uniform over them), so
    the Gymnasium idiom ``env.step(env.action_space.sample())`` never raises. The link to
    the env is a weak reference, re-made at every ``reset``.
    """

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self._env_ref: weakref.ref[GymView] | None = None

    def sample(self, mask: Any | None = None, probability: Any | None = None) -> np.int64:
        """A legal action of the env's current state (any action if there is none)."""
        env = self._env_ref() if self._env_ref is not None else None
        if mask is None and probability is None and env is not None and env._state is not None:
            legal = env.game.legal_mask(env._state)
            if legal.any():
                mask = legal.astype(np.int8)
        return super().sample(mask=mask, probability=probability)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_env_ref": None}


class GymView(gymnasium.Env):
    """One side of a 2-player game as a Gymnasium env (see the module docstring).

    Args:
        game: the rules, or a registry name (``"connect_four"``...) made with ``game_kwargs``.
        opponent: an az_gym agent (anything with ``act_state(game, state) -> int``);
            ``None`` plays uniformly random legal moves drawn from ``self.np_random``, so
            ``reset(seed=s)`` makes the whole episode reproducible.
        agent_color: the learner's player, ``0`` (moves first), ``1``, or ``"alternate"``
            (``0`` on the first reset after construction or after a seeded reset, then
            ``1``, ``0``, ... on each unseeded reset).
        render_mode: ``None``, ``"ansi"`` (``render()`` returns the text), ``"human"``
            (prints it) or ``"rgb_array"`` (``uint8[H, W, 3]``).
        illegal_action: what an illegal action of the learner does: ``"loss"`` (default,
            PettingZoo classic's rule) or ``"raise"`` (see the module docstring).
        game_kwargs: constructor options when ``game`` is a name (``size=6``...).

    Attributes:
        game: the :class:`Game`.
        state: the current az_gym state (immutable).
        agent_color: the learner's player in the current episode.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": list(RENDER_MODES), "render_fps": 2}

    def __init__(
        self,
        game: Game | str,
        opponent: StateAgent | None = None,
        agent_color: int | str = 0,
        render_mode: str | None = None,
        illegal_action: str = "loss",
        **game_kwargs: Any,
    ) -> None:
        if isinstance(game, str):
            from az_gym.envs.registry import make_game

            game = make_game(game, **game_kwargs)
        elif game_kwargs:
            raise TypeError(f"game options {sorted(game_kwargs)} need a game name, not a Game")
        if not isinstance(game, Game):
            raise TypeError(f"GymView needs an az_gym Game or its name, got {type(game).__name__}")
        if game.num_players != 2:
            raise ValueError(f"GymView plays 2-player games; {game.name} has {game.num_players}")
        if agent_color not in (0, 1, "alternate"):
            raise ValueError(f"agent_color={agent_color!r}; expected 0, 1 or 'alternate'")
        if opponent is not None and not callable(getattr(opponent, "act_state", None)):
            raise TypeError(
                f"opponent {opponent!r} has no act_state(game, state) method; pass an az_gym "
                "agent or None for a random opponent"
            )
        check = getattr(opponent, "check_game", None)
        if callable(check):  # an agent made for another game: refused here, not at a step
            check(game)
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode={render_mode!r}; expected None or one of {RENDER_MODES}")
        if render_mode == "rgb_array":
            check_drawable(game)
        if illegal_action not in ILLEGAL_ACTION_RULES:
            raise ValueError(
                f"illegal_action={illegal_action!r}; expected one of {ILLEGAL_ACTION_RULES}"
            )
        self.illegal_action = illegal_action
        self._lost_by_illegal = False
        self._failure: str | None = None  # why the opponent aborted the episode
        self.game = game
        self.opponent = opponent
        self.color_mode = agent_color
        self.agent_color = 0 if agent_color == "alternate" else int(agent_color)
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0.0, 1.0, game.observation_shape, np.float32)
        self.action_space = LegalDiscrete(game.num_actions)
        self.action_space._env_ref = weakref.ref(self)
        self._episodes = 0
        self._state: State | None = None

    # ------------------------------------------------------------------ access
    @property
    def state(self) -> State:
        """The current az_gym state (immutable). Requires ``reset()``."""
        if self._state is None:
            raise RuntimeError("GymView: call reset() before reading the state")
        return self._state

    def action_masks(self) -> np.ndarray:
        """Return ``bool[num_actions]``: the learner's legal actions (MaskablePPO convention)."""
        if self._lost_by_illegal or self._failure is not None:
            return np.zeros(self.game.num_actions, dtype=bool)
        return self.game.legal_mask(self.state).astype(bool)

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a game; the opponent moves first when the learner plays player 1.

        Returns:
            ``(observation float32[*obs_shape], info)`` with ``info["action_mask"]`` int8.
        """
        super().reset(seed=seed, options=options)
        if seed is not None:
            self._episodes = 0
        if self.color_mode == "alternate":
            self.agent_color = self._episodes % 2
        self._episodes += 1
        self._state = self.game.initial_state()
        self._lost_by_illegal = False
        self._failure = None
        if self.opponent is not None and hasattr(self.opponent, "reset"):
            self._ask_opponent(self.opponent.reset)
        if isinstance(self.action_space, LegalDiscrete):
            self.action_space._env_ref = weakref.ref(self)
        self._play_opponent()
        if self.render_mode == "human":
            self.render()
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Play the learner's ``action``, then the opponent's replies.

        Returns:
            ``(observation, reward, terminated, truncated=False, info)``.

        Raises:
            IllegalActionError: ``action`` is not in the action space (not an integer in
                ``[0, num_actions)``: a bug of the caller, whatever ``illegal_action``
                says), or it is not legal and ``illegal_action="raise"`` (the state is
                unchanged either way), or the opponent returned an illegal action.
            GameOverError: the game is already over (call ``reset()``).
            RuntimeError: the opponent failed earlier in this episode (call ``reset()``).
            Exception: whatever the opponent raised (the episode is then aborted).
        """
        state = self.state
        if self._failure is not None:
            raise RuntimeError(
                f"GymView({self.game.name}): the episode was aborted because {self._failure}; "
                "call reset()"
            )
        if self.game.is_terminal(state) or self._lost_by_illegal:
            raise GameOverError(f"GymView({self.game.name}): the game is over; call reset()")
        if isinstance(action, np.ndarray) and action.shape == ():
            action = action.item()
        if not self.action_space.contains(action) or isinstance(action, (bool, np.bool_)):
            # not an action at all (99, -1, 2.7, "b2"): the caller's bug, never a lost game,
            # as pettingzoo.classic's AssertOutOfBoundsWrapper refuses it before the
            # TerminateIllegalWrapper's loss
            raise IllegalActionError(
                action,
                self.game.legal_actions(state),
                message=f"GymView({self.game.name}): action {action!r} is not in the action "
                f"space {self.action_space} (an integer in [0, {self.game.num_actions}))",
            )
        try:
            a = self.game.check_action(state, action)
        except IllegalActionError:
            if self.illegal_action == "raise":
                raise
            self._lost_by_illegal = True
            info = {**self._info(), "illegal_action": action}
            return self._observation(), -1.0, True, False, info
        self._state = self.game.next_state(state, a)
        self._play_opponent()
        terminated = self.game.is_terminal(self._state)
        reward = float(self.game.returns(self._state)[self.agent_color]) if terminated else 0.0
        if self.render_mode == "human":
            self.render()
        return self._observation(), reward, terminated, False, self._info()

    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: return the board text; ``"human"``: print it; ``"rgb_array"``: return
        ``uint8[H, W, 3]`` (:func:`~az_gym.envs.rgb.board_rgb`); ``None``: warn."""
        if self.render_mode is None:
            gymnasium.logger.warn(
                "You are calling render method without specifying any render mode."
            )
            return None
        if self.render_mode == "rgb_array":
            return board_rgb(self.game, self.state)
        text = f"{self.game.render(self.state)}\n(you are player {self.agent_color})"
        if self.render_mode == "human":
            print(text)
            return None
        return text

    # ----------------------------------------------------------------- helpers
    def _play_opponent(self) -> None:
        """Let the opponent move while it is its turn and the game runs.

        If the opponent raises or returns an illegal action, the episode is aborted (see the
        module docstring) and the error propagates.
        """
        game = self.game
        while not game.is_terminal(self._state) and game.to_play(self._state) != self.agent_color:
            if self.opponent is None:
                legal = np.flatnonzero(game.legal_mask(self._state))
                a = int(legal[self.np_random.integers(legal.size)])
            else:
                a = self._opponent_action()
            self._state = game.next_state(self._state, a)

    def _opponent_action(self) -> int:
        """The opponent's checked action in the current state (aborts the episode if bad)."""
        game = self.game
        a = self._ask_opponent(self.opponent.act_state, game, self._state)
        try:
            return game.check_action(self._state, a)
        except IllegalActionError as err:
            who = f"the opponent {self.opponent!r}"
            self._failure = f"{who} chose an {err}"
            raise IllegalActionError(err.action, err.legal, f"{game.name} ({who})") from None

    def _ask_opponent(self, method: Any, *args: Any) -> Any:
        """Call an opponent method; if it raises, abort the episode and re-raise."""
        try:
            return method(*args)
        except Exception as err:
            self._failure = f"the opponent {self.opponent!r} raised {type(err).__name__}: {err}"
            raise

    def _observation(self) -> np.ndarray:
        return np.asarray(self.game.observation(self._state, self.agent_color), dtype=np.float32)

    def _info(self) -> dict[str, Any]:
        return {
            "action_mask": self.action_masks().astype(np.int8),
            "agent_color": self.agent_color,
        }
