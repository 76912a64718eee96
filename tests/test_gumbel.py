"""Known-answer tests of the Gumbel root search (``MctsParams.root_policy = "gumbel"``)."""

from __future__ import annotations

import zlib
from collections.abc import Hashable

import numpy as np
import pytest
from test_cli import TINY

from az_gym._gumbel import considered_visits
from az_gym.envs.connect_four import ConnectFour
from az_gym.envs.tictactoe import TicTacToe
from az_gym.evaluators import UniformEvaluator
from az_gym.game import Game
from az_gym.mcts import BatchedMcts, MctsParams

BACKENDS = ["numba", "numpy"]


def gumbel(**kw) -> MctsParams:
    return MctsParams(root_policy="gumbel", **kw)


def play(game: Game, moves: list[int]):
    s = game.initial_state()
    for a in moves:
        s = game.next_state(s, a)
    return s


class Arms(Game):
    """One player; arm ``k`` ends the game at once with return ``rewards[k]`` (so one
    visit gives the exact ``Q``)."""

    name = "arms"
    num_players = 1

    def __init__(self, rewards: list[float]) -> None:
        self.rewards = list(rewards)
        self.num_actions = len(rewards)
        self.observation_shape = (1,)

    def initial_state(self) -> int:
        return -1

    def to_play(self, state: int) -> int:
        return 0

    def legal_mask(self, state: int) -> np.ndarray:
        return np.full(self.num_actions, state < 0)

    def next_state(self, state: int, action: int) -> int:
        return action

    def is_terminal(self, state: int) -> bool:
        return state >= 0

    def returns(self, state: int) -> np.ndarray:
        return np.array([self.rewards[state]])

    def observation(self, state: int, player: int | None = None) -> np.ndarray:
        return np.zeros(1, np.float32)

    def key(self, state: int) -> Hashable:
        return state

    def render(self, state: int) -> str:
        return str(state)

    def action_to_string(self, action: int) -> str:
        return f"arm{action}"


class FixedPrior:
    """The same prior over the arms at every node, value 0."""

    needs_observations = False

    def __init__(self, prior: list[float]) -> None:
        self.prior = np.asarray(prior, np.float64)

    def __call__(self, observations, masks):
        p = self.prior * masks
        return p / p.sum(1, keepdims=True), np.zeros(len(masks))


# ------------------------------------------------------------ sequential halving schedule
@pytest.mark.parametrize(
    ("m", "n", "expected"),
    [
        # m = 4: ceil(log2 4) = 2 phases; phase 1 gives each of the 4 actions
        # floor(16 / (2 * 4)) = 2 visits, phase 2 each of the best 2 floor(16 / (2 * 2)) = 4.
        (4, 16, (0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5)),
        # m = 2: one phase of floor(6 / 2) = 3 visits each.
        (2, 6, (0, 0, 1, 1, 2, 2)),
        # m = 3: ceil(log2 3) = 2; phase 1 max(1, floor(10 / 6)) = 1 visit each, then the best 2
        # get floor(10 / 4) = 2 each, repeated (halving stops at 2) until the budget is spent.
        (3, 10, (0, 0, 0, 1, 1, 2, 2, 3, 3, 4)),
        # budget below m: only the first 8 of the 16 sampled actions get a visit.
        (16, 8, (0,) * 8),
        # m = 16, n = 50: phases of 16 x 1, 8 x 1, 4 x 3, 2 x 6, then 2 more.
        (16, 50, (0,) * 16 + (1,) * 8 + (2,) * 4 + (3,) * 4 + (4,) * 4
         + tuple(v for k in range(5, 12) for v in (k, k))),
        # one action takes every visit.
        (1, 5, (0, 1, 2, 3, 4)),
    ],
)  # fmt: skip
def test_considered_visits_known_sequences(m: int, n: int, expected: tuple[int, ...]) -> None:
    assert considered_visits(m, n) == expected


@pytest.mark.parametrize("backend", BACKENDS)
def test_root_visits_follow_the_schedule(backend: str) -> None:
    # 4 considered actions, 16 simulations: the two phase-2 survivors get 2 + 4 = 6 visits,
    # the other two sampled actions 2, the 3 actions never sampled none.
    g = ConnectFour()
    m = BatchedMcts(
        g, UniformEvaluator(), gumbel(num_iters_per_turn=16, max_num_considered_actions=4),
        rng=np.random.default_rng(0), backend=backend,
    )  # fmt: skip
    res = m.search([g.initial_state()] * 5, add_noise=True)
    for row, a in zip(res.visits, res.action):
        assert sorted(row.tolist(), reverse=True) == [6, 6, 2, 2, 0, 0, 0]
        assert row[a] == 6  # the selected action is one of the most visited


