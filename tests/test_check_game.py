"""``az_gym.testing.check_game`` on every native game, both adapters, and broken games."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from az_gym.envs.registry import available_games, make_game
from az_gym.envs.tictactoe import TicTacToe
from az_gym.game import Game, Symmetry
from az_gym.testing import check_game

NATIVE = [(name, {}) for name in available_games()] + [("othello", {"size": 6})]


@pytest.mark.parametrize(("name", "options"), NATIVE, ids=[f"{n}{o or ''}" for n, o in NATIVE])
def test_native_games_pass(name: str, options: dict) -> None:
    check_game(make_game(name, **options), num_playouts=3, seed=1)


def test_takes_what_every_entry_point_takes() -> None:
    """A registry name, an env and a factory, as ``AlphaZeroAgent`` and ``Trainer`` do."""
    from pettingzoo.classic import tictactoe_v3

    import az_gym

    check_game("tictactoe", num_playouts=1)
    check_game(az_gym.make("connect_four"), num_playouts=1)
    check_game(tictactoe_v3.env, num_playouts=1, probes=1)


@pytest.mark.parametrize("env", ["tictactoe_v3", "connect_four_v3"])
def test_pettingzoo_adapter_passes(env: str) -> None:
    import importlib

    from az_gym.envs.adapter import PettingZooGame

    module = importlib.import_module(f"pettingzoo.classic.{env}")
    check_game(PettingZooGame(module.env), num_playouts=2, probes=1)


@pytest.mark.parametrize("slippery", [False, True])
def test_gymnasium_adapter_passes(slippery: bool) -> None:
    from az_gym.envs.gym_adapter import GymnasiumGame

    lake = GymnasiumGame(lambda: gymnasium.make("FrozenLake-v1", is_slippery=slippery))
    check_game(lake, num_playouts=3, max_moves=40)


# --------------------------------------------------------------------- broken games
class Race(Game):
    """One player adds 1 or 2 to a counter (a mutable list) until it reaches 4."""

    name, num_players, num_actions, observation_shape = "race", 1, 2, (1,)

    def initial_state(self) -> list[int]:
        return [0]

    def to_play(self, state):
        return 0

    def legal_mask(self, state):
        return np.full(2, not self.is_terminal(state))

    def next_state(self, state, action):
        return [state[0] + action + 1]

    def is_terminal(self, state):
        return state[0] >= 4

    def returns(self, state):
        return np.array([1.0 if self.is_terminal(state) else 0.0])

    def observation(self, state, player=None):
        return np.array([state[0]], np.float32)

    def key(self, state):
        return state[0]

    def render(self, state):
        return str(state[0])

    def action_to_string(self, action):
        return f"+{action + 1}"


class Mutating(Race):
    def next_state(self, state, action):
        state[0] += action + 1
        return list(state)


class EarlyReward(Race):
    def returns(self, state):
        return np.array([0.5])


class OpenEnd(Race):
    def legal_mask(self, state):
        return np.ones(2, bool)


class Float64(Race):
    def observation(self, state, player=None):
        return np.array([state[0]], np.float64)


class SharedKey(Race):
    def key(self, state):
        return 0


class Unhashable(Race):
    def key(self, state):
        return [state[0]]


class BadSigma(TicTacToe):
    def symmetries(self):
        return [*super().symmetries(), Symmetry("dup", np.zeros(9, np.int64), lambda o: o)]


class WrongObservationSymmetry(TicTacToe):
    """Moves the marks by one rotation and the observation planes by another."""

    def symmetries(self):
        syms = super().symmetries()
        return [syms[0], Symmetry(syms[1].name, syms[2].sigma, syms[1].obs_transform)]


class WrongMaskSymmetry(TicTacToe):
    """A 'symmetry' that leaves states and observations alone but permutes actions."""

    def symmetries(self):
        syms = super().symmetries()
        return [syms[0], Symmetry("fake", syms[1].sigma, lambda o: o)]

    def apply_symmetry(self, state, symmetry):
        return state if symmetry.name == "fake" else super().apply_symmetry(state, symmetry)


@pytest.mark.parametrize(
    ("game", "needle"),
    [
        (Mutating(), r"check_game\(race\): no mutation: next_state changed the state"),
        (EarlyReward(), r"returns: returns \[0.5\] are not zero while running"),
        (OpenEnd(), r"mask: a terminal state has legal actions \[0, 1\]"),
        (Float64(), r"observation: observation\(s, player=0\) is float64\[1\], not float32"),
        (SharedKey(), r"key: two states .* share the key 0"),
        (Unhashable(), r"key: key\(s\) = \[0\] is not hashable"),
        (BadSigma(), r"symmetry: 'dup': sigma is not a permutation of 0 .. 8"),
        (WrongObservationSymmetry(), r"symmetry 'rot90': observation\(g\(s\), 0\) != g\.transform"),
        (WrongMaskSymmetry(), r"symmetry 'fake': legal_mask\(g\(s\)\) != legal_mask\(s\)\[sigma\]"),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, Game) else "",
)  # fmt: skip
def test_each_broken_law_is_named(game: Game, needle: str) -> None:
    with pytest.raises(AssertionError, match=needle):
        check_game(game, num_playouts=3)


def test_same_seed_same_playouts() -> None:
    """The playouts come from the seed alone (the check is reproducible)."""
    seen: list[list[int]] = [[], []]

    class Recording(Race):
        def __init__(self, log):
            self.log = log

        def next_state(self, state, action):
            self.log.append(action)
            return super().next_state(state, action)

    for log in seen:
        check_game(Recording(log), num_playouts=4, seed=7)
    assert seen[0] == seen[1] and len(seen[0]) > 4
