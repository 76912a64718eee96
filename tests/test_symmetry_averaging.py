"""Symmetry averaging (``MctsParams.symmetry_averaging``): the network scored in every
symmetric image of a leaf and averaged, in the agents, the CLI's specs and self-play."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import az_gym
from az_gym import AlphaZeroAgent
from az_gym.agent_specs import SpecError, make_agent
from az_gym.agents.shipped import pretrained_path
from az_gym.envs.registry import as_game, make_game, symmetries_of
from az_gym.evaluation import evaluate
from az_gym.evaluators import RolloutEvaluator, SymmetryAveragedEvaluator, UniformEvaluator
from az_gym.game import Game
from az_gym.mcts import MctsParams
from az_gym.networks import NetworkConfig, NetworkEvaluator, PolicyValueNet
from az_gym.training.params import params_from_dict
from az_gym.training.selfplay import GameSpec, NetSpec, WorkerJob, net_weights, run_job

torch.set_num_threads(1)
TINY = NetworkConfig(kind="mlp", hidden=(32,))


def _net(game: Game, seed: int = 0) -> PolicyValueNet:
    """A randomly initialised network: far from symmetric, which is what the tests need."""
    torch.manual_seed(seed)
    return PolicyValueNet(game.observation_shape, game.num_actions, TINY)


def _position(game: Game, moves: list[int]):
    s = game.initial_state()
    for a in moves:
        s = game.next_state(s, a)
    return s


@pytest.mark.parametrize("name, moves", [("tictactoe", [0, 5]), ("connect_four", [1, 1, 2])])
def test_the_average_is_exactly_equivariant_and_differs_from_one_image(name, moves):
    game = make_game(name)
    inner = NetworkEvaluator(_net(game))
    ev = SymmetryAveragedEvaluator(inner, game)
    s = _position(game, moves)
    syms = game.symmetries()
    assert len(syms) > 1
    images = [game.apply_symmetry(s, g) for g in syms]
    p, v = ev(game.observations(images), game.legal_masks(images))
    for i, g in enumerate(syms):
        # the image's priors are the position's, permuted; its value is the same
        np.testing.assert_allclose(p[i], g.transform_policy(p[0]), atol=1e-6)
        np.testing.assert_allclose(v[i], v[0], atol=1e-6)
    assert np.all(p[~game.legal_masks(images)] == 0)  # zero on each image's illegal moves
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    # and it is the mean of the network over the images, which a random network is not
    p1, v1 = inner(game.observations(images), game.legal_masks(images))
    assert not np.allclose(v1, v1[0], atol=1e-4)
    np.testing.assert_allclose(v[0], v1.mean(), atol=1e-6)
    back = np.mean([p1[i][g.inverse_sigma] for i, g in enumerate(syms)], axis=0)
    np.testing.assert_allclose(p[0], back, atol=1e-6)


class _NoSymmetries(type(make_game("tictactoe"))):
    """Tic-tac-toe declaring no symmetry but the identity (the base Game's default)."""

    def symmetries(self):
        return Game.symmetries(self)


def test_a_game_without_symmetries_gets_the_network_unchanged():
    game = _NoSymmetries()
    inner = NetworkEvaluator(_net(game))
    states = [_position(game, m) for m in ([], [4], [4, 0])]
    obs, masks = game.observations(states), game.legal_masks(states)
    p, v = SymmetryAveragedEvaluator(inner, game)(obs, masks)
    p0, v0 = inner(obs, masks)
    assert np.array_equal(p, p0) and np.array_equal(v, v0)


def test_evaluators_it_cannot_average_are_refused():
    game = make_game("tictactoe")
    for ev, what in [(UniformEvaluator(), "no observations"), (RolloutEvaluator(game), "states")]:
        with pytest.raises(ValueError, match=what):
            SymmetryAveragedEvaluator(ev, game)
    with pytest.raises(ValueError, match="symmetry_averaging"):
        MctsParams(symmetry_averaging=1)
    d = MctsParams().to_dict()
    del d["symmetry_averaging"]  # a checkpoint written before the field existed
    assert MctsParams.from_dict(d).symmetry_averaging is False
    p = MctsParams(symmetry_averaging=True)
    assert MctsParams.from_dict(p.to_dict()) == p


def test_the_agent_searches_the_averaged_network():
    game = make_game("connect_four")
    net = _net(game, 3)
    s = _position(game, [0, 1])
    g = game.symmetries()[1]  # the mirror
    mirrored = game.apply_symmetry(s, g)
    for averaging in (False, True):
        params = MctsParams(num_iters_per_turn=8, symmetry_averaging=averaging)
        agent = AlphaZeroAgent(game, net, params)
        a, b = agent.analyse((game, s)), agent.analyse((game, mirrored))
        same = np.allclose(b.prior, g.transform_policy(a.prior), atol=1e-6) and np.isclose(
            a.network_value, b.network_value, atol=1e-6
        )
        assert same == averaging
    # with_simulations keeps it, and the agent plays in worker processes (it pickles)
    agent = AlphaZeroAgent(game, net, MctsParams(num_iters_per_turn=4, symmetry_averaging=True))
    copy = agent.with_simulations(6)
    assert copy.params.symmetry_averaging and copy.params.num_iters_per_turn == 6
    back = pickle.loads(pickle.dumps(agent))
    assert back.act_state(game, s) == agent.act_state(game, s)
    r = evaluate(agent, make_agent("random", game, seed=0), game, 4, seed=1, num_processes=2)
    assert r.wins + r.draws + r.losses == 4


def test_specs_and_pretrained_turn_it_on():
    # the shipped gomoku and Connect Four files store it on: ':nosym' turns it off, ':sym'
    # leaves it on
    for name in ("gomoku", "connect_four"):
        stored = make_game(name)
        assert make_agent("pretrained", stored).params.symmetry_averaging, name
        assert not make_agent("pretrained:100:nosym", stored).params.symmetry_averaging, name
        assert make_agent("pretrained:sym", stored).params.symmetry_averaging, name
        assert az_gym.pretrained(name).params.symmetry_averaging, name
        assert not az_gym.pretrained(name, symmetry_averaging=False).params.symmetry_averaging
    # the shipped tic-tac-toe file stores it off: ':sym' turns it on
    game = make_game("tictactoe")
    for spec, sims, on in [
        ("pretrained:64:sym", 64, True),
        ("pretrained:sym:64", 64, True),
        ("pretrained:SYM", None, True),
        ("pretrained:64", 64, False),
        ("pretrained:64:nosym", 64, False),
    ]:
        agent = make_agent(spec, game, seed=0)
        assert agent.params.symmetry_averaging is on, spec
        if sims is not None:
            assert agent.params.num_iters_per_turn == sims
    agent = az_gym.pretrained("tictactoe", simulations=32, symmetry_averaging=True)
    assert agent.params.symmetry_averaging
    assert not az_gym.pretrained("tictactoe").params.symmetry_averaging
    with pytest.raises(ValueError, match="symmetry_averaging"):
        az_gym.pretrained("connect_four", symmetry_averaging="yes")
    # the network agent runs no search: ':sym' there is refused, not ignored
    for spec in ("network:pretrained:sym", "network:pretrained:64:sym"):
        with pytest.raises(SpecError, match="without search"):
            make_agent(spec, game)
    # a declared-equivalent classic env averages over the native game's symmetries, which
    # its adapter does not declare (the shipped agent, which averages, plays it as it plays
    # the native game: tests/test_equivalent_envs.py)
    from pettingzoo.classic import connect_four_v3, tictactoe_v3

    pz = as_game(connect_four_v3.env())
    assert len(pz.symmetries()) == 1 and len(symmetries_of(pz)) == 2
    assert make_agent(f"{pretrained_path('connect_four')}:64:sym", pz).params.symmetry_averaging
    # nor is it ignored on a game without symmetries
    with pytest.raises(ValueError, match="needs a game with symmetries"):
        AlphaZeroAgent(_NoSymmetries(), mcts=MctsParams(symmetry_averaging=True))
    undeclared = as_game(tictactoe_v3.env())
    with pytest.raises(ValueError, match=r"^symmetry averaging .* tictactoe_v3 has none"):
        AlphaZeroAgent(undeclared, mcts=MctsParams(symmetry_averaging=True))


@pytest.mark.parametrize(
    "spec, match",
    [
        ("alphabeta:3:sym", r"^agent 'alphabeta:3:sym': ':sym' averages .* alphabeta runs no"),
        ("mcts:sym", r"mcts runs no such search"),
        ("random:sym", r"random runs no such search"),
        ("dqn:x.pt:sym", r"dqn runs no such search"),
        ("pretrained:abc:sym", r"pretrained takes ':SIMS' and ':sym' .* not 'abc'$"),
        ("pretrained:sym:sym", r"':sym' or ':nosym' given twice"),
        ("pretrained:400:400", r"':SIMS' given twice"),
        ("pretrained:sym:nosym", r"':sym' or ':nosym' given twice"),
        ("pretrained:64:sym:sym", r"':sym' or ':nosym' given twice"),  # it quoted '64:sym'
        ("pretrained:-1", r"SIMS must be a whole number >= 1, not '-1'"),
        ("pretrained:1000001", r"SIMS is at most 1000000 \(MctsParams"),  # its own words
        ("pretrained:64:symm", r"no option 'symm' \(did you mean ':sym'\?\)"),
        ("pretrained:nosim", r"no option 'nosim' \(did you mean ':nosym'\?\)"),
        ("random:nosym", r"random runs no such search"),
    ],
)
def test_malformed_sym_specs_say_what_is_wrong(spec, match):
    """A ':sym' where no search can take it, or a pretrained spec with a part left over, is
    refused naming the part, not as an unknown agent or a bad DEPTH/SIMS."""
    with pytest.raises(SpecError, match=match):
        make_agent(spec, make_game("connect_four"))


def test_self_play_honours_it_and_training_refuses_it_without_symmetries():
    game = make_game("tictactoe")
    spec = NetSpec(game.observation_shape, game.num_actions, TINY)
    weights = net_weights(_net(game, 5))
    outs = []
    for averaging in (False, True):
        mcts = MctsParams(num_iters_per_turn=8, symmetry_averaging=averaging)
        job = WorkerJob(game=GameSpec(name="tictactoe"), net=spec, weights=(weights,),
                        mcts=mcts, num_games=2, num_concurrent=2, seed=3)  # fmt: skip
        outs.append(run_job(job))
    assert not np.array_equal(outs[0].samples.policy, outs[1].samples.policy)
    params = params_from_dict({"self_play": {"mcts": {"symmetry_averaging": True}}})
    params.validate_for_game(game)  # tic-tac-toe has 8 symmetries: accepted
    with pytest.raises(ValueError, match=r"self_play\.mcts\.symmetry_averaging=True needs a game"):
        params.validate_for_game(_NoSymmetries())