@pytest.mark.parametrize("k", [3, 4])
def test_schedule_holds_with_leaf_parallel_descents(k: int) -> None:
    # k descents per step take the schedule's next k forced root actions, in order; both
    # backends agree bit for bit.
    g = ConnectFour()
    p = gumbel(num_iters_per_turn=16, max_num_considered_actions=4, leaves_per_call=k)
    results = [
        BatchedMcts(g, UniformEvaluator(), p, rng=np.random.default_rng(2), backend=be).search(
            [g.initial_state(), play(g, [3, 3])], add_noise=True
        )
        for be in BACKENDS
    ]
    for row in results[0].visits:
        assert sorted(row.tolist(), reverse=True) == [6, 6, 2, 2, 0, 0, 0]
    np.testing.assert_array_equal(results[0].visits, results[1].visits)
    np.testing.assert_array_equal(results[0].improved_policy, results[1].improved_policy)
    np.testing.assert_array_equal(results[0].action, results[1].action)


class _HashedValues:
    """A fixed but uneven evaluator: uniform priors, a value per position drawn from its
    ``game.key`` (so that every search sees the same values, whatever the order); records
    the number of positions of each call."""

    needs_observations = False
    needs_states = True
    deterministic = True

    def __init__(self, game: Game) -> None:
        self.game, self.batch_sizes = game, []

    def __call__(self, observations, masks, states):
        self.batch_sizes.append(len(masks))
        m = masks.astype(np.float64)
        seeds = [zlib.crc32(repr(self.game.key(s)).encode()) for s in states]
        v = [np.random.default_rng(seed).uniform(-0.6, 0.6) for seed in seeds]
        return m / m.sum(1, keepdims=True), np.asarray(v)


def _record_steps(mcts: BatchedMcts, steps: list) -> None:
    """Append ``(descents, forced root actions per descent)`` of each simulation step."""
    simulate = mcts._simulate

    def recorded(roots, priors, k, forced):
        steps.append((k, [tuple(f.tolist()) for f in forced]))
        return simulate(roots, priors, k, forced)

    mcts._simulate = recorded


def _runs(schedule: tuple[int, ...], k: int) -> list[int]:
    """Lengths of the runs of equal entries of ``schedule`` (its rounds), each cut at ``k``."""
    out, i = [], 0
    while i < len(schedule):
        j = i
        while j < len(schedule) and schedule[j] == schedule[i] and j - i < k:
            j += 1
        out.append(j - i)
        i = j
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_leaf_parallel_steps_go_down_distinct_root_actions(backend: str) -> None:
    """With ``leaves_per_call = k`` a step's descents take distinct root actions: a round
    of sequential halving (its run of equal visit counts), cut at ``k``; so no descent
    meets another's virtual loss and each root action's visits and values are those of the
    sequential search. Before, the last phases sent k descents down 2 actions under
    virtual loss, which turned onto poorer lines and skewed the Q that halving compares."""
    g = ConnectFour()
    states = [g.initial_state(), play(g, [3, 3, 2])]
    out = {}
    for k in (1, 8):
        ev, steps = _HashedValues(g), []
        m = BatchedMcts(g, ev, gumbel(num_iters_per_turn=64, leaves_per_call=k),
                        rng=np.random.default_rng(5), backend=backend)  # fmt: skip
        _record_steps(m, steps)
        out[k] = (m.search(states, add_noise=True), ev.batch_sizes, steps)
    (seq, _, seq_steps), (par, par_calls, par_steps) = out[1], out[8]
    rounds = _runs(considered_visits(7, 64), 8)
    assert rounds[:4] == [7, 7, 7, 3] and rounds[-1] == 2  # rounds of 7, 3, then 2 actions
    assert [k for k, _ in par_steps] == rounds and [k for k, _ in seq_steps] == [1] * 64
    for _, forced in par_steps:  # each tree's descents of a step: distinct root actions
        assert all(len(set(tree)) == len(tree) for tree in zip(*forced))
    assert all(n <= 2 * k for n, (k, _) in zip(par_calls[1:], par_steps))  # one call a step
    # the same root actions in the same order as the sequential search, the same result
    assert [f for _, forced in par_steps for f in forced] == [f[0] for _, f in seq_steps]
    np.testing.assert_array_equal(par.visits, seq.visits)
    np.testing.assert_allclose(par.q, seq.q, atol=1e-12)
    np.testing.assert_array_equal(par.action, seq.action)
    np.testing.assert_allclose(par.improved_policy, seq.improved_policy, atol=1e-12)


