"""The pettingzoo.classic envs declared identical to a native game really are, and only
they are played by the native game's agents (``registry.CLASSIC_EQUIVALENTS``).

For every declared pair, random games are played in both side by side: at every move the
adapter's view of the classic env (what an agent searches: mover, observation planes of
both players, legal mask) equals the native game's, the same action index is played in
both, and the final returns agree. A shipped agent then picks the same move in both.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

import az_gym
from az_gym.agents import AlphaZeroAgent, NetworkOnlyAgent
from az_gym.envs.registry import CLASSIC_EQUIVALENTS, canonical_game_id, game_and_state

pytest.importorskip("pygame")  # pettingzoo.classic's board games import it
torch.set_num_threads(1)

PAIRS = sorted(CLASSIC_EQUIVALENTS.items())


def classic_env(name: str):
    """``pettingzoo.classic.<name>.env()``, wrappers included (what users make)."""
    return importlib.import_module(f"pettingzoo.classic.{name}").env()


@pytest.mark.parametrize(("classic", "native"), PAIRS)
def test_declared_equivalents_agree_move_by_move(classic: str, native: str) -> None:
    game = az_gym.make_game(native)
    env = classic_env(classic)
    rng = np.random.default_rng(0)
    for g in range(60):
        env.reset(seed=g)
        s = game.initial_state()
        while True:
            pz_game, pz_state = game_and_state(env)
            assert canonical_game_id(pz_game) == game.game_id
            assert pz_game.is_terminal(pz_state) == game.is_terminal(s)
            if game.is_terminal(s):
                break
            assert pz_game.to_play(pz_state) == game.to_play(s)
            mask = game.legal_mask(s)
            np.testing.assert_array_equal(pz_game.legal_mask(pz_state), mask)
            for player in range(game.num_players):
                np.testing.assert_array_equal(
                    pz_game.observation(pz_state, player), game.observation(s, player)
                )
            a = int(rng.choice(np.flatnonzero(mask)))
            env.step(a)  # the same index in both
            s = game.next_state(s, a)
        np.testing.assert_array_equal(pz_game.returns(pz_state), game.returns(s))


@pytest.mark.parametrize(("classic", "native"), PAIRS)
def test_the_shipped_agent_plays_the_classic_env_as_the_native_one(
    classic: str, native: str
) -> None:
    agent = az_gym.pretrained(native, simulations=32)
    env, twin = classic_env(classic), az_gym.make(native)
    env.reset(seed=0)
    twin.reset(seed=0)
    for _ in range(6):
        a = agent.act(env)
        assert agent.act(twin) == a
        env.step(a)
        twin.step(a)
    network_only = NetworkOnlyAgent(agent)  # its policy head alone: the same rule
    assert network_only.act(env) == network_only.act(twin)
    # loading onto the classic env (not reset yet) works too
    assert AlphaZeroAgent.load(az_gym.agents.shipped.pretrained_path(native), classic_env(classic))


def test_undeclared_classic_envs_are_still_refused() -> None:
    # tictactoe_v3 numbers cells column by column: the native agent's moves would be wrong.
    from pettingzoo.classic import tictactoe_v3

    assert "tictactoe_v3" not in CLASSIC_EQUIVALENTS
    env = tictactoe_v3.env()
    env.reset(seed=0)
    agent = az_gym.pretrained("tictactoe")
    with pytest.raises(ValueError, match=r"for game 'tictactoe', asked to play 'tictactoe_v3'"):
        agent.act(env)
    with pytest.raises(ValueError, match="tictactoe_v3"):
        az_gym.pretrained("tictactoe", env_or_game=tictactoe_v3.env())


@pytest.mark.parametrize(("classic", "native"), PAIRS)
def test_a_network_trained_on_the_classic_env_loads_onto_it(
    classic: str, native: str, tmp_path
) -> None:
    # A checkpoint stores the game_id it was trained on (connect_four_v3); loading it back
    # onto that very env compared the env's canonical id (connect_four) with it and refused:
    # "made for game 'connect_four_v3', not for 'connect_four_v3'".
    trained_on = classic_env(classic)
    path = tmp_path / "agent.pt"
    AlphaZeroAgent(trained_on, simulations=8).save(path)
    for env in (classic_env(classic), az_gym.make(native)):
        agent = AlphaZeroAgent.load(path, env)
        env.reset(seed=0)
        assert agent.act(env) in np.flatnonzero(env.last()[0]["action_mask"])
    with pytest.raises(ValueError, match=f"made for game '{classic}'"):
        AlphaZeroAgent.load(path, az_gym.make("tictactoe"))


@pytest.mark.parametrize(("classic", "native"), PAIRS)
def test_the_pretrained_spec_plays_the_classic_env(classic: str, native: str) -> None:
    # `az-gym evaluate pettingzoo.classic.connect_four_v3:env pretrained random` said that no
    # agent ships for connect_four_v3, though the README says the shipped one plays it.
    from az_gym.agent_specs import make_agent
    from az_gym.envs.registry import as_game

    game = as_game(importlib.import_module(f"pettingzoo.classic.{classic}").env)
    agent = make_agent("pretrained:8", game)
    assert canonical_game_id(agent.game) == native
