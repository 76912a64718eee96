"""The Gumbel root with the MCTS solver (``root_policy = "gumbel"``, ``solver = True``).

Boards as in ``tests/test_mcts_solver.py`` (tic-tac-toe cells ``r * 3 + c``, Connect Four
columns 0-6, ``X`` first). The waste measure: a descent that reaches an already proven
child stops there (its value is exact), so the visits of the edge ``(node, a)`` beyond the
one that created the child and those that went on below it,
``N(node, a) - 1 - sum_b N(child, b)``, are simulations spent on a proven child.
"""

from __future__ import annotations

import numpy as np
import pytest

from az_gym.envs.connect_four import ConnectFour
from az_gym.envs.tictactoe import TicTacToe
from az_gym.evaluators import UniformEvaluator
from az_gym.game import Game, State
from az_gym.mcts import BatchedMcts, MctsParams, SearchResult, play_policy

BACKENDS = ["numba", "numpy"]
C4, TTT = ConnectFour(), TicTacToe()


def play(game: Game, moves: list[int]) -> State:
    s = game.initial_state()
    for a in moves:
        s = game.next_state(s, a)
    return s


def search(
    game: Game, states: list[State], sims: int, backend: str = "numba", noise: bool = False,
    seed: int = 0, **kw,
) -> tuple[BatchedMcts, SearchResult]:  # fmt: skip
    params = MctsParams(num_iters_per_turn=sims, root_policy="gumbel", solver=True, **kw)
    mcts = BatchedMcts(
        game, UniformEvaluator(), params, backend=backend, rng=np.random.default_rng(seed)
    )
    return mcts, mcts.search(states, add_noise=noise)


def wasted(mcts: BatchedMcts, node: int) -> int:
    """Simulations that stopped at an already proven child of ``node`` (module docstring)."""
    pool = mcts._pool
    out = 0
    for a, c in enumerate(pool.C[node].tolist()):
        if c >= 0 and not np.isnan(pool.proven[c, 0]):
            out += int(pool.N[node, a] - 1 - pool.N[c].sum())
    return out


ONLY_DEFENCE = play(C4, [0, 1, 0, 1, 0])  # O must block column 0; columns 1-6 lose at once
# X . . . . . .
# X O . . . . .
# X O . . . . .


# ------------------------------------------------------------- 1. no visit to a proven child
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("sims", "k"), [(16, 1), (64, 1), (64, 4)])
def test_no_root_simulation_goes_to_a_proven_child(backend: str, sims: int, k: int) -> None:
    # Before the fix sequential halving kept forcing visits onto the proven losses (5 of 16).
    mcts, r = search(C4, [ONLY_DEFENCE], sims, backend, leaves_per_call=k)
    assert (r.proven_q[0, 1:] == -1.0).any()
    assert wasted(mcts, int(mcts._roots[0])) == 0
    assert r.simulations[0] == sims and r.visits[0].sum() == sims
    assert r.action[0] == 0  # the block is the selected action
    assert r.improved_policy[0, np.flatnonzero(r.proven_q[0] == -1.0)].sum() == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_noisy_searches_never_select_a_proven_loss(seed: int) -> None:
    # Gumbel noise reorders the considered actions; the selected action stays the block, no
    # budget goes to the proven losses, and the move played is the block.
    states = [ONLY_DEFENCE] * 3
    mcts, r = search(C4, states, 32, noise=True, seed=seed, max_num_considered_actions=4)
    for i in range(3):
        assert wasted(mcts, int(mcts._roots[i])) == 0
        assert r.action[i] == 0  # sampled, or a refill once the sampled moves are lost
    assert (play_policy(r, np.ones(3))[np.isin(r.proven_q, -1.0)] == 0).all()


def test_the_considered_set_is_refilled_once_every_sampled_action_is_lost() -> None:
    # . . . . . . X      O must block column 6. Two considered actions (0 and 1: uniform
    # . . . . . O X      priors, no noise) both lose; once they are proven (8 visits each:
    # . . . . . O X      X's replies are tried in column order), the moves never sampled
    #                    take their place, and the rest of the budget goes to the block.
    state = play(C4, [6, 5, 6, 5, 6])
    mcts, r = search(C4, [state], 64, max_num_considered_actions=2)
    assert (r.proven_q[0, :6] == -1.0).all()
    assert r.visits[0].tolist() == [8, 8, 8, 8, 8, 8, 16]
    assert r.action[0] == 6 and wasted(mcts, int(mcts._roots[0])) == 0
    assert play_policy(r, np.ones(1))[0].argmax() == 6


