"""Evaluators that need no network (numpy only): uniform priors, random rollouts, and the
symmetry average of another evaluator.

All three follow the :class:`az_gym.mcts.Evaluator` protocol and declare through class
attributes what they need: ``needs_observations = False`` lets the search skip building
observations; ``needs_states = True`` makes the search pass ``states=`` (the game states);
``deterministic = False`` keeps an evaluator out of the evaluation cache
(:mod:`az_gym.eval_cache`), whose stored answer would replace fresh random draws (the
symmetry average is as deterministic as the evaluator it wraps).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from az_gym.game import Game, State, Symmetry


def _uniform_priors(masks: np.ndarray) -> np.ndarray:
    """``float32[B, A]``: uniform over each row's legal actions (zeros if none)."""
    m = masks.astype(np.float32)
    return m / np.maximum(m.sum(1, keepdims=True), 1.0)


class UniformEvaluator:
    """Uniform priors over the legal actions and value 0: search driven by terminal
    returns only (a 'free' evaluator, for tests and benchmarks of the search itself)."""

    needs_observations = False
    needs_states = False
    deterministic = True

    def __call__(
        self, observations: np.ndarray | None, masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(priors float32[B, A], values float32[B] of zeros)``."""
        return _uniform_priors(masks), np.zeros(masks.shape[0], np.float32)


class RolloutEvaluator:
    """Uniform priors; value = mean return of uniformly random playouts to the end.

    Args:
        game: the rules used to play the rollouts.
        num_rollouts: playouts averaged per position.
        rng: source of the random moves (``default_rng()`` if ``None``).

    The value of each position is for its player to move, in ``[-1, 1]`` when the game's
    returns are.
    """

    needs_observations = False
    needs_states = True
    deterministic = False

    def __init__(
        self, game: Game, num_rollouts: int = 1, rng: np.random.Generator | None = None
    ) -> None:
        if num_rollouts < 1:
            raise ValueError(f"RolloutEvaluator: num_rollouts = {num_rollouts}; must be >= 1")
        self.game = game
        self.num_rollouts = int(num_rollouts)
        self.rng = rng if rng is not None else np.random.default_rng()

    def rollout_value(self, state: State) -> float:
        """Mean return, for the player to move in ``state``, of ``num_rollouts`` playouts."""
        game, rng = self.game, self.rng
        mover = game.to_play(state)
        total = 0.0
        for _ in range(self.num_rollouts):
            s = state
            while not game.is_terminal(s):
                legal = np.flatnonzero(game.legal_mask(s))
                s = game.next_state(s, int(legal[rng.integers(legal.size)]))
            total += float(game.returns(s)[mover])
        return total / self.num_rollouts

    def __call__(
        self,
        observations: np.ndarray | None,
        masks: np.ndarray,
        *,
        states: Sequence[State] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(uniform priors float32[B, A], rollout values float32[B])``.

        Raises:
            ValueError: ``states`` missing or of the wrong length.
        """
        if states is None or len(states) != masks.shape[0]:
            raise ValueError(
                "RolloutEvaluator needs states=: one game state per mask row "
                f"(got {None if states is None else len(states)} for {masks.shape[0]} rows)"
            )
        values = np.array([self.rollout_value(s) for s in states], np.float32)
        return _uniform_priors(masks), values


class SymmetryAveragedEvaluator:
    """Another evaluator averaged over the game's symmetries (``MctsParams.symmetry_averaging``).

    Each position is scored in every symmetric image (``game.symmetries()``, the identity
    included) in ONE call to the wrapped evaluator; the priors of each image are mapped
    back to the position's actions (``back[sigma] = p_image``) and averaged, and so are the
    values. The answer is exactly equivariant: the images of a position get the same value
    and permuted priors, which a network trained on symmetric samples only approximates.
    AlphaGo Zero drew one image at random per evaluation instead (cheaper, but a random
    answer cannot be cached); KataGo averages its root evaluation over several
    (``rootNumSymmetriesToSample``). Cost: ``len(game.symmetries())`` times the network
    work per leaf (8 on the square boards, 2 in Connect Four), so at equal time the search
    gets fewer simulations; the README's "Symmetry averaging" gives the trade measured. A
    game whose only symmetry is the identity gets the wrapped evaluator's answers unchanged.

    Args:
        inner: an evaluator that reads observations and not states (a network).
        game: the game whose symmetries are averaged over (a declared-equivalent
            ``pettingzoo.classic`` env: the native game's, ``registry.symmetries_of``).

    Raises:
        ValueError: ``inner`` does not read observations, or needs states (a state cannot
            be transformed through an observation).
    """

    needs_observations = True
    needs_states = False

    def __init__(self, inner: object, game: Game) -> None:
        if not getattr(inner, "needs_observations", True) or getattr(inner, "needs_states", False):
            raise ValueError(
                f"symmetry averaging needs an evaluator of observations alone (a network); "
                f"{type(inner).__name__} reads "
                f"{'states' if getattr(inner, 'needs_states', False) else 'no observations'}"
            )
        self.inner = inner
        self.game = game
        self.deterministic = bool(getattr(inner, "deterministic", True))
        self._symmetries: list[Symmetry] | None = None
        self._inverses: list[np.ndarray] = []

    @property
    def symmetries(self) -> list[Symmetry]:
        """The game's symmetries (built on first use, so the evaluator pickles without them:
        their transforms are closures)."""
        if self._symmetries is None:
            from az_gym.envs.registry import symmetries_of

            self._symmetries = symmetries_of(self.game)
            self._inverses = [g.inverse_sigma for g in self._symmetries]
        return self._symmetries

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "_symmetries": None, "_inverses": []}

    def __call__(
        self, observations: np.ndarray | None, masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(priors float32[B, A], values float32[B])``, averaged over the images."""
        if observations is None:
            raise ValueError("SymmetryAveragedEvaluator needs the observations")
        syms, n = self.symmetries, masks.shape[0]
        if len(syms) == 1 and syms[0].name == "identity":
            return self.inner(observations, masks)
        obs = np.concatenate([g.transform_observation(observations) for g in syms])
        images = np.concatenate([masks[:, g.sigma] for g in syms])
        p_all, v_all = self.inner(obs, images)
        p_all, v_all = np.asarray(p_all), np.asarray(v_all)
        priors = np.zeros((n, masks.shape[1]), np.float64)
        for i, inv in enumerate(self._inverses):  # action b of the position is inv[b] there
            priors += p_all[i * n : (i + 1) * n][:, inv]
        values = v_all.reshape(len(syms), n).astype(np.float64).mean(0)
        return (priors / len(syms)).astype(np.float32), values.astype(np.float32)
