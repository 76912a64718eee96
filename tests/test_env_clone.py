"""One cloning core for both foreign-env adapters (az_gym.envs.env_clone), one rule for an
attribute that cannot be deep-copied: a pygame object is shared (rendering only), anything
else is a TypeError naming it unless ``share=`` names it. Checked on both adapters with
real envs (PettingZoo tictactoe_v3, Gymnasium FrozenLake) and real uncopyable objects."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np
import pytest
from pettingzoo.classic import tictactoe_v3

from az_gym.envs.adapter import PettingZooGame, clone_env
from az_gym.envs.gym_adapter import SHARED_ATTRIBUTES, GymnasiumGame, clone_gym_env

pygame = pytest.importorskip("pygame")


def _tictactoe() -> Any:
    env = tictactoe_v3.env()
    env.reset(seed=0)
    env.step(4)
    return env


def _frozen_lake() -> Any:
    env = gymnasium.make("FrozenLake-v1", map_name="4x4", is_slippery=False)
    env.reset(seed=0)
    env.step(2)
    return env


# adapter -> (a live env, its clone function, its Game class)
ADAPTERS: dict[str, tuple[Callable[[], Any], Callable[..., Any], type]] = {
    "pettingzoo": (_tictactoe, clone_env, PettingZooGame),
    "gymnasium": (_frozen_lake, clone_gym_env, GymnasiumGame),
}


def _position(env: Any) -> Any:
    raw = env.unwrapped
    return list(raw.board.squares) if hasattr(raw, "board") else int(raw.s)


@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_a_pygame_object_is_shared_and_the_position_copied(adapter: str) -> None:
    make, clone, _ = ADAPTERS[adapter]
    env = make()
    clock = pygame.time.Clock()  # deepcopy raises TypeError on it
    env.unwrapped.__dict__["clock"] = clock
    twin = clone(env)
    assert twin.unwrapped.clock is clock
    assert twin.unwrapped is not env.unwrapped and _position(twin) == _position(env)


@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_any_other_uncopyable_attribute_is_refused_by_name(adapter: str) -> None:
    make, clone, game_class = ADAPTERS[adapter]
    env = make()
    env.unwrapped.__dict__["lock"] = threading.Lock()
    with pytest.raises(TypeError, match=r"cannot clone \w+\.lock .*clone='replay'.*share="):
        clone(env)
    with pytest.raises(TypeError, match=r"\.lock"):
        game_class(env)  # the adapter clones the env it is given


@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_share_names_an_attribute_that_clones_share(adapter: str) -> None:
    make, _, game_class = ADAPTERS[adapter]
    env = make()
    lock = threading.Lock()
    env.unwrapped.__dict__["lock"] = lock
    share = ("lock",) if adapter == "pettingzoo" else (*SHARED_ATTRIBUTES, "lock")
    game = game_class(env, share=share)
    state = game.state_from_env(env)
    action = int(np.flatnonzero(game.legal_mask(state))[0])
    child = game.next_state(state, action)
    assert child.env.unwrapped.lock is lock and child.env.unwrapped is not env.unwrapped
    assert _position(env) != _position(child.env)  # the child moved, the caller's env did not