def test_a_forced_move_still_gathers_leaves() -> None:
    """A root with one legal move considers one action: its descents all go down it, as
    many per call as asked."""
    g = TicTacToe()
    s = play(g, [0, 1, 2, 4, 3, 5, 7, 6])  # one empty square left
    ev = _HashedValues(g)
    res = BatchedMcts(g, ev, gumbel(num_iters_per_turn=16, leaves_per_call=4)).search([s])
    assert res.visits[0].sum() == 16 and res.simulations[0] == 16
    assert len(ev.batch_sizes) <= 2  # the root, then its one child (a terminal after)


def test_search_budget_below_num_considered() -> None:
    g = TicTacToe()
    m = BatchedMcts(g, UniformEvaluator(), gumbel(num_iters_per_turn=5))
    res = m.search_one(g.initial_state(), add_noise=True)
    assert sorted(res.visits[0].tolist()) == [0] * 4 + [1] * 5


# ------------------------------------------------------------------------- known answers
def test_improved_policy_with_exact_q_favours_the_best_action() -> None:
    # The prior dislikes the best arm (2); one visit per arm makes every Q exact.
    rewards, prior = [0.1, -0.5, 0.7, 0.3], [0.4, 0.3, 0.1, 0.2]
    g = Arms(rewards)
    m = BatchedMcts(g, FixedPrior(prior), gumbel(num_iters_per_turn=4))
    res = m.search_one(g.initial_state())
    assert res.visits[0].tolist() == [1, 1, 1, 1]
    assert res.q[0].tolist() == rewards
    pi = res.improved_policy[0]
    assert pi[2] > prior[2]
    assert pi.argmax() == 2 and res.action[0] == 2
    # sigma = (c_visit + max N) * c_scale * (q - min q) / (max q - min q)
    sigma = (50 + 1) * 1.0 * (np.array(rewards) + 0.5) / 1.2
    expected = np.exp(np.log(prior) + sigma)
    np.testing.assert_allclose(pi, expected / expected.sum(), rtol=1e-12)
    assert pi.sum() == pytest.approx(1.0)


