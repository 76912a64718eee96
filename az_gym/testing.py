"""Conformance checks for the :class:`~az_gym.game.Game` contract (public API).

:func:`check_game` plays seeded random games and checks, at every position reached, each law
that search and training rely on (pgx's ``api_test``, AlphaZero.jl's ``test_game``). Run it on
a game of your own before training on it::

    from az_gym.testing import check_game
    check_game(MyGame())                         # raises AssertionError naming the law

Laws (``s`` a reached state, ``A = num_actions``, ``g`` a symmetry with permutation ``sigma``):

* *shape*: 1 or 2 players, ``A >= 1``; the identity symmetry comes first and every ``sigma``
  is a permutation of ``0 .. A-1``;
* *mask*: ``legal_mask(s)`` is ``bool[A]``, empty exactly when ``is_terminal(s)``;
* *returns*: ``float[num_players]``, zeros while running, finite once over;
* *to_play*: in ``0 .. num_players - 1`` while running;
* *observation*: ``float32`` of shape ``observation_shape`` for the mover and every player;
  the batched ``observations``/``legal_masks`` equal the one-state calls;
* *key*: hashable and stable (the same key each time it is asked); two reached states with
  one key have the same mover, mask and observations (keys tell distinct states apart);
* *no mutation*: ``next_state(s, a)`` leaves ``s`` as it was (key, mask, mover, observation,
  returns); ``step`` refuses an illegal action and a finished game;
* *symmetry*: ``transform_observation`` keeps shape and dtype and works on a batch; where the
  game transforms states, ``legal_mask(g(s)) == legal_mask(s)[sigma]``,
  ``observation(g(s)) == g.transform_observation(observation(s))`` for every player, and
  ``g(s)`` keeps the mover, the terminal flag and the returns. A game whose
  ``apply_symmetry`` raises ``NotImplementedError`` (observation-only symmetries, allowed for
  augmentation) skips the state laws.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from az_gym.game import Game, GameOverError, IllegalActionError, State, Symmetry

__all__ = ["check_game", "random_openings"]


def _fail(game: Game, law: str, detail: str) -> AssertionError:
    return AssertionError(f"check_game({game.game_id}): {law}: {detail}")


def _check(ok: bool, game: Game, law: str, detail: str) -> None:
    if not ok:
        raise _fail(game, law, detail)


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


class _Snapshot:
    """Everything observable about a state, to compare before and after a call."""

    def __init__(self, game: Game, s: State) -> None:
        self.key = game.key(s)
        self.terminal = bool(game.is_terminal(s))
        self.mask = np.array(game.legal_mask(s), copy=True)
        self.returns = np.array(game.returns(s), dtype=np.float64, copy=True)
        self.to_play = None if self.terminal else int(game.to_play(s))
        players = range(game.num_players)
        self.obs = [np.array(game.observation(s, p), copy=True) for p in players]

    def same(self, other: _Snapshot) -> bool:
        return (
            self.key == other.key
            and self.terminal == other.terminal
            and self.to_play == other.to_play
            and _equal(self.mask, other.mask)
            and _equal(self.returns, other.returns)
            and all(_equal(a, b) for a, b in zip(self.obs, other.obs))
        )


def check_game(
    game: Any, *, num_playouts: int = 10, seed: int = 0, max_moves: int = 500, probes: int = 3
) -> None:
    """Check that ``game`` keeps the laws of the game contract (module docstring).

    Args:
        game: the game to check: anything :func:`az_gym.envs.registry.as_game` takes (a
            registry name, your own :class:`Game`, a PettingZoo AEC env or its factory, a
            Gymnasium env...); returns quietly when every law holds.
        num_playouts: random games played from the initial state.
        seed: seeds the move choices (a ``numpy`` Generator); the same seed replays the same
            games.
        max_moves: a playout stops (without failing) after this many moves.
        probes: besides the move played, this many random legal actions are tried at every
            position to check that ``next_state`` leaves the state alone.

    Raises:
        AssertionError: the first broken law, as ``check_game(<game_id>): <law>: <detail>``.
    """
    from az_gym.envs.registry import as_game

    game = as_game(game)
    _check_shape(game)
    rng = np.random.default_rng(seed)
    by_key: dict[Hashable, _Snapshot] = {}
    for _ in range(num_playouts):
        s = game.initial_state()
        for _move in range(max_moves + 1):
            snap = _check_state(game, s, by_key)
            if snap.terminal:
                _check_finished(game, s)
                break
            legal = np.flatnonzero(snap.mask)
            tried = rng.choice(legal, size=min(probes, legal.size), replace=False).tolist()
            played = int(rng.choice(legal))
            for a in [*tried, played]:
                game.next_state(s, int(a))
            _check(
                _Snapshot(game, s).same(snap),
                game,
                "no mutation",
                f"next_state changed the state it was given (actions {[*tried, played]})",
            )
            if legal.size < game.num_actions:
                illegal = int(np.flatnonzero(~snap.mask)[0])
                _raises(game, IllegalActionError, game.step, (s, illegal), "an illegal action")
            s = game.next_state(s, played)


def _check_shape(game: Game) -> None:
    _check(game.num_players in (1, 2), game, "shape", f"num_players = {game.num_players!r}")
    a = game.num_actions
    _check(isinstance(a, (int, np.integer)) and a >= 1, game, "shape", f"num_actions = {a!r}")
    syms = game.symmetries()
    _check(len(syms) >= 1, game, "symmetry", "symmetries() is empty; the identity comes first")
    _check(
        np.array_equal(syms[0].sigma, np.arange(a)),
        game,
        "symmetry",
        f"the first symmetry {syms[0].name!r} is not the identity",
    )
    for sym in syms:
        _check(
            isinstance(sym, Symmetry) and sorted(np.asarray(sym.sigma).tolist()) == list(range(a)),
            game,
            "symmetry",
            f"{getattr(sym, 'name', sym)!r}: sigma is not a permutation of 0 .. {a - 1}",
        )


def _check_state(game: Game, s: State, by_key: dict[Hashable, _Snapshot]) -> _Snapshot:
    """The per-position laws; returns the state's snapshot."""
    snap = _Snapshot(game, s)
    a, n = game.num_actions, game.num_players
    mask = snap.mask
    _check(mask.dtype == bool and mask.shape == (a,), game, "mask",
           f"legal_mask is {mask.dtype}{list(mask.shape)}, not bool[{a}]")  # fmt: skip
    _check(
        mask.any() != snap.terminal,
        game,
        "mask",
        "the mask is empty in a running state"
        if not snap.terminal
        else f"a terminal state has legal actions {np.flatnonzero(mask).tolist()}",
    )
    r = snap.returns
    _check(r.shape == (n,), game, "returns", f"returns has shape {r.shape}, not ({n},)")
    if snap.terminal:
        _check(bool(np.isfinite(r).all()), game, "returns", f"final returns {r} are not finite")
    else:
        _check(not r.any(), game, "returns", f"returns {r.tolist()} are not zero while running")
        _check(snap.to_play in range(n), game, "to_play", f"to_play = {snap.to_play!r}")
    for p, obs in enumerate(snap.obs):
        _check(
            obs.dtype == np.float32 and obs.shape == tuple(game.observation_shape),
            game,
            "observation",
            f"observation(s, player={p}) is {obs.dtype}{list(obs.shape)}, not "
            f"float32{list(game.observation_shape)}",
        )
    if not snap.terminal:
        _check(_equal(np.asarray(game.legal_masks([s, s])[1]), mask), game, "observation",
               "legal_masks([s])[i] differs from legal_mask(s)")  # fmt: skip
        _check(_equal(np.asarray(game.observations([s, s])[1]), snap.obs[snap.to_play]), game,
               "observation", "observations([s])[i] differs from observation(s)")  # fmt: skip
    _check_key(game, s, snap, by_key)
    _check(isinstance(game.render(s), str), game, "render", "render(s) is not a str")
    for sym in game.symmetries()[1:]:
        _check_symmetry(game, s, snap, sym)
    return snap


