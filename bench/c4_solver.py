"""An exact Connect Four solver (7 columns x 6 rows), the yardstick of ``bench/strength.py``.

Algorithm: Pascal Pons' solver ("Solving Connect 4: how to build a perfect AI", 2015-2019)
compiled with numba: bitboard negamax with alpha-beta in null windows (a binary search
on the score, as in MTD(f)), a transposition table of lower and upper bounds, pruning of
the moves that let the opponent win at once, and move ordering by the number of winning
cells a move creates (ties: centre column first).

Bitboards are those of :mod:`az_gym.envs.connect_four`: bit ``7 * col + row`` (row 0 at
the bottom, bit 6 of each column a sentinel). A position is ``(current, mask)``: the
stones of the player to move and all stones, exactly the native state's first two fields.

Scores (Pons' convention), for the player to move in a position with ``n`` stones played:
``0`` a draw; a positive score ``s`` a win with the winner's ``s``-th-to-last stone, i.e.
``s = (43 - m) // 2`` where ``m`` stones stand before the winning one (faster wins score
higher); a negative score a loss, mirrored. :func:`plies_to_end` converts a score to the
number of plies until the win. ``UNSOLVED`` marks a search cut by its node budget.

The transposition table persists across calls (its bounds are facts about positions,
whatever the window that found them), so labelling many positions of one game gets faster.
"""

from __future__ import annotations

import numba
import numpy as np

