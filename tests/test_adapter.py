"""The PettingZoo adapter on unmodified pettingzoo.classic envs: clones, purity, refusals."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable

import numpy as np
import pettingzoo
import pytest
from pettingzoo import AECEnv

from az_gym.envs.adapter import PettingZooGame, clone_env
from az_gym.envs.registry import game_and_state
from az_gym.game import Symmetry, mirror_symmetry

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

CLASSIC: dict[str, Callable[[], AECEnv]] = {
    "connect_four": lambda: pettingzoo.make("aec", "classic/connect_four-v3"),
    "tictactoe": lambda: pettingzoo.make("aec", "classic/tictactoe-v3"),
    "go9": lambda: pettingzoo.make("aec", "classic/go-v5", board_size=9),
    "chess": lambda: pettingzoo.make("aec", "classic/chess-v6"),
}


def snapshot(env: AECEnv) -> dict:
    """Everything an agent can see: observations and masks of all agents, bookkeeping."""
    return {
        "obs": {a: env.observe(a) for a in env.agents},
        "agents": list(env.agents),
        "selection": env.agent_selection,
        "rewards": dict(env.rewards),
        "cumulative": dict(env._cumulative_rewards),
        "terminations": dict(env.terminations),
        "truncations": dict(env.truncations),
    }


def assert_same(x: dict, y: dict) -> None:
    assert x.keys() == y.keys()
    for k in x:
        if k == "obs":
            assert x[k].keys() == y[k].keys()
            for a in x[k]:
                for part in ("observation", "action_mask"):
                    np.testing.assert_array_equal(x[k][a][part], y[k][a][part])
        else:
            assert x[k] == y[k], k


def random_moves(env: AECEnv, n: int, rng: np.random.Generator) -> list[int]:
    """Step ``env`` up to ``n`` random legal moves (stops at the end); return them."""
    moves = []
    for _ in range(n):
        agent = env.agent_selection
        if env.terminations[agent] or env.truncations[agent]:
            break
        a = int(rng.choice(np.flatnonzero(env.observe(agent)["action_mask"])))
        env.step(a)
        moves.append(a)
    return moves


def test_deepcopy_loses_the_game_but_clone_env_does_not() -> None:
    env = CLASSIC["connect_four"]()
    env.reset(seed=0)
    for a in (3, 3, 4):
        env.step(a)
    broken = copy.deepcopy(env)
    # EzPickle rebuilds the raw env from its constructor: an empty, never-reset board.
    assert sum(broken.unwrapped.board) == 0
    assert not hasattr(broken.unwrapped, "agent_selection")
    good = clone_env(env)
    assert good.unwrapped.board == env.unwrapped.board and sum(env.unwrapped.board) == 4
    assert good.unwrapped is not env.unwrapped and good.unwrapped.board is not env.unwrapped.board
    assert_same(snapshot(good), snapshot(env))


@pytest.mark.parametrize("name", CLASSIC)
def test_clone_then_same_moves_equals_original(name: str) -> None:
    rng = np.random.default_rng(1)
    env = CLASSIC[name]()
    env.reset(seed=0)
    random_moves(env, 6, rng)
    twin = clone_env(env)
    assert_same(snapshot(twin), snapshot(env))
    moves = random_moves(env, 20, rng)
    for a in moves:
        twin.step(a)
    assert_same(snapshot(twin), snapshot(env))


@pytest.mark.parametrize("name", CLASSIC)
@pytest.mark.parametrize("clone", ["fast", "replay"])
def test_game_contract_matches_the_env(name: str, clone: str) -> None:
    """A random game through the adapter equals the raw env stepped with the same moves;
    next_state never mutates its input."""
    game = PettingZooGame(CLASSIC[name], clone=clone)
    assert game.num_players == 2
    env = CLASSIC[name]()
    env.reset()
    rng = np.random.default_rng(2)
    state = game.initial_state()
    for _ in range(25 if name != "chess" else 12):
        if game.is_terminal(state):
            break
        agent = env.agent_selection
        assert env.possible_agents[game.to_play(state)] == agent
        raw = env.observe(agent)
        np.testing.assert_array_equal(game.legal_mask(state), raw["action_mask"].astype(bool))
        np.testing.assert_array_equal(game.observation(state), raw["observation"])
        assert game.observation(state).dtype == np.float32
        a = int(rng.choice(game.legal_actions(state)))
        key, obs, mask = game.key(state), game.observation(state).copy(), game.legal_mask(state)
        before = snapshot(state.env)
        child = game.next_state(state, a)
        assert_same(snapshot(state.env), before)  # the parent's env was not stepped
        assert game.key(state) == key and game.key(child) != key
        np.testing.assert_array_equal(game.observation(state), obs)
        np.testing.assert_array_equal(game.legal_mask(state), mask)
        env.step(a)
        state = child
        assert_same(snapshot(state.env), snapshot(env))
    assert isinstance(game.render(state), str)


def test_returns_at_the_end_and_rendering() -> None:
    game = PettingZooGame(CLASSIC["connect_four"])
    s = game.initial_state()
    for a in (0, 1, 0, 1, 0, 1):
        s = game.step(s, a)
    assert not game.is_terminal(s) and not game.returns(s).any()
    s = game.step(s, 0)  # a vertical four for player_0
    assert game.is_terminal(s) and not game.legal_mask(s).any()
    np.testing.assert_array_equal(game.returns(s), [1.0, -1.0])
    assert "X" in game.render(s)  # connect_four has no ansi mode: the planes picture
    chess = PettingZooGame(CLASSIC["chess"])
    assert "r n b q k b n r" in chess.render(chess.initial_state())  # its ansi rendering
    assert game.action_to_string(3) == "3" and game.string_to_action("3") == 3


def test_states_survive_deepcopy_and_pickle() -> None:
    game = PettingZooGame(CLASSIC["chess"])
    s = game.initial_state()
    for _ in range(3):
        s = game.next_state(s, game.legal_actions(s)[-1])
    for copied in (copy.deepcopy(s), pickle.loads(pickle.dumps(s))):
        assert copied.env is not s.env and copied.history == s.history
        assert_same(snapshot(copied.env), snapshot(s.env))
        child = game.next_state(copied, game.legal_actions(copied)[0])
        assert game.key(child) == game.key(game.next_state(s, game.legal_actions(s)[0]))


def test_game_built_from_an_instance_pickles_in_replay_mode() -> None:
    env = CLASSIC["connect_four"]()
    env.reset()
    game = pickle.loads(pickle.dumps(PettingZooGame(env, clone="replay")))
    s = game.next_state(game.next_state(game.initial_state(), 3), 3)
    assert s.env.unwrapped.board[-4] == 1 and s.env.unwrapped.board[-11] == 2


def test_env_instance_is_cloned_not_used() -> None:
    env = CLASSIC["tictactoe"]()
    env.reset()
    env.step(4)
    game = PettingZooGame(env)
    assert game.initial_state().env.unwrapped.board.squares == [0] * 9
    s = game.state_from_env(env)
    s2 = game.next_state(s, 0)
    assert env.unwrapped.board.squares[0] == 0 and s2.env.unwrapped.board.squares[0] == 2
    assert s.history is None and s2.history is None


def test_game_and_state_on_a_raw_env_never_mutates_it() -> None:
    env = CLASSIC["connect_four"]()
    env.reset()
    env.step(3)
    game, state = game_and_state(env)
    assert isinstance(game, PettingZooGame) and game.to_play(state) == 1
    before = list(env.unwrapped.board)
    game.next_state(game.next_state(state, 3), 3)
    assert env.unwrapped.board == before
    game2, _ = game_and_state(env)
    assert game2 is game  # one adapter per env object


def test_env_without_mask_is_refused() -> None:
    rps = pettingzoo.make("aec", "classic/rps-v2")
    with pytest.raises(ValueError, match=r"no legal-action mask.*action_mask"):
        PettingZooGame(rps)


def test_more_than_two_players_is_refused() -> None:
    from pettingzoo.test.example_envs import generated_agents_env_action_mask_obs_v0 as many

    env = many.env()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"1 or 2 players.*has \d+ possible agents"):
        PettingZooGame(env)


def test_user_symmetries() -> None:
    mirror = mirror_symmetry(7, 6)
    game = PettingZooGame(CLASSIC["connect_four"], symmetries=[game_identity(7), mirror])
    assert [s.name for s in game.symmetries()] == ["identity", "mirror"]
    s = game.initial_state()
    assert game.apply_symmetry(s, game.symmetries()[0]) is s
    with pytest.raises(NotImplementedError, match="state_transform"):
        game.apply_symmetry(s, mirror)
    with pytest.raises(ValueError, match="7 sigma entries"):
        PettingZooGame(CLASSIC["connect_four"], symmetries=[game_identity(9)])
    with pytest.raises(ValueError, match="clone"):
        PettingZooGame(CLASSIC["connect_four"], clone="deepcopy")


def game_identity(n: int) -> Symmetry:
    return Symmetry("identity", np.arange(n), lambda a: a)
