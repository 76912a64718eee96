"""Depth-limited negamax with alpha-beta pruning and a transposition table.

Values are for the player to move at a node. A finished game is worth
``returns[mover] * WIN`` shortened by the number of plies from the root, so the search
prefers the fastest win and the slowest loss; a running position at the depth limit is
worth the game's static heuristic (:mod:`az_gym.agents.heuristics`), always inside
``(-1, 1)``. The side to move is read from the state after every move and never assumed
to alternate: a child with the same mover (an Othello pass) keeps the sign and the window.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import numpy as np

from az_gym.agents.analysis import MoveTable, signed
from az_gym.agents.baselines import SeededAgent
from az_gym.agents.heuristics import Heuristic, heuristic_for
from az_gym.game import Game, GameOverError, State

WIN = 1000.0
"""Value of a win at the root; a win ``k`` plies away is worth ``WIN - k``."""
_PROVEN = WIN / 2  # |value| above this is a proven result, not a heuristic score

MAX_UNTRUSTED_DEPTH = 12
"""The deepest search built from what a user typed or a file holds (the command line's
``alphabeta:DEPTH``, a run's benchmark): past it a Connect Four move takes minutes to hours.
A deeper one is built in Python (``AlphaBetaAgent(depth=...)``)."""
_TIE = 1e-9  # root values closer than this are equally good
_EXACT, _LOWER, _UPPER = 0, 1, 2
_UNLIMITED = 1 << 30


def _to_tt(value: float, ply: int) -> float:
    """Store proven results as a distance from the node rather than from the root."""
    if value > _PROVEN:
        return value + ply
    if value < -_PROVEN:
        return value - ply
    return value


def _from_tt(value: float, ply: int) -> float:
    """Inverse of :func:`_to_tt` at ``ply``."""
    if value > _PROVEN:
        return value - ply
    if value < -_PROVEN:
        return value + ply
    return value


def _describe(value: float, solved: bool) -> str:
    """A search value in words: ``"win in 3"``, ``"loss in 2"``, ``"draw"`` or ``"+0.250"``."""
    if value > _PROVEN:
        return f"win in {round(WIN - value)}"
    if value < -_PROVEN:
        return f"loss in {round(WIN + value)}"
    return "draw" if solved else signed(value)


class AlphaBetaAgent(SeededAgent):
    """Negamax alpha-beta player with iterative deepening and a transposition table.

    * Transposition table keyed by ``game.key(state)``: ``(depth, value, bound, best move)``
      with exact / lower / upper bound flags; emptied after every move.
    * Move ordering: the table's best move first, then the game heuristic's order (centre
      first in Connect Four, corners first in Othello, near-stone cells in Gomoku).
    * Root: iterative deepening ``1 .. depth``; among the moves of equal best value one is
      picked at random with the agent's Generator.
    * Games whose heuristic has ``solve=True`` (tictactoe) are searched to the end whatever
      ``depth`` says; unknown games use value 0 at the depth limit (a pure search).

    Args:
        depth: plies searched (>= 1), ``None`` for no limit (only for small games).
        heuristic: overrides the registered heuristic of the game (see
            :class:`~az_gym.agents.heuristics.Heuristic`).
        seed: seed of the Generator that breaks ties at the root.

    Raises:
        ValueError: ``depth`` is not a positive integer or ``None``.
    """

    name = "alphabeta"

    def __init__(
        self,
        depth: int | None = 5,
        heuristic: Heuristic | None = None,
        seed: int | np.random.SeedSequence | None = None,
    ) -> None:
        super().__init__(seed)
        if depth is not None and (
            isinstance(depth, bool) or not isinstance(depth, int) or depth < 1
        ):
            raise ValueError(f"depth={depth!r} must be a positive int or None (no limit)")
        self.depth = depth
        self.heuristic = heuristic
        self.nodes = 0
        """Positions visited by the last :meth:`act_state` / :meth:`search` call."""
        self._tt: dict[Hashable, tuple[int, float, int, int]] = {}

    # --------------------------------------------------------------- public API
    def act_state(self, game: Game, state: State) -> int:
        """Return one of the best moves found by the search (random among ties)."""
        _, best = self.search(game, state)
        return self._choice(best)

    def search(self, game: Game, state: State) -> tuple[float, list[int]]:
        """Search ``state``.

        Returns:
            ``(value, best_moves)``: the value for the player to move (``> 500``: a proven
            win, ``WIN - value`` plies away; ``< -500``: a proven loss; 0 a proven draw
            when searched to the end) and every root move of that value.

        Raises:
            GameOverError: ``state`` is terminal.
        """
        value, best, _ = self._search(game, state, None)
        return value, best

    def analyse(self, env_or_state: Any) -> MoveTable:
        """The value of every legal move at the agent's depth (an env or a ``(game, state)``).

        Each root move gets a full window, so every value is exact, not a bound; that costs
        more nodes than :meth:`search`, which only needs the best moves.
        """
        from az_gym.envs.registry import game_and_state

        game, state = game_and_state(env_or_state)
        values: dict[int, float] = {}
        value, best, depth = self._search(game, state, values)
        solved = depth == _UNLIMITED
        reach = "to the end" if solved else f"depth {depth}"
        summary = (
            f"{self.name}, {reach}: value {_describe(value, solved)}, best "
            f"{' '.join(game.action_to_string(a) for a in sorted(best))}, {self.nodes} positions"
        )
        order = sorted(values, key=lambda a: (-values[a], a))
        rows = tuple((a, (_describe(values[a], solved),)) for a in order)
        return MoveTable(game, state, summary, ("value",), rows)

    def _search(
        self, game: Game, state: State, values: dict[int, float] | None
    ) -> tuple[float, list[int], int]:
        """Iterative deepening; returns ``(value, best moves, depth reached)`` and, when
        ``values`` is given, fills it with each root move's exact value at that depth."""
        if game.is_terminal(state):
            raise GameOverError(f"{self.name}: the game is over; there is no move to choose")
        h = self.heuristic if self.heuristic is not None else heuristic_for(game)
        self._game, self._h = game, h
        self._tt = {}
        self.nodes = 0
        limit = _UNLIMITED if (h.solve or self.depth is None) else self.depth
        try:
            if limit == _UNLIMITED:
                return (*self._root(state, limit, values), limit)
            value, best = 0.0, game.legal_actions(state)
            for d in range(1, limit + 1):
                value, best = self._root(state, d, values)
                if abs(value) > _PROVEN:  # a proven result cannot change with more depth
                    break
            return value, best, d
        finally:
            self._tt = {}  # free the memory; nothing is reused across moves

    # ------------------------------------------------------------------ search
    def _ordered(self, state: State, tt_move: int | None) -> list[int]:
        """Legal moves, the transposition-table move first, then the heuristic order."""
        legal = self._game.legal_actions(state)
        moves = self._h.order(self._game, state, legal)
        if tt_move is not None and tt_move in legal:
            if tt_move in moves:
                moves.remove(tt_move)
            moves.insert(0, tt_move)
        return moves

    def _child_value(
        self, child: State, mover: int, depth: int, alpha: float, beta: float, ply: int
    ) -> float:
        """Value of ``child`` (reached at ``ply``) for ``mover``, the parent's player."""
        game = self._game
        if game.is_terminal(child):
            self.nodes += 1
            r = float(game.returns(child)[mover])
            return r * WIN - math.copysign(ply, r) if r else 0.0
        if game.to_play(child) == mover:
            return self._negamax(child, depth, alpha, beta, ply)
        return -self._negamax(child, depth, -beta, -alpha, ply)

    def _root(
        self, state: State, depth: int, values: dict[int, float] | None = None
    ) -> tuple[float, list[int]]:
        """One full-width root search; returns the best value and all moves that reach it.

        With ``values``, every move is searched with an open window and its exact value
        stored there (analysis); without, worse moves only get a bound.
        """
        mover = self._game.to_play(state)
        entry = self._tt.get(self._game.key(state))
        best_value, best_moves = -math.inf, []
        for a in self._ordered(state, entry[3] if entry else None):
            child = self._game.next_state(state, a)
            # Window (best - tie, inf): a move that might tie the best gets an exact value.
            low = -math.inf if values is not None else best_value - _TIE
            v = self._child_value(child, mover, depth - 1, low, math.inf, 1)
            if values is not None:
                values[a] = v
            if v > best_value + _TIE:
                best_value, best_moves = v, [a]
            elif v >= best_value - _TIE:
                best_moves.append(a)
        self._tt[self._game.key(state)] = (depth, best_value, _EXACT, best_moves[0])
        return best_value, best_moves

    def _negamax(self, state: State, depth: int, alpha: float, beta: float, ply: int) -> float:
        """Alpha-beta value of the running ``state`` for its mover (fail-soft)."""
        self.nodes += 1
        game = self._game
        if depth <= 0:
            return self._h.evaluate(game, state)
        key = game.key(state)
        entry = self._tt.get(key)
        tt_move = None
        if entry is not None:
            e_depth, e_value, flag, tt_move = entry
            if e_depth >= depth:
                v = _from_tt(e_value, ply)
                if flag == _EXACT:
                    return v
                if flag == _LOWER:
                    alpha = max(alpha, v)
                else:
                    beta = min(beta, v)
                if alpha >= beta:
                    return v
        alpha0 = alpha
        mover = game.to_play(state)
        best, best_move = -math.inf, -1
        for a in self._ordered(state, tt_move):
            v = self._child_value(game.next_state(state, a), mover, depth - 1, alpha, beta, ply + 1)
            if v > best:
                best, best_move = v, a
                if v > alpha:
                    alpha = v
                    if alpha >= beta:
                        break
        flag = _UPPER if best <= alpha0 else _LOWER if best >= beta else _EXACT
        self._tt[key] = (depth, _to_tt(best, ply), flag, best_move)
        return best