# ------------------------------------------- 2. the root's proof uses all its legal moves
@pytest.mark.parametrize("backend", BACKENDS)
def test_root_proven_through_moves_outside_the_considered_set_stops_early(backend: str) -> None:
    # X X .      O to move: 2 holds the draw, every other move loses at once. With two
    # . O .      considered actions (2 and 3: uniform priors, no noise) the root can only be
    # . . .      proven once the four moves never sampled are proven lost too.
    state = play(TTT, [0, 4, 1])
    mcts, r = search(TTT, [state], 3000, backend, max_num_considered_actions=2)
    assert r.proven_value[0] == 0.0
    assert r.simulations[0] < 3000
    assert (r.proven_q[0, [3, 5, 6, 7, 8]] == -1.0).all()
    assert r.action[0] == 2 and np.flatnonzero(r.choices[0]).tolist() == [2]
    assert wasted(mcts, int(mcts._roots[0])) == 0


def test_root_proof_counts_a_child_proven_in_an_earlier_search() -> None:
    # The first search (every move considered) proves the five losing moves; the second
    # search of the same position, reusing the tree, considers one action only (the block)
    # yet proves the root as soon as the block is proven a draw.
    state = play(TTT, [0, 4, 1])
    params = MctsParams(num_iters_per_turn=40, root_policy="gumbel", solver=True)
    mcts = BatchedMcts(TTT, UniformEvaluator(), params)
    first = mcts.search([state])
    assert np.isnan(first.proven_value[0]) and (first.proven_q[0, [3, 5, 6, 7, 8]] == -1).all()
    one = MctsParams(num_iters_per_turn=3000, root_policy="gumbel", solver=True,
                     max_num_considered_actions=1)  # fmt: skip
    mcts.params = one
    again = mcts.search([state])
    assert again.reused[0] and again.proven_value[0] == 0.0
    assert again.simulations[0] < 3000


# ------------------------------------------------ 3. below the root: the Gumbel rule
@pytest.mark.parametrize("backend", BACKENDS)
def test_proven_losses_below_the_root_are_never_selected(backend: str) -> None:
    # X to move plays column 0 (one considered action): below it O must block column 0, so
    # O's six other moves are proven losses, which the Gumbel rule must never visit again.
    # . . . . . . .      root: X to move
    # X O . . . . .
    # X O . . . . .
    root = play(C4, [0, 1, 0, 1])
    mcts, r = search(C4, [root], 200, backend, max_num_considered_actions=1)
    assert r.visits[0, 0] == 200
    o_node = int(mcts._pool.C[int(mcts._roots[0]), 0])
    pool = mcts._pool
    lost = [a for a in range(1, 7) if pool.proven[pool.C[o_node, a], pool.to_play[o_node]] == -1]
    assert len(lost) == 6
    assert wasted(mcts, o_node) == 0
    before = pool.N[o_node].copy()
    again = mcts.search([root])  # reused: every new visit below O goes to the block
    assert again.reused[0]
    o_node = int(mcts._pool.C[int(mcts._roots[0]), 0])
    assert np.array_equal(mcts._pool.N[o_node, 1:], before[1:])


# ------------------------------------------------------------------- both backends
@pytest.mark.parametrize("k", [1, 3])
def test_backends_agree_bit_for_bit(k: int) -> None:
    c4 = [ONLY_DEFENCE, play(C4, [3, 3, 2]), play(C4, [1, 1, 2, 2]), play(C4, [0, 1, 0, 1])]
    ttt = [play(TTT, [0, 4, 1]), play(TTT, [4]), play(TTT, [0, 1, 4, 8])]
    for game, states, sims, m in ((C4, c4, 96, 3), (TTT, ttt, 400, 2)):
        out = []
        for backend in BACKENDS:
            mcts, r1 = search(game, states, sims, backend, noise=True, seed=7,
                              max_num_considered_actions=m, leaves_per_call=k)  # fmt: skip
            r2 = mcts.search(states, add_noise=True)  # tree reuse
            out.append((r1, r2))
        fields = ("visits", "q", "root_value", "improved_policy", "action", "simulations",
                  "proven_value", "proven_q", "choices")  # fmt: skip
        for j in range(2):
            for f in fields:
                np.testing.assert_array_equal(
                    getattr(out[0][j], f), getattr(out[1][j], f), err_msg=f"{game.name} {f}"
                )