WIDTH, HEIGHT = 7, 6
CELLS = WIDTH * HEIGHT
MIN_SCORE = -(CELLS // 2) + 3  # the fastest possible loss
MAX_SCORE = (CELLS + 1) // 2 - 3  # the fastest possible win
UNSOLVED = -128
"""Score of a move whose search ran past its node budget (or of an illegal move)."""

_BOTTOM = sum(1 << (c * (HEIGHT + 1)) for c in range(WIDTH))
_BOARD = _BOTTOM * ((1 << HEIGHT) - 1)
_ORDER = np.array([3, 2, 4, 1, 5, 0, 6], dtype=np.int64)  # centre first
_TT_SIZE = (1 << 23) + 9  # a prime near 8M entries (~90 MB)
_tt_key = np.zeros(_TT_SIZE, dtype=np.int64)
_tt_lower = np.zeros(_TT_SIZE, dtype=np.int8)
_tt_upper = np.zeros(_TT_SIZE, dtype=np.int8)


@numba.njit(cache=True, inline="always")
def _winning_cells(pos: int, mask: int) -> int:
    """Empty cells (on the board) where one more stone of ``pos`` makes four."""
    h = HEIGHT
    r = (pos << 1) & (pos << 2) & (pos << 3)  # vertical: only upwards
    for d in (h + 1, h, h + 2):  # horizontal, both diagonals
        p = (pos << d) & (pos << (2 * d))
        r |= p & (pos << (3 * d))
        r |= p & (pos >> d)
        p = (pos >> d) & (pos >> (2 * d))
        r |= p & (pos << d)
        r |= p & (pos >> (3 * d))
    return r & (_BOARD ^ mask)


@numba.njit(cache=True, inline="always")
def _popcount(x: int) -> int:
    c = 0
    while x:
        x &= x - 1
        c += 1
    return c


@numba.njit(cache=True, inline="always")
def _column(col: int) -> int:
    return ((1 << HEIGHT) - 1) << (col * (HEIGHT + 1))


@numba.njit(cache=True)
def _non_losing_moves(cur: int, mask: int) -> int:
    """Cells the mover may play without letting the opponent win next move (0: none)."""
    possible = (mask + _BOTTOM) & _BOARD
    threats = _winning_cells(cur ^ mask, mask)
    forced = possible & threats
    if forced:
        if forced & (forced - 1):  # two cells to block: lost
            return 0
        possible = forced
    return possible & ~(threats >> 1)  # never play just below an opponent's winning cell


@numba.njit(cache=True)
def _negamax(cur, mask, moves, alpha, beta, budget, keys, lower, upper):
    """Score of ``(cur, mask)`` within ``(alpha, beta)``; the mover cannot win at once.

    ``budget[0]`` counts nodes down; below zero the search unwinds (``budget[1] = 1``) and
    stores nothing more.
    """
    budget[0] -= 1
    if budget[0] < 0:
        budget[1] = 1
        return 0
    nxt = _non_losing_moves(cur, mask)
    if nxt == 0:
        return -((CELLS - moves) // 2)
    if moves >= CELLS - 2:
        return 0
    lo = -((CELLS - 2 - moves) // 2)
    hi = (CELLS - 1 - moves) // 2
    key = cur + mask
    slot = key % _TT_SIZE
    if keys[slot] == key:
        lo = max(lo, np.int64(lower[slot]))
        hi = min(hi, np.int64(upper[slot]))
    if alpha < lo:
        alpha = lo
    if beta > hi:
        beta = hi
    if alpha >= beta:
        return alpha
    cand = np.empty(WIDTH, dtype=np.int64)
    score = np.empty(WIDTH, dtype=np.int64)
    n = 0
    for i in range(WIDTH):  # insertion sort, best first, stable (centre first on ties)
        m = nxt & _column(_ORDER[i])
        if m:
            s = _popcount(_winning_cells(cur | m, mask))
            j = n
            while j > 0 and score[j - 1] < s:
                cand[j], score[j] = cand[j - 1], score[j - 1]
                j -= 1
            cand[j], score[j] = m, s
            n += 1
    alpha0 = alpha
    best = alpha
    for i in range(n):
        v = -_negamax(
            cur ^ mask, mask | cand[i], moves + 1, -beta, -best, budget, keys, lower, upper
        )
        if budget[1]:
            return 0
        if v >= beta:
            _store(keys, lower, upper, slot, key, v, hi)
            return v
        if v > best:
            best = v
    _store(keys, lower, upper, slot, key, best if best > alpha0 else lo, best)
    return best


@numba.njit(cache=True, inline="always")
def _store(keys, lower, upper, slot, key, lo, hi):
    """Record bounds ``lo <= value <= hi`` (tightening those already known for ``key``)."""
    if keys[slot] == key:
        lo = max(lo, np.int64(lower[slot]))
        hi = min(hi, np.int64(upper[slot]))
    keys[slot] = key
    lower[slot] = lo
    upper[slot] = hi


@numba.njit(cache=True)
def _solve(cur, mask, moves, weak, budget, keys, lower, upper):
    """Exact score of a non-terminal position (``weak``: only its sign), or ``UNSOLVED``."""
    if _winning_cells(cur, mask) & (mask + _BOTTOM) & _BOARD:
        return (CELLS + 1 - moves) // 2
    lo = -((CELLS - moves) // 2)
    hi = (CELLS + 1 - moves) // 2
    if weak:
        lo, hi = -1, 1
    while lo < hi:  # null-window searches, halving the score interval
        med = lo + (hi - lo) // 2
        if med <= 0 and lo // 2 < med:
            med = lo // 2
        elif med >= 0 and hi // 2 > med:
            med = hi // 2
        r = _negamax(cur, mask, moves, med, med + 1, budget, keys, lower, upper)
        if budget[1]:
            return UNSOLVED
        if r <= med:
            hi = r
        else:
            lo = r
    return lo


@numba.njit(cache=True)
def _move_scores(cur, mask, moves, weak, budget, keys, lower, upper):
    out = np.full(WIDTH, UNSOLVED, dtype=np.int64)
    for c in range(WIDTH):
        m = ((mask + _BOTTOM) & _BOARD) & _column(c)
        if m == 0:
            continue
        if _winning_cells(cur, mask) & m:
            out[c] = (CELLS + 1 - moves) // 2
        elif moves + 1 == CELLS:
            out[c] = 0
        else:
            s = _solve(cur ^ mask, mask | m, moves + 1, weak, budget, keys, lower, upper)
            out[c] = UNSOLVED if s == UNSOLVED else -s
        if budget[1]:
            out[c] = UNSOLVED
            budget[1] = 0
            budget[0] = 0  # the budget is spent: the remaining moves stay unsolved
    return out


def move_scores(current: int, mask: int, *, weak: bool = False, budget: int = 10**8) -> np.ndarray:
    """``int64[7]``: the score (module docstring) of each column for the player to move.

    Args:
        current: stones of the player to move (native ``ConnectFourState.current``).
        mask: all stones (``ConnectFourState.mask``); the position must not be over.
        weak: only win/draw/loss (scores ``1, 0, -1``), much faster than the distance.
        budget: the most negamax nodes for the whole position; moves not solved within it,
            and full columns, read ``UNSOLVED``.
    """
    moves = bin(mask).count("1")
    b = np.array([budget, 0], dtype=np.int64)
    out = _move_scores(current, mask, moves, weak, b, _tt_key, _tt_lower, _tt_upper)
    if weak:
        out = np.where(out == UNSOLVED, UNSOLVED, np.sign(out))
    return out


def solve(current: int, mask: int, *, weak: bool = False, budget: int = 10**8) -> int:
    """Score of the position for the player to move (``UNSOLVED`` past ``budget`` nodes)."""
    moves = bin(mask).count("1")
    b = np.array([budget, 0], dtype=np.int64)
    s = int(_solve(current, mask, moves, weak, b, _tt_key, _tt_lower, _tt_upper))
    return s if s == UNSOLVED or not weak else outcome(s)


def outcome(score: int) -> int:
    """``+1`` win, ``0`` draw, ``-1`` loss for the player the score belongs to."""
    return int(np.sign(score))


def plies_to_end(score: int, moves: int) -> int | None:
    """Plies from a position with ``moves`` stones until the win a non-zero ``score``
    announces (1: the mover wins with this move); ``None`` for a draw."""
    if score == 0:
        return None
    s = abs(score)
    parity = (moves + (score < 0)) % 2  # a loss: the opponent's stones, one ply later
    stones_before = 43 - 2 * s if (43 - 2 * s) % 2 == parity else 42 - 2 * s
    return stones_before + 1 - moves


def position(moves: str) -> tuple[int, int]:
    """``(current, mask)`` after a move string of columns counted from 1 (``"4453"``).

    Raises:
        ValueError: a character that is no column, a stone in a full column.
    """
    cur = mask = 0
    for ch in moves:
        col = int(ch) - 1
        if not 0 <= col < WIDTH or mask >> (col * (HEIGHT + 1) + HEIGHT - 1) & 1:
            raise ValueError(f"move {ch!r} of {moves!r}: no such column, or a full one")
        cur ^= mask
        mask |= mask + (1 << (col * (HEIGHT + 1)))
    return cur, mask


def main(argv: list[str] | None = None) -> None:
    """Print the score of each column after a move string (``python bench/c4_solver.py
    4453 [--weak] [--budget NODES]``; no moves: the empty board)."""
    import argparse
    import time

    ap = argparse.ArgumentParser(
        description=" ".join(main.__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    ap.add_argument("moves", nargs="?", default="", help="columns played, counted from 1")
    ap.add_argument("--weak", action="store_true", help="win/draw/loss only")
    ap.add_argument("--budget", type=float, default=1e9, help="negamax nodes at most")
    args = ap.parse_args(argv)
    try:
        cur, mask = position(args.moves)
    except ValueError as exc:
        ap.error(str(exc))
    from az_gym.envs.connect_four import ConnectFour  # the rules, to refuse a finished game

    game = ConnectFour()
    state = game.initial_state()
    for ch in args.moves:
        if game.is_terminal(state):
            ap.error(f"the game of {args.moves!r} is over before its last moves")
        state = game.next_state(state, int(ch) - 1)
    if game.is_terminal(state):
        ap.error(f"the game of {args.moves!r} is over: no move to solve")
    t0 = time.perf_counter()
    scores = move_scores(cur, mask, weak=args.weak, budget=int(args.budget))
    for col, s in enumerate(scores, 1):
        text = "unsolved or full" if s == UNSOLVED else ("win", "draw", "loss")[1 - outcome(s)]
        plies = plies_to_end(int(s), len(args.moves)) if s != UNSOLVED and not args.weak else None
        print(f"column {col}: {text}" + (f" in {plies} plies (score {s})" if plies else ""))
    print(f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
