"""Leaf-parallel search (``MctsParams.leaves_per_call = k``): ``k`` descents per tree per
evaluator call under virtual loss; known answers, budgets, backends, golden, agents."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from az_gym.envs.connect_four import ConnectFour
from az_gym.envs.gomoku import Gomoku
from az_gym.envs.tictactoe import TicTacToe
from az_gym.evaluators import RolloutEvaluator, UniformEvaluator
from az_gym.mcts import BatchedMcts, MctsParams

BACKENDS = ["numpy", "numba"]


class _CountingEvaluator:
    """Value 0; prior ``peak`` on the lowest legal action and the rest spread evenly
    (``None``: uniform). Records the number of positions of each call."""

    needs_observations = False

    def __init__(self, peak: float | None = None) -> None:
        self.peak = peak
        self.batch_sizes: list[int] = []

    def __call__(self, observations, masks):
        self.batch_sizes.append(len(masks))
        m = masks.astype(np.float64)
        if self.peak is None:
            return m / m.sum(1, keepdims=True), np.zeros(len(m))
        p = m * (1.0 - self.peak) / np.maximum(m.sum(1, keepdims=True) - 1, 1)
        p[np.arange(len(m)), masks.argmax(1)] = self.peak
        return p, np.zeros(len(m))


def _play(game, moves):
    s = game.initial_state()
    for a in moves:
        s = game.next_state(s, a)
    return s


@pytest.mark.parametrize("backend", BACKENDS)
def test_virtual_loss_makes_the_descents_differ(backend: str) -> None:
    """One step of k = 4 from a fresh root: with virtual loss the four descents reach four
    different children; without it (virtual_loss = 0) the peaked prior sends them all to
    the same unexpanded edge, which is expanded once and backed up four times."""
    game = ConnectFour()
    ev = _CountingEvaluator(peak=0.94)
    for vl, visits, size in ((1.0, [1, 1, 1, 1, 0, 0, 0], 5), (0.0, [4, 0, 0, 0, 0, 0, 0], 2)):
        params = MctsParams(num_iters_per_turn=4, leaves_per_call=4, virtual_loss=vl, cpuct=1.0)
        mcts = BatchedMcts(game, ev, params, backend=backend)
        res = mcts.search([game.initial_state()])
        assert res.visits[0].tolist() == visits
        assert mcts.tree_size(0) == size
    # root, then one call for the 4 leaves (twice: one per virtual loss)
    assert ev.batch_sizes == [1, 4, 1, 1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_duplicate_leaf_is_expanded_once_and_backed_up_each_time(backend: str) -> None:
    """Tic-tac-toe with two empty squares: k = 4 descents take each move twice (the virtual
    loss ties them again); each edge's node is made once and holds two visits."""
    game = TicTacToe()
    s = _play(game, [0, 1, 2, 4, 3, 5, 7])  # X O X / X O O / _ X _ : O to move, 6 and 8 left
    assert np.flatnonzero(game.legal_mask(s)).tolist() == [6, 8]
    ev = _CountingEvaluator()
    mcts = BatchedMcts(game, ev, MctsParams(num_iters_per_turn=4, leaves_per_call=4),
                       backend=backend)  # fmt: skip
    res = mcts.search([s])
    assert res.visits[0, [6, 8]].tolist() == [2.0, 2.0]
    assert mcts.tree_size(0) == 3
    assert ev.batch_sizes == [1, 2]


@pytest.mark.parametrize("k", [1, 3, 8])
@pytest.mark.parametrize("sims", [1, 7, 50])
def test_visit_totals_equal_the_budget(k: int, sims: int) -> None:
    """Every descent is one visit, the last step takes what is left of the budget, and the
    virtual loss leaves no pending visit behind; in lockstep and after tree reuse too."""
    game = ConnectFour()
    mcts = BatchedMcts(game, UniformEvaluator(), MctsParams(num_iters_per_turn=sims,
                                                            leaves_per_call=k))  # fmt: skip
    states = [game.initial_state(), _play(game, [3]), _play(game, [3, 3, 2])]
    first = mcts.search(states)
    assert first.visits.sum(1).tolist() == [sims] * 3
    nxt = [_play(game, [3]), _play(game, [3, 3]), _play(game, [3, 3, 2, 2])]
    second = mcts.search(nxt)
    edges = [first.visits[0, 3], first.visits[1, 3], first.visits[2, 2]]
    kept = [n - 1 if n > 0 else 0 for n in edges]  # the first visit expanded the child
    assert second.reused.tolist() == [n > 0 for n in edges]
    assert second.visits.sum(1).tolist() == [sims + c for c in kept]
    n = mcts._pool.N[: mcts.num_nodes]
    assert np.array_equal(n, np.round(n)) and n.min() >= 0