def test_improved_policy_completes_unvisited_with_mixed_value() -> None:
    # 2 simulations over 4 arms: the two unvisited arms take v_mix.
    rewards, prior = [0.5, -0.5, 0.2, 0.0], [0.25, 0.25, 0.25, 0.25]
    g = Arms(rewards)
    m = BatchedMcts(g, FixedPrior(prior), gumbel(num_iters_per_turn=2, c_visit=2.0))
    res = m.search_one(g.initial_state())
    assert res.visits[0].tolist() == [1, 1, 0, 0]  # uniform prior, no noise: lowest indices
    v_mix = (0.0 + 2 * (0.25 * 0.5 + 0.25 * -0.5) / 0.5) / 3
    q = np.array([0.5, -0.5, v_mix, v_mix])
    sigma = (2.0 + 1) * (q - q.min()) / (q.max() - q.min())
    expected = np.exp(sigma) / np.exp(sigma).sum()
    np.testing.assert_allclose(res.improved_policy[0], expected, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("noise", [False, True])
def test_win_in_one_found_with_8_simulations(backend: str, noise: bool) -> None:
    ttt, c4 = TicTacToe(), ConnectFour()
    cases = [
        (ttt, play(ttt, [0, 3, 1, 4]), {2}),  # X: a3 b3; O: a2 b2; X wins at c3 (2)
        (c4, play(c4, [0, 1, 0, 1, 0, 6]), {0}),  # X has three in column 0
        (c4, play(c4, [3, 3, 4, 4, 5, 5]), {2, 6}),  # X: d e f on the bottom row
    ]
    for g, s, wins in cases:
        for seed in range(5):
            m = BatchedMcts(
                g, UniformEvaluator(), gumbel(num_iters_per_turn=8),
                rng=np.random.default_rng(seed), backend=backend,
            )  # fmt: skip
            res = m.search_one(s, add_noise=noise)
            a = int(res.action[0])
            assert a in wins, (g.name, seed, a)
            assert res.q[0, a] == 1.0
            pi = res.improved_policy[0]
            assert pi[sorted(wins)].sum() > 0.99


@pytest.mark.parametrize("backend", BACKENDS)
def test_gumbel_with_the_solver_finds_the_only_defence(backend: str) -> None:
    from az_gym.mcts import play_policy

    g = ConnectFour()
    s = play(g, [0, 1, 0, 1, 0])  # X has three in column 0: O must block there
    m = BatchedMcts(
        g, UniformEvaluator(), gumbel(num_iters_per_turn=16, solver=True), backend=backend
    )
    res = m.search_one(s)
    lost = np.flatnonzero(res.proven_q[0] == -1.0)
    assert lost.size and 0 not in lost  # the moves that allow X's win are proven losses
    assert play_policy(res, np.zeros(1))[0].argmax() == 0
    assert res.policy_target[0, lost].sum() == 0.0


def test_dirichlet_noise_is_not_used_with_gumbel() -> None:
    # Without Gumbel noise the search is deterministic, so add_noise only adds Gumbel noise:
    # a different rng state changes nothing when add_noise is False.
    g = ConnectFour()
    p = gumbel(num_iters_per_turn=24, dirichlet_noise_epsilon=1.0)
    a = BatchedMcts(g, UniformEvaluator(), p, rng=np.random.default_rng(1)).search_one(
        g.initial_state()
    )
    b = BatchedMcts(g, UniformEvaluator(), p, rng=np.random.default_rng(2)).search_one(
        g.initial_state()
    )
    assert a.visits.tolist() == b.visits.tolist() and not a.noisy
    np.testing.assert_array_equal(a.prior, b.prior)


# -------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("root_policy", "alphago"),
        ("root_policy", None),
        ("max_num_considered_actions", 0),
        ("max_num_considered_actions", -3),
        ("max_num_considered_actions", 2.5),
        ("max_num_considered_actions", True),
        ("gumbel_scale", 0.0),
        ("gumbel_scale", -1.0),
        ("gumbel_scale", float("nan")),
        ("c_visit", 0.0),
        ("c_visit", -50.0),
        ("c_scale", 0),
        ("c_scale", float("inf")),
        ("c_scale", "1"),
        ("gumbel_opening_moves", -1),
        ("gumbel_opening_moves", 1.5),
    ],
)
def test_bad_gumbel_options_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"MctsParams\.{field} = "):
        MctsParams(**{field: value})


def test_gumbel_options_round_trip() -> None:
    p = gumbel(
        max_num_considered_actions=8, gumbel_scale=0.5, c_visit=20.0, c_scale=0.1,
        gumbel_opening_moves=4,
    )  # fmt: skip
    assert MctsParams.from_dict(p.to_dict()) == p
    assert MctsParams().root_policy == "puct"


# ------------------------------------------------------------ self-play and evaluation play
def test_self_play_records_improved_policy_and_plays_the_selected_action() -> None:
    from az_gym.training.simulation import MctsPlayer, simulate

    g = ConnectFour()
    rng = np.random.default_rng(3)
    player = MctsPlayer(
        g, UniformEvaluator(), gumbel(num_iters_per_turn=8), add_noise=True, rng=rng
    )
    states = [play(g, [0, 1, 0, 1, 0, 6]), g.initial_state()]
    pi, dist = player.decide([0, 1], states, [6, 0])  # temperature 1 at these moves: unused
    res = player.last_result
    assert res.noisy
    np.testing.assert_array_equal(pi, res.improved_policy)
    np.testing.assert_array_equal(dist, np.eye(g.num_actions)[res.action])
    assert res.action[0] == 0  # the win in one

    out = simulate(g, [player], 2, num_concurrent=2, rng=rng)
    assert len(out.samples) == out.lengths.sum()
    np.testing.assert_allclose(out.samples.policy.sum(1), 1.0, rtol=1e-5)
    assert (out.samples.policy[~out.samples.mask] == 0).all()