def _check_key(game: Game, s: State, snap: _Snapshot, by_key: dict[Hashable, _Snapshot]) -> None:
    try:
        hash(snap.key)
    except TypeError:
        raise _fail(game, "key", f"key(s) = {snap.key!r} is not hashable") from None
    _check(game.key(s) == snap.key, game, "key", "key(s) changed between two calls")
    seen = by_key.setdefault(snap.key, snap)
    same = (
        seen.terminal == snap.terminal
        and seen.to_play == snap.to_play
        and _equal(seen.mask, snap.mask)
        and all(_equal(x, y) for x, y in zip(seen.obs, snap.obs))
    )
    _check(same, game, "key", f"two states with different mover, mask or observations share "
           f"the key {snap.key!r}")  # fmt: skip


def _check_symmetry(game: Game, s: State, snap: _Snapshot, sym: Symmetry) -> None:
    obs = snap.obs[0]
    moved = np.asarray(sym.transform_observation(obs))
    law = f"symmetry {sym.name!r}"
    _check(moved.shape == obs.shape and moved.dtype == obs.dtype, game, law,
           f"transform_observation gives {moved.dtype}{list(moved.shape)}")  # fmt: skip
    batch = np.asarray(sym.transform_observation(obs[None]))
    _check(_equal(batch[0], moved), game, law, "transform_observation of a batch differs")
    try:
        t = game.apply_symmetry(s, sym)
    except NotImplementedError:
        return  # observation-only symmetries: good for augmentation, not for flips
    tsnap = _Snapshot(game, t)
    _check(_equal(tsnap.mask, snap.mask[sym.sigma]), game, law,
           "legal_mask(g(s)) != legal_mask(s)[sigma]")  # fmt: skip
    for p in range(game.num_players):
        expected = np.asarray(sym.transform_observation(snap.obs[p]))
        rule = f"observation(g(s), {p}) != g.transform_observation(observation(s, {p}))"
        _check(_equal(tsnap.obs[p], expected), game, law, rule)
    _check(
        tsnap.terminal == snap.terminal
        and tsnap.to_play == snap.to_play
        and _equal(tsnap.returns, snap.returns),
        game,
        law,
        "g(s) changed the mover, the terminal flag or the returns",
    )
    _check(_Snapshot(game, s).same(snap), game, "no mutation", f"apply_symmetry({sym.name!r}) "
           "changed the state it was given")  # fmt: skip


def _check_finished(game: Game, s: State) -> None:
    _raises(game, GameOverError, game.step, (s, 0), "a finished game")


def _raises(game: Game, error: type[Exception], call: Any, args: tuple, what: str) -> None:
    try:
        call(*args)
    except error:
        return
    raise _fail(game, "step", f"step accepted {what} (expected {error.__name__})")


def random_openings(game: Game, seed: int, count: int, max_plies: int) -> list[State]:
    """``count`` running positions, each after ``0 .. max_plies`` uniformly random legal
    moves from the start (a game that ends on the way is dropped and drawn again); the same
    ``seed`` gives the same positions (the golden search data depends on that order)."""
    rng = np.random.default_rng(seed)
    out: list[State] = []
    while len(out) < count:
        s = game.initial_state()
        for _ in range(int(rng.integers(0, max_plies + 1))):
            s = game.next_state(s, int(rng.choice(np.flatnonzero(game.legal_mask(s)))))
            if game.is_terminal(s):
                break
        if not game.is_terminal(s):
            out.append(s)
    return out