@pytest.mark.parametrize("k", [2, 5])
def test_backends_agree(k: int) -> None:
    """numba and numpy give bit-identical leaf-parallel searches: Dirichlet noise, first-play
    urgency, discounting, rollouts (terminal leaves), Gumbel roots, the solver, lockstep
    trees and tree reuse; every search spends its budget exactly."""
    c4, gk, ttt = ConnectFour(), Gomoku(9), TicTacToe()
    cases = [
        (c4, lambda: RolloutEvaluator(c4, rng=np.random.default_rng(3)),
         MctsParams(num_iters_per_turn=60, leaves_per_call=k, gamma=0.95),
         [c4.initial_state(), _play(c4, [3, 3, 4])], [[3], [2]]),
        (gk, UniformEvaluator, MctsParams(num_iters_per_turn=70, leaves_per_call=k,
                                          fpu_reduction=0.25, virtual_loss=0.5),
         [_play(gk, [40, 41, 31, 49])], [[32]]),
        (ttt, UniformEvaluator, MctsParams(num_iters_per_turn=90, leaves_per_call=k),
         [ttt.initial_state(), _play(ttt, [4])], [[4, 0], [0, 8]]),
        (c4, UniformEvaluator, MctsParams(num_iters_per_turn=40, leaves_per_call=k,
                                          root_policy="gumbel", max_num_considered_actions=4),
         [c4.initial_state(), _play(c4, [3])], [[3], [2]]),
        (c4, UniformEvaluator, MctsParams(num_iters_per_turn=120, leaves_per_call=k,
                                          solver=True),
         [_play(c4, [0, 6, 0, 6, 1, 5]), _play(c4, [3, 3, 2])], [[0], [4]]),
    ]  # fmt: skip
    for game, make_ev, params, states, replies in cases:
        out = {}
        for backend in BACKENDS:
            mcts = BatchedMcts(game, make_ev(), params, backend=backend,
                               rng=np.random.default_rng(5))  # fmt: skip
            r1 = mcts.search(states, add_noise=True)
            r2 = mcts.search([_after(game, s, m) for s, m in zip(states, replies)])
            assert r1.visits.sum(1).tolist() == [params.num_iters_per_turn] * len(states)
            out[backend] = [r1.visits, r1.q, r1.root_value, r2.visits, r2.q, r2.reused]
        for a, b in zip(out["numpy"], out["numba"]):
            assert np.array_equal(a, b)


def _after(game, state, moves):
    for a in moves:
        state = game.next_state(state, a)
    return state


def test_k1_reproduces_the_golden_file(monkeypatch) -> None:
    """``leaves_per_call = 1`` is the sequential search whatever the virtual loss: the
    golden cases, rebuilt with it set explicitly, match the recorded visits."""
    from tests import test_golden

    monkeypatch.setattr(
        test_golden, "MctsParams",
        functools.partial(MctsParams, leaves_per_call=1, virtual_loss=3.0),
    )  # fmt: skip
    golden = test_golden._golden()
    for name, case in sorted(test_golden._cases().items()):
        assert case("numba") == golden[name], name


@pytest.mark.parametrize("k", [4, 16])
def test_win_in_one_is_still_found(k: int) -> None:
    """Connect Four, X to move with three in column 0: both the free evaluator and the
    shipped agent at leaves_per_call = k play the winning column."""
    from az_gym import pretrained

    game = ConnectFour()
    s = _play(game, [0, 6, 0, 6, 0, 5])
    res = BatchedMcts(game, UniformEvaluator(),
                      MctsParams(num_iters_per_turn=64, leaves_per_call=k)).search([s])  # fmt: skip
    assert int(res.visits[0].argmax()) == 0
    agent = pretrained("connect_four", simulations=64, leaves_per_call=k)
    assert agent.params.leaves_per_call == k
    assert agent.act_state(game, s) == 0


