"""The Gymnasium views with Stable-Baselines3 and sb3-contrib, as their users call them.

``make_vec_env`` (which asks for ``render_mode="rgb_array"``), SB3's ``check_env``, plain
PPO without masks (illegal samples end the episode as a loss instead of crashing) and
MaskablePPO (masks through ``env_method("action_masks")``), with tiny budgets.
"""

from __future__ import annotations

import numpy as np
import pytest

import az_gym  # noqa: F401  (registers the Gymnasium ids)
from az_gym.envs.registry import available_games, gym_id

sb3 = pytest.importorskip("stable_baselines3")
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.env_checker import check_env  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # SB3: "looks like an image"

TICTACTOE = gym_id("tictactoe")


@pytest.fixture(autouse=True)
def sb3_logs_in_tmp_path(tmp_path, monkeypatch):
    """SB3's logger makes a /tmp/SB3-<date> folder per learn() unless SB3_LOGDIR names one."""
    monkeypatch.setenv("SB3_LOGDIR", str(tmp_path / "sb3"))


@pytest.fixture(autouse=True)
def one_torch_thread():
    """SB3's tiny MLPs on a busy 2-core machine: 0.13 s on one thread, 1.6-10 s on two."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class CountIllegal(BaseCallback):
    """Counts the steps whose info reports an illegal action, and the episodes' rewards."""

    def __init__(self) -> None:
        super().__init__()
        self.illegal = 0
        self.final_rewards: list[float] = []

    def _on_step(self) -> bool:
        for info, reward, done in zip(
            self.locals["infos"], self.locals["rewards"], self.locals["dones"]
        ):
            self.illegal += "illegal_action" in info
            if done:
                self.final_rewards.append(float(reward))
        return True


@pytest.mark.parametrize("name", available_games())
def test_sb3_check_env(name: str) -> None:
    import gymnasium

    check_env(gymnasium.make(gym_id(name)))
    check_env(gymnasium.make(gym_id(name), agent_color=1).unwrapped)


def test_make_vec_env_renders_rgb_frames() -> None:
    # Before: make_vec_env raised ValueError (render_mode='rgb_array' was not supported).
    venv = make_vec_env(TICTACTOE, n_envs=2, seed=0)
    obs = venv.reset()
    assert obs.shape == (2, 3, 3, 2)
    frames = venv.get_images()
    assert len(frames) == 2 and all(f.dtype == np.uint8 and f.shape[2] == 3 for f in frames)
    venv.close()


def test_plain_ppo_trains_without_masks() -> None:
    # Before: the first illegal sample raised IllegalActionError out of model.learn.
    venv = make_vec_env(TICTACTOE, n_envs=2, seed=0)
    model = sb3.PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    counter = CountIllegal()
    model.learn(256, callback=counter)
    assert model.num_timesteps >= 256
    assert counter.illegal > 0  # an untrained unmasked policy does sample occupied cells
    assert set(counter.final_rewards) <= {-1.0, 0.0, 1.0} and -1.0 in counter.final_rewards
    venv.close()


def test_maskable_ppo_uses_the_masks() -> None:
    contrib = pytest.importorskip("sb3_contrib")
    from sb3_contrib.common.maskable.utils import get_action_masks

    venv = make_vec_env(TICTACTOE, n_envs=2, seed=0, env_kwargs={"illegal_action": "raise"})
    venv.reset()
    venv.step(np.array([4, 4]))
    masks = get_action_masks(venv)  # env_method("action_masks") through the wrappers
    assert masks.shape == (2, 9) and not masks[:, 4].any()
    np.testing.assert_array_equal(masks[0], venv.envs[0].unwrapped.action_masks())
    model = contrib.MaskablePPO(
        "MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu"
    )
    counter = CountIllegal()
    model.learn(256, callback=counter)  # "raise": one illegal action would stop it
    assert model.num_timesteps >= 256 and counter.illegal == 0
    venv.close()