def test_opening_moves_are_drawn_from_the_visits_then_the_selected_action_is_played() -> None:
    """The regression behind ``gumbel_opening_moves``: with every action considered the
    selected action barely depends on the Gumbel draw, so noisy self-play repeated one
    game; in the opening the move is drawn from the root visits at the temperature."""
    from az_gym.training.simulation import MctsPlayer

    g = ConnectFour()
    params = gumbel(num_iters_per_turn=64, gumbel_opening_moves=2)
    player = MctsPlayer(g, UniformEvaluator(), params, add_noise=True, rng=np.random.default_rng(0))
    s = g.initial_state()
    _, opening = player.decide([0, 1], [s, s], [0, 2])  # move 0: opening; move 2: not
    res = player.last_result
    visits = res.visits[0] / res.visits[0].sum()
    np.testing.assert_allclose(opening[0], visits, rtol=1e-12)  # temperature 1
    assert (opening[0] > 0).sum() > 1
    np.testing.assert_array_equal(opening[1], np.eye(g.num_actions)[res.action[1]])

    # noiseless play (the arena, agents) never draws from the visits
    quiet = MctsPlayer(g, UniformEvaluator(), params, add_noise=False, rng=np.random.default_rng(0))
    _, dist = quiet.decide([0], [s], [0])
    np.testing.assert_allclose(dist[0], quiet.last_result.improved_policy[0], rtol=1e-12)


def test_noiseless_play_policy_uses_the_temperature_over_the_improved_policy() -> None:
    from az_gym.mcts import play_policy

    rewards, prior = [0.1, -0.5, 0.7, 0.3], [0.4, 0.3, 0.1, 0.2]
    g = Arms(rewards)
    res = BatchedMcts(g, FixedPrior(prior), gumbel(num_iters_per_turn=4, c_visit=1.0)).search_one(
        g.initial_state()
    )
    assert not res.noisy
    np.testing.assert_array_equal(play_policy(res, np.zeros(1))[0], np.eye(4)[res.action[0]])
    at_one = play_policy(res, np.ones(1))[0]
    np.testing.assert_allclose(at_one, res.improved_policy[0], rtol=1e-12)
    at_two = play_policy(res, np.full(1, 2.0))[0]
    expected = np.sqrt(res.improved_policy[0]) / np.sqrt(res.improved_policy[0]).sum()
    np.testing.assert_allclose(at_two, expected, rtol=1e-12)


def test_alphazero_agent_plays_the_noiseless_selection() -> None:
    from az_gym.agents.alphazero import AlphaZeroAgent
    from az_gym.networks import NetworkConfig

    g = ConnectFour()
    s = play(g, [0, 1, 0, 1, 0, 6])
    cfg = NetworkConfig(kind="mlp", hidden=(16,))
    moves = set()
    for seed in range(3):
        agent = AlphaZeroAgent(g, cfg, gumbel(num_iters_per_turn=8), seed=0)
        agent.reseed(seed)  # a different rng changes nothing without noise
        moves.add(agent.act_state(g, s))
    assert moves == {0}


def test_gumbel_in_a_parameter_file_and_a_tiny_training_run(tmp_path) -> None:
    from az_gym.cli import main
    from az_gym.training.params_io import load_params

    run = tmp_path / "run"
    sets = [
        *TINY, "arena.sim.num_processes=1", "self_play.mcts.root_policy=gumbel",
        "self_play.mcts.max_num_considered_actions=3", "arena.mcts.root_policy=gumbel",
    ]  # fmt: skip
    args = ["train", "tictactoe", "--run-dir", str(run), "--quiet"]
    assert main([*args, *(x for o in sets for x in ("--set", o))]) == 0
    params = load_params(run / "params.toml")
    assert params.self_play.mcts.root_policy == "gumbel"
    assert params.self_play.mcts.max_num_considered_actions == 3


def test_bad_gumbel_override_is_one_line(capsys, tmp_path) -> None:
    from az_gym.cli import main

    code = main(
        ["train", "tictactoe", "--run-dir", str(tmp_path / "r"),
         "--set", "self_play.mcts.c_scale=0"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("az-gym: error: ") and err.count("\n") == 1
    assert "c_scale" in err


def test_analysis_shows_the_improved_policy() -> None:
    from az_gym.agents.analysis import analyse_with

    g = TicTacToe()
    s = play(g, [0, 3, 1, 4])
    mcts = BatchedMcts(g, UniformEvaluator(), gumbel(num_iters_per_turn=8))
    a = analyse_with(mcts, g, s)
    assert a.policy.argmax() == 2 and a.policy[2] > 0.99
