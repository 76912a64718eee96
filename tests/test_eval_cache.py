"""The evaluation cache (az_gym/eval_cache.py): searches identical to uncached ones with a
real torch network, bounded size, hits on transpositions, emptied when the weights change,
and its hit rate in a real training run's report."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from test_cli import TINY as CLI_TINY

from az_gym.agents.alphazero import AlphaZeroAgent
from az_gym.envs.connect_four import ConnectFour
from az_gym.envs.tictactoe import TicTacToe
from az_gym.eval_cache import CachedEvaluator, EvalCache, network_version, with_cache
from az_gym.evaluators import RolloutEvaluator, UniformEvaluator
from az_gym.mcts import BatchedMcts, MctsParams
from az_gym.networks import NetworkConfig, NetworkEvaluator, PolicyValueNet
from az_gym.training.params import ParamsError, SimParams, apply_overrides, default_params
from az_gym.training.simulation import MctsPlayer, simulate
from az_gym.training.trainer import Trainer

torch.set_num_threads(1)
C4_NET = NetworkConfig(kind="resnet", num_blocks=1, num_filters=8, value_hidden=8)


def _net(game, seed: int = 0) -> PolicyValueNet:
    torch.manual_seed(seed)
    return PolicyValueNet(game.observation_shape, game.num_actions, C4_NET).eval()


class RowByRow:
    """The real network evaluator, one position per forward pass: its rows do not depend on
    the batch they came in (a batched forward may differ in the last float bit with the
    batch size), so a cached and an uncached search must agree bit for bit."""

    def __init__(self, net: PolicyValueNet) -> None:
        self.inner = NetworkEvaluator(net)
        self.rows = 0

    def __call__(self, observations, masks):
        self.rows += len(masks)
        out = [self.inner(observations[i : i + 1], masks[i : i + 1]) for i in range(len(masks))]
        return np.concatenate([p for p, _ in out]), np.concatenate([v for _, v in out])


class KeyRecorder:
    """A deterministic evaluator that records the keys of the positions it is sent."""

    needs_observations = False
    needs_states = True

    def __init__(self, game) -> None:
        self.game, self.keys = game, []

    def __call__(self, observations, masks, *, states):
        self.keys += [self.game.key(s) for s in states]
        return UniformEvaluator()(None, masks)


def _openings(game, n: int, moves: int, seed: int) -> list:
    rng, states = np.random.default_rng(seed), []
    for _ in range(n):
        s = game.initial_state()
        for _ in range(moves):
            s = game.next_state(s, int(rng.choice(np.flatnonzero(game.legal_mask(s)))))
        states.append(s)
    return states


SEARCH_OPTIONS = [{}, {"root_policy": "gumbel"}, {"leaves_per_call": 4}, {"solver": True}]
"""Search options the cache must leave unchanged; those this tree lacks are skipped."""


@pytest.mark.parametrize("options", SEARCH_OPTIONS, ids=lambda o: ",".join(o) or "puct")
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_search_identical_to_uncached_with_a_torch_network(backend: str, options) -> None:
    missing = set(options) - set(MctsParams.__dataclass_fields__)
    if missing:
        pytest.skip(f"MctsParams has no {sorted(missing)} yet")
    game = ConnectFour()
    net = _net(game)
    plain, inner = RowByRow(net), RowByRow(net)
    cached = CachedEvaluator(inner, game, 10_000, network=net)
    params = MctsParams(num_iters_per_turn=48, cpuct=2.0, **options)
    searches = [
        BatchedMcts(game, ev, params, rng=np.random.default_rng(3), backend=backend)
        for ev in (plain, cached)
    ]
    # Eight games in lockstep, four of them the same position (lockstep roots repeat), for
    # three moves with tree reuse and root noise: every statistic must match exactly.
    states = _openings(game, 4, 2, seed=1) + [game.initial_state()] * 4
    for move in range(3):
        a, b = (m.search(states, add_noise=True, trees=list(range(8))) for m in searches)
        for field in ("visits", "q", "root_value", "prior", "network_value", "reused"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
        pa, pb = searches[0].policy(a, move), searches[1].policy(b, move)
        np.testing.assert_array_equal(pa, pb)
        states = [game.next_state(s, int(np.argmax(v))) for s, v in zip(states, a.visits)]
    assert inner.rows < plain.rows  # the same answers from fewer network rows
    assert cached.stats.hits == cached.stats.lookups - inner.rows > 0


def test_batched_network_agrees_to_float_rounding() -> None:
    """With the batched network evaluator the cache changes which positions share a batch:
    values may move in the last bits (see az_gym/eval_cache.py), nothing more."""
    game = ConnectFour()
    net = _net(game)
    params = MctsParams(num_iters_per_turn=64, cpuct=2.0)
    states = _openings(game, 6, 3, seed=2)
    results = []
    for ev in (NetworkEvaluator(net), with_cache(NetworkEvaluator(net), game, 10_000)):
        results.append(BatchedMcts(game, ev, params, rng=np.random.default_rng(0)).search(states))
    a, b = results
    np.testing.assert_array_equal(a.visits, b.visits)
    np.testing.assert_allclose(a.root_value, b.root_value, atol=1e-5)
    np.testing.assert_allclose(a.q, b.q, atol=1e-5)


def test_self_play_samples_identical_to_uncached() -> None:
    """Whole lockstep self-play games (noise, temperature draws): same samples."""
    game = TicTacToe()
    config = NetworkConfig(kind="mlp", hidden=(16,), value_hidden=8)
    net = PolicyValueNet(game.observation_shape, game.num_actions, config).eval()
    params = MctsParams(num_iters_per_turn=16)
    out = []
    for ev in (RowByRow(net), CachedEvaluator(RowByRow(net), game, 5000)):
        rng = np.random.default_rng(7)
        player = MctsPlayer(game, ev, params, add_noise=True, rng=rng)
        out.append(simulate(game, [player], 6, num_concurrent=3, rng=rng).samples)
    for field in ("obs", "policy", "value", "mask", "moves_left"):
        np.testing.assert_array_equal(getattr(out[0], field), getattr(out[1], field))


def test_transpositions_are_evaluated_once() -> None:
    """Known answer: with the cache the evaluator sees exactly the distinct positions the
    uncached search scores; a position reached by two move orders is scored once."""
    game = ConnectFour()
    params = MctsParams(num_iters_per_turn=300, cpuct=2.0)
    plain = KeyRecorder(game)
    BatchedMcts(game, plain, params).search([game.initial_state()])
    inner = KeyRecorder(game)
    cached = CachedEvaluator(inner, game, 100_000)
    BatchedMcts(game, cached, params).search([game.initial_state()])
    assert len(inner.keys) == len(set(inner.keys)) == len(set(plain.keys)) < len(plain.keys)
    assert cached.stats.hits == len(plain.keys) - len(inner.keys)

    s = game.initial_state()
    a = game.next_state(game.next_state(game.next_state(s, 0), 1), 2)
    b = game.next_state(game.next_state(game.next_state(s, 2), 1), 0)
    inner = KeyRecorder(game)
    cached = CachedEvaluator(inner, game, 10)
    masks = np.asarray(game.legal_masks([a, b]))
    cached(None, masks, states=[a, b])  # two move orders, one position, in one batch
    cached(None, masks[:1], states=[b])  # and again later
    assert len(inner.keys) == 1 and cached.stats.lookups == 3 and cached.stats.hits == 2


def test_cache_is_bounded_and_drops_least_recently_used() -> None:
    cache = EvalCache(3)
    p, v = np.eye(4, dtype=np.float32), np.arange(4, dtype=np.float32)
    cache.put(["a", "b", "c"], p[:3], v[:3])
    assert cache.rows(["a"]) == [0]  # "a" is now the most recently used
    cache.put(["d"], p[3:], v[3:])  # drops "b"
    assert len(cache) == 3
    assert cache.rows(["b"]) == [-1] and min(cache.rows(["a", "c", "d"])) >= 0
    priors, values = cache.gather(cache.rows(["d", "a"]))
    np.testing.assert_array_equal(priors, p[[3, 0]])
    np.testing.assert_array_equal(values, v[[3, 0]])

    game = ConnectFour()
    cached = CachedEvaluator(KeyRecorder(game), game, 50)
    BatchedMcts(game, cached, MctsParams(num_iters_per_turn=200)).search([game.initial_state()])
    assert len(cached.cache) == 50
    small = EvalCache(2)  # a batch larger than the cache keeps its last entries
    small.put(["x", "y", "z"], p[:3], v[:3])
    assert small.rows(["x", "y", "z"]) == [-1, 0, 1]
    np.testing.assert_array_equal(small.gather([0, 1])[1], v[1:3])


def test_weight_changes_empty_the_cache() -> None:
    game = ConnectFour()
    net, other = _net(game, 0), _net(game, 1)
    agent = AlphaZeroAgent(game, net, MctsParams(num_iters_per_turn=32), seed=0)
    state = game.initial_state()
    agent.act_state(game, state)
    assert len(agent._cached.cache) > 0
    before = network_version(net)
    net.load_state_dict(copy.deepcopy(other.state_dict()))
    assert network_version(net) != before
    agent.reset()
    result = agent._mcts.search([state])
    fresh = AlphaZeroAgent(game, other, MctsParams(num_iters_per_turn=32), seed=0, cache_size=0)
    expected = fresh._mcts.search([state])
    np.testing.assert_allclose(result.network_value, expected.network_value, atol=1e-6)
    np.testing.assert_array_equal(result.visits, expected.visits)

    # An in-place change of a weight (as an optimiser step makes) empties it too.
    cached = CachedEvaluator(NetworkEvaluator(net), game, 100, network=net)
    obs_masks = np.asarray(game.legal_masks([state]))
    cached(None, obs_masks, states=[state])
    with torch.no_grad():
        next(net.parameters()).add_(1.0)
    _, v = cached(None, obs_masks, states=[state])
    assert cached.stats.hits == 0 and len(cached.cache) == 1
    np.testing.assert_array_equal(
        v, NetworkEvaluator(net)(game.observations([state]), obs_masks)[1]
    )


def test_stochastic_evaluators_are_not_cached() -> None:
    game = TicTacToe()
    rollouts = RolloutEvaluator(game)
    with pytest.raises(ValueError, match="stochastic"):
        CachedEvaluator(rollouts, game, 10)
    assert with_cache(rollouts, game, 10) is rollouts
    assert with_cache(UniformEvaluator(), game, 0).__class__ is UniformEvaluator


def test_agent_exposes_hit_rate_and_pickles_empty() -> None:
    game = ConnectFour()
    agent = AlphaZeroAgent(game, _net(game), MctsParams(num_iters_per_turn=64), seed=0)
    agent.act_states(game, [game.initial_state()] * 4)
    stats = agent.cache_stats
    assert stats is not None and stats.lookups > 0 and 0 < stats.hit_rate < 1
    copy_ = pickle.loads(pickle.dumps(agent))  # evaluation workers get pickled agents
    assert len(copy_._cached.cache) == 0
    assert copy_.act_state(game, game.initial_state()) == agent.act_state(
        game, game.initial_state()
    )
    assert AlphaZeroAgent(game, _net(game), cache_size=0).cache_stats is None
    with pytest.raises(ValueError, match="cache_size"):
        AlphaZeroAgent(game, _net(game), cache_size=-1)


def test_cache_size_parameter_is_validated() -> None:
    assert SimParams().cache_size > 0
    with pytest.raises(ParamsError, match=r"SimParams\.cache_size=-1"):
        SimParams(cache_size=-1)
    with pytest.raises(ParamsError, match="cache_size"):
        SimParams(cache_size=10**12)
    params = apply_overrides(default_params("tictactoe"), ["self_play.sim.cache_size=0"])
    assert params.self_play.sim.cache_size == 0


# test_cli's tiny run, with enough simulations per move for transpositions to recur
TINY = [*CLI_TINY, "self_play.mcts.num_iters_per_turn=16", "arena.mcts.num_iters_per_turn=16"]


def test_hit_rate_in_a_training_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    trainer = Trainer("tictactoe", run_dir=tmp_path / "run", overrides=TINY)
    trainer.train()
    record = json.loads((tmp_path / "run" / "report.jsonl").read_text().splitlines()[-1])
    rate = record["self_play"]["cache_hit_rate"]
    assert 0 < rate < 1  # four games in lockstep share their opening positions at least
    assert f"cache hits {rate:.0%}" in capsys.readouterr().err
    assert 0 < record["arena"]["runs"][0]["cache_hit_rate"] < 1

    no_cache = ["self_play.sim.cache_size=0", "arena.sim.cache_size=0"]
    off = Trainer("tictactoe", run_dir=tmp_path / "off", quiet=True, overrides=[*TINY, *no_cache])
    off.train()
    record = json.loads((tmp_path / "off" / "report.jsonl").read_text().splitlines()[-1])
    assert record["self_play"]["cache_hit_rate"] is None
    assert record["arena"]["runs"][0]["cache_hit_rate"] is None