def test_the_shipped_gomoku_agent_still_wins_and_blocks_at_the_play_default() -> None:
    """64 simulations in 8 steps of 8 leaves: X's only winning point, O's only block."""
    from az_gym import pretrained

    agent = pretrained("gomoku", simulations=64)
    game = agent.game
    for moves, answer in (("d2 c1 e3 a9 f4 i9 g5 a8", "h6"), ("c5 b5 d5 a1 e5 i1 f5", "g5")):
        s = game.initial_state()
        for m in moves.split():
            s = game.step(s, game.string_to_action(m))
        assert game.action_to_string(agent.act_state(game, s)) == answer


def test_agents_that_play_gather_leaves_and_the_parameter_is_checked(tmp_path) -> None:
    """The shipped agents and the CLI's AlphaZero specs play at PLAY_LEAVES_PER_CALL; a
    saved agent loads back with the search it was saved with unless told otherwise."""
    from az_gym import AlphaZeroAgent, pretrained
    from az_gym.agent_specs import make_agent
    from az_gym.mcts_params import PLAY_LEAVES_PER_CALL

    assert MctsParams().leaves_per_call == 1  # the trainer's lockstep default
    game = TicTacToe()
    shipped = pretrained("tictactoe")
    assert shipped.params.leaves_per_call == PLAY_LEAVES_PER_CALL > 1
    assert pretrained("tictactoe", leaves_per_call=1).params.leaves_per_call == 1
    assert make_agent("pretrained:30", game).params.leaves_per_call == PLAY_LEAVES_PER_CALL
    path = tmp_path / "a.pt"
    AlphaZeroAgent(game, shipped.network, MctsParams(leaves_per_call=3)).save(path)
    assert AlphaZeroAgent.load(path).params.leaves_per_call == 3
    assert AlphaZeroAgent.load(path, leaves_per_call=2).params.leaves_per_call == 2
    assert make_agent(str(path), game).params.leaves_per_call == PLAY_LEAVES_PER_CALL
    with pytest.raises(ValueError, match=r"MctsParams.leaves_per_call = 0; must be an integer"):
        pretrained("tictactoe", leaves_per_call=0)
    for bad in ({"leaves_per_call": True}, {"leaves_per_call": 2.0},
                {"leaves_per_call": 5000}, {"virtual_loss": -1.0}):  # fmt: skip
        with pytest.raises(ValueError, match=f"MctsParams.{next(iter(bad))} = "):
            MctsParams(**bad)
    p = MctsParams(leaves_per_call=6, virtual_loss=0.5)
    assert MctsParams.from_dict(p.to_dict()) == p


def test_a_gumbel_agent_loaded_to_play_gathers_leaves_one_per_root_action(tmp_path) -> None:
    """The CLI's specs, the web app and ``pretrained`` give a Gumbel checkpoint the play
    default too: its steps take one descent per root action (``GumbelRoot.next_step``), so
    it plays the stored sequential search's moves with fewer network calls."""
    from az_gym import AlphaZeroAgent, pretrained
    from az_gym.agent_specs import make_agent
    from az_gym.mcts_params import PLAY_LEAVES_PER_CALL

    game = TicTacToe()
    net = pretrained("tictactoe").network
    gumbel = MctsParams(num_iters_per_turn=24, root_policy="gumbel", solver=True)
    path = tmp_path / "gumbel.pt"
    AlphaZeroAgent(game, net, gumbel).save(path)
    played = make_agent(f"{path}:40", game)
    assert played.params.leaves_per_call == PLAY_LEAVES_PER_CALL
    assert played.params.num_iters_per_turn == 40
    assert AlphaZeroAgent.load(path).params == gumbel
    assert AlphaZeroAgent.load(path, leaves_per_call=4).params.leaves_per_call == 4
    # the stored sequential search's move and visits, from every opening position
    for moves in ([], [0], [4], [0, 4], [4, 0, 8]):
        s = _play(game, moves)
        sequential, leaves = AlphaZeroAgent.load(path), played.with_simulations(24)
        assert leaves.act_state(game, s) == sequential.act_state(game, s), moves
        fresh = played.with_simulations(24)._mcts.search_one(s)  # new trees, no reuse
        np.testing.assert_array_equal(
            fresh.visits, AlphaZeroAgent.load(path)._mcts.search_one(s).visits
        )
