"""The rules parameters obey: the field checks every parameters class runs in its
``__post_init__``, and the checks that need the game (:meth:`Params.validate_for_game
<az_gym.training.params.Params.validate_for_game>`).

Errors are :class:`ParamsError` and name the class, the field, the offending value and the
rule, e.g. ``SimParams.batch_size=64 must be <= num_workers=32``.
"""

from __future__ import annotations

import math
from typing import Any

from az_gym.mcts_params import MctsParams
from az_gym.schedules import Schedule, schedule_points


class ParamsError(ValueError):
    """A parameter value that breaks a rule; the message names the field and the rule."""


def require(ok: bool, owner: str, name: str, value: Any, rule: str) -> None:
    if not ok:
        raise ParamsError(f"{owner}.{name}={value!r} {rule}")


def check_count(owner: str, name: str, value: Any, minimum: int = 1) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    require(ok, owner, name, value, f"must be an integer >= {minimum}")


def check_real(owner: str, name: str, value: Any, lo: float, hi: float, rule: str) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and lo <= value <= hi
    require(ok, owner, name, value, rule)


def check_flag(owner: str, name: str, value: Any) -> None:
    require(isinstance(value, bool), owner, name, value, "must be true or false")


def check_schedule(owner: str, name: str, value: Any, lo: float, hi: float, rule: str) -> None:
    require(isinstance(value, Schedule), owner, name, value, "must be a schedule")
    for v in schedule_points(value):
        check_real(owner, name, v, lo, hi, f"takes the value {v!r}, but {rule}")


def check_mcts(owner: str, m: MctsParams) -> None:
    """Check that ``owner``'s ``mcts`` is an :class:`MctsParams` (which validated its own
    fields when it was built)."""
    require(isinstance(m, MctsParams), owner, "mcts", m, "must be an MctsParams")


def check_for_game(params: Any, game: Any) -> None:
    """The checks of a :class:`~az_gym.training.params.Params` (``params``) that need the
    game (an :class:`~az_gym.game.Game`); see :meth:`Params.validate_for_game
    <az_gym.training.params.Params.validate_for_game>`.

    Raises:
        ParamsError: the first rule ``params`` breaks on ``game``.
    """
    from az_gym._mcts_solver import check_solvable

    searches = [("self_play.mcts", params.self_play.mcts)]
    if params.arena is not None:
        searches.append(("arena.mcts", params.arena.mcts))
    for where, mcts in searches:
        if mcts.solver:
            try:
                check_solvable(game)
            except ValueError as e:
                raise ParamsError(f"Params.{where}.solver=True: {e}") from None
    syms = game.symmetries()
    has_syms = len(syms) > 1
    for where, mcts in searches:
        require(
            not mcts.symmetry_averaging or has_syms,
            f"Params.{where}",
            "symmetry_averaging",
            True,
            f"needs a game with symmetries; {game.name} has none",
        )
    sims = [("self_play.sim", params.self_play.sim)]
    if params.arena is not None:
        sims.append(("arena.sim", params.arena.sim))
    for where, sim in sims:
        require(
            sim.flip_probability == 0 or has_syms,
            f"Params.{where}",
            "flip_probability",
            sim.flip_probability,
            f"> 0 needs a game with symmetries; {game.name} has none",
        )
        if sim.flip_probability > 0:
            _check_state_transforms(game, syms[1:], f"Params.{where}", sim.flip_probability)
        require(
            not sim.alternate_colors or game.num_players == 2,
            f"Params.{where}",
            "alternate_colors",
            True,
            f"needs a two-player game; {game.name} has one player",
        )
    require(
        not params.use_symmetries or has_syms,
        "Params",
        "use_symmetries",
        True,
        f"needs a game with symmetries; {game.name} has none",
    )


def _check_state_transforms(game: Any, symmetries: list[Any], owner: str, value: float) -> None:
    """Flipping replaces the position by a symmetric one before each turn, so every
    non-identity symmetry must transform states (not only observations and policies):
    try each on the initial state now rather than fail mid-self-play."""
    state = game.initial_state()
    for sym in symmetries:
        try:
            game.apply_symmetry(state, sym)
        except NotImplementedError as e:
            raise ParamsError(
                f"{owner}.flip_probability={value!r} > 0 needs symmetries that transform "
                f"states; {game.name} cannot apply {sym.name!r} to a state ({e}); "
                "set flip_probability = 0 (symmetry augmentation, use_symmetries, still works)"
            ) from None
