"""Known-answer and invariant tests of the batched PUCT search (numpy only, no torch)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Hashable
from typing import NamedTuple

import numpy as np
import pytest

from az_gym.envs.tictactoe import TicTacToe
from az_gym.evaluators import RolloutEvaluator, UniformEvaluator
from az_gym.game import Game, GameOverError
from az_gym.mcts import BatchedMcts, MctsParams, SearchResult
from az_gym.schedules import ConstSchedule, StepSchedule

HAS_C4 = importlib.util.find_spec("az_gym.envs.connect_four") is not None


def play(game: Game, moves: list[int]):
    s = game.initial_state()
    for a in moves:
        s = game.step(s, a)
    return s


def best(result: SearchResult, i: int = 0) -> int:
    return int(result.visits[i].argmax())


# ----------------------------------------------------------------- test games
class BanditState(NamedTuple):
    arm: int  # -1 at the root
    done: bool


class Bandit(Game):
    """One player, K arms; arm k leads to a state whose only move ends with return r_k."""

    name = "bandit"
    num_players = 1

    def __init__(self, rewards: list[float]) -> None:
        self.rewards = list(rewards)
        self.num_actions = len(rewards)
        self.observation_shape = (len(rewards) + 1,)

    def initial_state(self) -> BanditState:
        return BanditState(-1, False)

    def to_play(self, state: BanditState) -> int:
        return 0

    def legal_mask(self, state: BanditState) -> np.ndarray:
        m = np.zeros(self.num_actions, bool)
        if not state.done:
            m[:] = state.arm < 0
            m[0] |= state.arm >= 0
        return m

    def next_state(self, state: BanditState, action: int) -> BanditState:
        return BanditState(action, False) if state.arm < 0 else BanditState(state.arm, True)

    def is_terminal(self, state: BanditState) -> bool:
        return state.done

    def returns(self, state: BanditState) -> np.ndarray:
        return np.array([self.rewards[state.arm] if state.done else 0.0])

    def observation(self, state: BanditState, player: int | None = None) -> np.ndarray:
        o = np.zeros(self.observation_shape, np.float32)
        o[state.arm] = 1.0  # arm -1 -> the last slot (root)
        return o

    def key(self, state: BanditState) -> Hashable:
        return state

    def render(self, state: BanditState) -> str:
        return str(state)

    def action_to_string(self, action: int) -> str:
        return f"arm{action}"


class BanditEvaluator:
    """Fake evaluator with known values: the value of 'arm k pulled' is r_k."""

    def __init__(self, rewards: list[float]) -> None:
        self.rewards = np.array([*rewards, 0.0])

    def __call__(self, obs: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        priors = masks / masks.sum(1, keepdims=True)
        return priors, self.rewards[obs.argmax(1)]


class DoubleMove(Game):
    """Two players; player 0 may move twice in a row (the opponent has no move).

    Root (P0): a=0 -> S1 where P0 moves AGAIN: a=0 wins for P0, a=1 loses for P0.
               a=1 -> draw. Right answer: a=0. Blindly alternating signs picks a=1.
    """

    name = "double_move"
    num_players = 2
    num_actions = 2
    observation_shape = (3,)

    def initial_state(self) -> tuple[int, ...]:
        return ()

    def to_play(self, state: tuple[int, ...]) -> int:
        return 0

    def legal_mask(self, state: tuple[int, ...]) -> np.ndarray:
        return np.full(2, not self.is_terminal(state))

    def next_state(self, state: tuple[int, ...], action: int) -> tuple[int, ...]:
        return (*state, action)

    def is_terminal(self, state: tuple[int, ...]) -> bool:
        return len(state) == 2 or state == (1,)

    def returns(self, state: tuple[int, ...]) -> np.ndarray:
        if state == (0, 0):
            return np.array([1.0, -1.0])
        if state == (0, 1):
            return np.array([-1.0, 1.0])
        return np.zeros(2)

    def observation(self, state: tuple[int, ...], player: int | None = None) -> np.ndarray:
        o = np.zeros(3, np.float32)
        o[len(state)] = 1.0
        return o

    def key(self, state: tuple[int, ...]) -> Hashable:
        return state

    def render(self, state: tuple[int, ...]) -> str:
        return str(state)

    def action_to_string(self, action: int) -> str:
        return str(action)


class HashEvaluator:
    """Deterministic, non-uniform fake evaluator (priors and values from the observation)."""

    def __call__(self, obs: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flat = obs.reshape(len(obs), -1)
        w = np.random.default_rng(7).random((flat.shape[1], masks.shape[1]))
        logits = flat @ w
        p = np.exp(logits - logits.max(1, keepdims=True)) * masks
        return p / p.sum(1, keepdims=True), np.tanh(flat @ w[:, 0] - 1.0)


class AllActionsEvaluator:
    """Adversarial fake: puts most prior mass on ILLEGAL actions."""

    def __call__(self, obs: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = np.where(masks, 0.01, 10.0)
        return p / p.sum(1, keepdims=True), np.zeros(len(obs))


# ---------------------------------------------------------- known answers
def test_tictactoe_win_in_one() -> None:
    g = TicTacToe()
    s = play(g, [0, 3, 1, 4])  # X: a3 b3, O: a2 b2; X wins at c3 (2)
    m = BatchedMcts(g, UniformEvaluator(), MctsParams(num_iters_per_turn=200))
    r = m.search_one(s)
    assert best(r) == 2
    assert r.q[0, 2] == pytest.approx(1.0)


def test_tictactoe_block_win_in_one() -> None:
    g = TicTacToe()
    s = play(g, [0, 4, 1])  # X threatens c3 (2); O must block
    m = BatchedMcts(g, UniformEvaluator(), MctsParams(num_iters_per_turn=400))
    assert best(m.search_one(s)) == 2


@pytest.mark.skipif(not HAS_C4, reason="az_gym.envs.connect_four not written yet")
def test_connect_four_win_and_block() -> None:
    from az_gym.envs.connect_four import ConnectFour

    g = ConnectFour()
    m = BatchedMcts(g, UniformEvaluator(), MctsParams(num_iters_per_turn=400))
    block = play(g, [0, 1, 0, 1, 0])  # X has three in column 0; O must play 0
    win = play(g, [0, 1, 0, 1, 0, 6])  # X to move wins in column 0
    r = m.search([block, win])
    assert best(r, 0) == 0
    assert best(r, 1) == 0
    assert r.q[1, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("gamma", [1.0, 0.9])
def test_bandit_concentrates_on_best_arm(gamma: float) -> None:
    rewards = [0.1, -0.5, 0.7, 0.3, 0.65]
    g = Bandit(rewards)
    params = MctsParams(num_iters_per_turn=300, gamma=gamma, cpuct=0.5)
    r = BatchedMcts(g, BanditEvaluator(rewards), params).search_one(g.initial_state())
    assert best(r) == 2
    assert r.visits[0, 2] > 0.5 * r.visits.sum()
    # Edge into the arm state earns gamma * value; every arm's Q is exactly gamma * r_k.
    np.testing.assert_allclose(r.q[0], gamma * np.array(rewards))


def test_value_signs_through_a_double_move() -> None:
    g = DoubleMove()
    r = BatchedMcts(g, UniformEvaluator(), MctsParams(num_iters_per_turn=50)).search_one(())
    assert best(r) == 0
    assert r.q[0, 0] > 0.5  # P0 wins down that line, seen from P0 both times
    assert r.q[0, 1] == 0.0
    assert r.root_value[0] > 0.5


def test_othello_pass_position_searches_legally() -> None:
    othello = pytest.importorskip("az_gym.envs.othello")
    g = othello.Othello(6)
    rng = np.random.default_rng(3)
    m = BatchedMcts(g, UniformEvaluator(), MctsParams(num_iters_per_turn=30))
    s, seen_pass = g.initial_state(), False
    while not g.is_terminal(s):
        mask = g.legal_mask(s)
        r = m.search_one(s)
        assert (r.visits[0][~mask] == 0).all()
        seen_pass |= bool(mask[g.num_actions - 1])
        s = g.next_state(s, int(rng.choice(np.flatnonzero(mask))))
    assert np.isfinite(r.root_value).all()


# ------------------------------------------------------------- invariants
def _random_positions(game: Game, n: int, rng: np.random.Generator) -> list:
    out = []
    while len(out) < n:
        s = game.initial_state()
        for _ in range(int(rng.integers(0, 8))):
            if game.is_terminal(s):
                break
            s = game.next_state(s, int(rng.choice(np.flatnonzero(game.legal_mask(s)))))
        if not game.is_terminal(s):
            out.append(s)
    return out


@pytest.mark.parametrize("evaluator", [AllActionsEvaluator(), UniformEvaluator()])
def test_never_an_illegal_action(evaluator) -> None:
    g = TicTacToe()
    states = _random_positions(g, 40, np.random.default_rng(0))
    m = BatchedMcts(g, evaluator, MctsParams(num_iters_per_turn=25), rng=np.random.default_rng(1))
    r = m.search(states, add_noise=True)
    masks = g.legal_masks(states)
    assert (r.visits[~masks] == 0).all() and (r.prior[~masks] == 0).all()
    for tau in (0.0, 1.0):
        pi = BatchedMcts(g, evaluator, MctsParams(temperature=ConstSchedule(tau))).policy(r, 0)
        assert (pi[~masks] == 0).all()
        np.testing.assert_allclose(pi.sum(1), 1.0)


def test_batched_equals_one_at_a_time() -> None:
    g = TicTacToe()
    states = _random_positions(g, 12, np.random.default_rng(5))
    params = MctsParams(num_iters_per_turn=60)
    batched = BatchedMcts(g, HashEvaluator(), params).search(states)
    for i, s in enumerate(states):
        single = BatchedMcts(g, HashEvaluator(), params).search_one(s)
        np.testing.assert_array_equal(single.visits[0], batched.visits[i])
        np.testing.assert_allclose(single.q[0], batched.q[i])


def test_same_seed_same_noisy_search() -> None:
    g = TicTacToe()
    params = MctsParams(num_iters_per_turn=40, dirichlet_noise_alpha=0.3)
    runs = [
        BatchedMcts(g, HashEvaluator(), params, rng=np.random.default_rng(seed)).search(
            [g.initial_state()] * 3, add_noise=True
        )
        for seed in (11, 11, 12)
    ]
    np.testing.assert_array_equal(runs[0].visits, runs[1].visits)
    assert not np.array_equal(runs[0].visits, runs[2].visits)
    # priors are reported before noise
    np.testing.assert_allclose(runs[0].prior, runs[2].prior)


class DihedralEvaluator:
    """Tic-tac-toe fake evaluator that commutes with the 8 board symmetries and has no
    accidental ties: priors and values are generic functions of dihedral invariants
    (squared distances between cells, distance of a cell to the centre)."""

    def __init__(self) -> None:
        rng = np.random.default_rng(42)
        rc = np.array([divmod(i, 3) for i in range(9)])
        d2 = ((rc[:, None, :] - rc[None, :, :]) ** 2).sum(-1)  # in {0,1,2,4,5,8}
        centre = ((rc - 1) ** 2).sum(-1)  # 0 centre, 1 edge, 2 corner
        a, b, h, u = (rng.normal(size=9) for _ in range(4))
        self.k_mine, self.k_theirs, self.bias = a[d2], b[d2], h[centre]
        self.u = u[centre]

    def __call__(self, obs: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = obs.reshape(len(obs), 9, 2).astype(np.float64)
        logits = self.bias + x[..., 0] @ self.k_mine + x[..., 1] @ self.k_theirs
        p = np.exp(logits - logits.max(1, keepdims=True)) * masks
        v = np.tanh(0.3 * ((x[..., 0] - 1.2 * x[..., 1]) * self.u).sum(1))
        return p / p.sum(1, keepdims=True), v


@pytest.mark.parametrize("moves", [[0, 1], [0, 5], [0, 4, 5], [1, 0, 5]])
def test_mirrored_position_gives_mirrored_visits(moves: list[int]) -> None:
    """Exact equivariance with an evaluator that commutes with the symmetries, for roots
    that no symmetry maps to themselves (else equivalent actions may swap counts).

    With UniformEvaluator the counts are NOT exactly mirrored: equal scores go to the
    lowest action index, and a symmetry permutes the indices (test below)."""
    g = TicTacToe()
    s = play(g, moves)
    params = MctsParams(num_iters_per_turn=300)
    base = BatchedMcts(g, DihedralEvaluator(), params).search_one(s)
    for sym in g.symmetries()[1:]:
        r = BatchedMcts(g, DihedralEvaluator(), params).search_one(g.apply_symmetry(s, sym))
        np.testing.assert_array_equal(r.visits[0], base.visits[0][sym.sigma], err_msg=sym.name)
        np.testing.assert_allclose(r.q[0], base.q[0][sym.sigma], atol=1e-9)


def test_uniform_evaluator_symmetric_position_gives_symmetric_visits() -> None:
    """Empty board, UniformEvaluator: the visits are symmetric up to tie-breaking."""
    g = TicTacToe()
    params = MctsParams(num_iters_per_turn=2000)
    base = BatchedMcts(g, UniformEvaluator(), params).search_one(g.initial_state())
    v = base.visits[0]
    for sym in g.symmetries()[1:]:
        assert 0.5 * np.abs(v[sym.sigma] - v).sum() / v.sum() < 0.02, sym.name


def test_tree_reuse_and_reset() -> None:
    g = TicTacToe()
    m = BatchedMcts(g, UniformEvaluator(), MctsParams(num_iters_per_turn=100))
    s0 = g.initial_state()
    r0 = m.search_one(s0)
    s2 = g.next_state(g.next_state(s0, best(r0)), 0 if best(r0) else 1)  # a grandchild
    r2 = m.search_one(s2)
    assert r2.visits.sum() > 100  # the reused subtree's visits plus 100 new ones
    m.reset()
    assert m.search_one(s2).visits.sum() == 100
    unrelated = play(g, [8, 7, 6])
    assert m.search_one(unrelated).visits.sum() == 100


def test_reuse_of_the_same_root_accumulates_and_prunes() -> None:
    g = TicTacToe()
    m = BatchedMcts(g, UniformEvaluator(), MctsParams(num_iters_per_turn=50))
    s = g.initial_state()
    assert m.search_one(s).visits.sum() == 50
    assert m.search_one(s).visits.sum() == 100
    before = m.num_nodes
    m.search_one(g.next_state(s, 4))
    assert m.num_nodes < before + 50  # siblings' subtrees were dropped


def test_policy_temperatures() -> None:
    g = TicTacToe()
    sched = StepSchedule(1.0, (2, 4), (0.5, 0.0))
    m = BatchedMcts(g, UniformEvaluator(), MctsParams(temperature=sched))
    visits = np.array([[1.0, 2.0, 0, 0, 0, 0, 0, 0, 1.0]] * 3)
    r = SearchResult(visits, np.zeros(3), np.zeros_like(visits), np.ones_like(visits) / 9,
                     np.zeros(3))  # fmt: skip
    pi = m.policy(r, [0, 2, 10])
    np.testing.assert_allclose(pi[0, [0, 1, 8]], [0.25, 0.5, 0.25])
    np.testing.assert_allclose(pi[1, [0, 1, 8]], [1 / 6, 4 / 6, 1 / 6])
    np.testing.assert_array_equal(pi[2], np.eye(9)[1])
    tie = SearchResult(np.array([[0, 3.0, 3.0, 0, 0, 0, 0, 0, 0]]), *[np.zeros((1, 9))] * 0,
                       np.zeros(1), np.zeros((1, 9)), np.zeros((1, 9)), np.zeros(1))  # fmt: skip
    np.testing.assert_array_equal(m.policy(tie, 10)[0], np.eye(9)[1])  # lowest index


def test_rollout_evaluator() -> None:
    g = TicTacToe()
    s = play(g, [0, 1, 2, 4, 3, 5, 7, 6])  # one empty cell (8): X fills it
    ev = RolloutEvaluator(g, num_rollouts=3, rng=np.random.default_rng(0))
    pri, val = ev(None, g.legal_masks([s]), states=[s])
    assert pri[0, 8] == 1.0 and val[0] == float(g.returns(g.next_state(s, 8))[0])
    with pytest.raises(ValueError, match="states="):
        ev(None, g.legal_masks([s]))
    m = BatchedMcts(g, ev, MctsParams(num_iters_per_turn=300))
    assert best(m.search_one(play(g, [0, 4, 1]))) == 2


def test_bad_input_errors() -> None:
    g = TicTacToe()
    with pytest.raises(ValueError, match="cpuct"):
        MctsParams(cpuct=-1.0)
    with pytest.raises(ValueError, match="num_iters_per_turn"):
        MctsParams(num_iters_per_turn=0)
    m = BatchedMcts(g, UniformEvaluator(), MctsParams(num_iters_per_turn=5))
    with pytest.raises(GameOverError, match=r"states\[1\]"):
        m.search([g.initial_state(), play(g, [0, 3, 1, 4, 2])])
    p = MctsParams(temperature=StepSchedule(1.0, (10,), (0.0,)), gamma=0.99)
    assert MctsParams.from_dict(p.to_dict()) == p


def test_search_modules_never_import_torch() -> None:
    code = (
        "import sys, az_gym.mcts, az_gym.evaluators, az_gym._mcts_backends, az_gym.testing; "
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("gamma", "fpu"), [(1.0, None), (0.95, None), (1.0, 0.3)])
def test_numba_and_numpy_backends_agree(gamma: float, fpu: float | None) -> None:
    g = TicTacToe()
    states = _random_positions(g, 10, np.random.default_rng(9))
    params = MctsParams(num_iters_per_turn=80, gamma=gamma, fpu_reduction=fpu)
    res = [
        BatchedMcts(g, HashEvaluator(), params, backend=backend).search(states)
        for backend in ("numpy", "numba")
    ]
    # One selection rule, the same summation order and the same pow: identical searches.
    np.testing.assert_array_equal(res[0].visits, res[1].visits)
    np.testing.assert_array_equal(res[0].root_value, res[1].root_value)
    dm = [
        BatchedMcts(
            DoubleMove(), UniformEvaluator(), MctsParams(num_iters_per_turn=30), backend=backend
        ).search_one(())
        for backend in ("numpy", "numba")
    ]
    np.testing.assert_array_equal(dm[0].visits, dm[1].visits)
    with pytest.raises(ValueError, match="backend"):
        BatchedMcts(g, UniformEvaluator(), params, backend="cuda")


def test_tree_slots_keep_their_own_trees() -> None:
    g = TicTacToe()
    params = MctsParams(num_iters_per_turn=50)
    m = BatchedMcts(g, UniformEvaluator(), params)
    a, b = g.initial_state(), play(g, [4])
    r = m.search([a, b], trees=[3, 1])
    assert r.reused is not None and not r.reused.any()
    # Slot ids change nothing about the search itself.
    plain = BatchedMcts(g, UniformEvaluator(), params).search([a, b])
    np.testing.assert_array_equal(r.visits, plain.visits)
    size3 = m.tree_size(3)
    assert size3 > 1 and m.tree_size(1) > 1 and m.tree_size(0) == 0
    # Searching slot 1 alone leaves slot 3's tree in place ...
    r1 = m.search([b], trees=[1])
    assert r1.reused.tolist() == [True] and r1.visits.sum() == 100
    assert m.tree_size(3) == size3
    # ... and slot 3 then re-roots at a's most visited child, in another batch position.
    child = g.next_state(a, best(r, 0))
    r2 = m.search([play(g, [4, 0]), child], trees=[1, 3])
    assert r2.reused.tolist() == [True, True]
    assert r2.visits[1].sum() > 50  # the child's own visits carried over
    m.reset(1)
    assert m.tree_size(1) == 0 and m.tree_size(3) > 0
    assert m.search([child], trees=[3]).reused.tolist() == [True]
    # Without ``trees`` the search uses slots 0..B-1 and empties the others.
    assert m.search([a]).reused.tolist() == [False]
    assert m.tree_size(3) == 0 and m.tree_size(0) > 0


@pytest.mark.parametrize(
    ("trees", "needle"),
    [([0, 0], "distinct"), ([0], "1 tree ids for 2 states"), ([0, -1], "tree id -1"),
     ([0, 1.5], "tree id 1.5"), ([0, 2], "must be < num_trees = 2")],
)  # fmt: skip
def test_bad_tree_ids(trees: list, needle: str) -> None:
    g = TicTacToe()
    m = BatchedMcts(g, UniformEvaluator(), MctsParams(num_iters_per_turn=2), num_trees=2)
    with pytest.raises(ValueError, match=needle):
        m.search([g.initial_state(), play(g, [4])], trees=trees)
    with pytest.raises(ValueError, match="index = -1"):
        m.reset(-1)
    with pytest.raises(ValueError, match="num_trees = 0"):
        BatchedMcts(g, UniformEvaluator(), MctsParams(), num_trees=0)


class OptimistEvaluator:
    """Uniform priors; every side to move believes it is winning (value +0.5)."""

    def __call__(self, obs: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return masks / masks.sum(1, keepdims=True), np.full(len(masks), 0.5)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_first_play_urgency_keeps_a_pessimistic_root_from_going_wide(backend: str) -> None:
    """Every visited child looks lost to the root's mover (-0.5). With Q = 0 for unvisited
    actions each of the 81 moves is tried once before any is read further; with a
    first-play reduction the search returns to the moves it has already tried."""
    from az_gym.envs.gomoku import Gomoku

    g = Gomoku(9)
    wide, deep = (
        BatchedMcts(
            g, OptimistEvaluator(), MctsParams(num_iters_per_turn=60, fpu_reduction=fpu),
            backend=backend,
        ).search_one(g.initial_state())
        for fpu in (None, 0.25)
    )  # fmt: skip
    assert (wide.visits > 0).sum() == 60  # breadth first: 60 moves, one visit each
    assert (deep.visits > 0).sum() <= 10
    assert deep.visits.max() >= 10
    with pytest.raises(ValueError, match=r"fpu_reduction = -0.1; must be None or a number in"):
        MctsParams(fpu_reduction=-0.1)
    p = MctsParams(fpu_reduction=0.25)
    assert MctsParams.from_dict(p.to_dict()) == p


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_search_of_no_states_is_an_empty_result(backend: str) -> None:
    """Lockstep self-play may hand a player no game this step; both backends answer with
    empty arrays (the numba backend used to raise on ``max`` of an empty path array)."""
    g = TicTacToe()
    m = BatchedMcts(g, UniformEvaluator(), MctsParams(num_iters_per_turn=5), backend=backend)
    r = m.search([])
    assert r.visits.shape == (0, 9) and r.root_value.shape == (0,)
    assert m.search([], add_noise=True, trees=[]).q.shape == (0, 9)
    assert m.search_one(g.initial_state()).visits.sum() == 5  # still usable afterwards


def test_mcts_params_live_in_one_module_and_validate_themselves() -> None:
    import az_gym
    from az_gym import mcts, mcts_params
    from az_gym.training import params

    assert az_gym.MctsParams is mcts.MctsParams is mcts_params.MctsParams is params.MctsParams
    # The checks the training parameters used to repeat now happen at construction.
    for bad, needle in [
        ({"num_iters_per_turn": 2.5}, r"num_iters_per_turn = 2.5; must be an integer in \[1, "),
        ({"cpuct": float("nan")}, "cpuct = nan; must be a number >= 0"),
        ({"cpuct": "a"}, "cpuct = 'a'; must be a number >= 0"),  # it said "must be >= 0"
        ({"temperature": StepSchedule(1.0, (5,), (-1.0,))}, "temperature = .*values >= 0"),
        ({"fpu_reduction": True}, "fpu_reduction = True"),
    ]:
        with pytest.raises(ValueError, match=needle):
            MctsParams(**bad)
