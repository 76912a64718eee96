"""The torch thread rule (az_gym.threads), observed in real fresh processes: inference on one
thread, the learner on ``learning.num_threads``, the overrides."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import az_gym
from az_gym.threads import (
    ENV_VAR,
    available_cores,
    env_threads,
    inference_threads,
    learner_threads,
)
from az_gym.training.params import LearningParams, ParamsError

ROOT = str(Path(az_gym.__file__).resolve().parent.parent)

# A fresh process: an agent searches, a learner trains, the agent searches again; each step
# records torch.get_num_threads(). The JSON line is the last line of stdout.
SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import torch
    from az_gym import AlphaZeroAgent, make_game
    from az_gym.mcts import MctsParams
    from az_gym.networks import NetworkConfig
    from az_gym.training.learning import Learner
    from az_gym.training.memory import MemoryBuffer
    from az_gym.training.params import LearningParams, SamplesWeighingPolicy

    learner_threads = json.loads(sys.argv[1])
    user_threads = json.loads(sys.argv[2])
    seen = {"start": torch.get_num_threads()}
    game = make_game("tictactoe")
    net = NetworkConfig(kind="mlp", hidden=(8,), value_hidden=4)
    agent = AlphaZeroAgent(game, net, MctsParams(num_iters_per_turn=8), seed=0)
    agent.act_state(game, game.initial_state())
    seen["act"] = torch.get_num_threads()
    buf = MemoryBuffer(100)
    s, obs, masks, players = game.initial_state(), [], [], []
    while not game.is_terminal(s):
        obs.append(game.observation(s))
        masks.append(game.legal_mask(s))
        players.append(game.to_play(s))
        s = game.next_state(s, int(np.flatnonzero(masks[-1])[0]))
    pis = np.stack(masks) / np.stack(masks).sum(1, keepdims=True)
    buf.add_game(np.stack(obs), pis, np.stack(masks), players, game.returns(s))
    data = buf.training_data(False, SamplesWeighingPolicy.CONSTANT)
    params = LearningParams(batch_size=4, max_batches_per_checkpoint=2, num_threads=learner_threads)
    Learner(agent.network, params).train(data, 0, np.random.default_rng(0))
    seen["learn"] = torch.get_num_threads()
    agent.act_state(game, game.initial_state())
    seen["act_again"] = torch.get_num_threads()
    if user_threads is not None:
        torch.set_num_threads(user_threads)  # the user's own choice, after az_gym's
        agent.act_state(game, game.initial_state())
        Learner(agent.network, params).train(data, 0, np.random.default_rng(0))
        seen["user"] = torch.get_num_threads()
    print(json.dumps(seen))
    """
)


def _observe(learner: int | None = None, user: int | None = None, env: str | None = None):
    environ = {k: v for k, v in os.environ.items() if k not in (ENV_VAR, "OMP_NUM_THREADS")}
    environ["PYTHONPATH"] = ROOT
    if env is not None:
        environ[ENV_VAR] = env
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(learner), json.dumps(user)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_agent_searches_on_one_thread_and_the_learner_on_its_param() -> None:
    seen = _observe(learner=3, user=2)
    assert seen["act"] == 1  # torch's default is one thread per core
    assert seen["learn"] == 3
    assert seen["act_again"] == 1  # each phase sets its own count in a process doing both
    assert seen["user"] == 2  # a torch.set_num_threads after az_gym's is respected


def test_the_environment_variable_overrides_both_roles() -> None:
    seen = _observe(env="2")
    assert seen["act"] == 2 and seen["learn"] == 2 and seen["act_again"] == 2


def test_the_rule_and_bad_counts(monkeypatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert learner_threads() == max(1, available_cores() - 1)
    assert inference_threads() == 1 and inference_threads(4) == 4
    monkeypatch.setenv(ENV_VAR, "2")
    assert learner_threads() == 2 and inference_threads() == 2
    assert learner_threads(3) == 3  # the explicit param is stronger
    monkeypatch.setenv(ENV_VAR, "many")
    with pytest.raises(ValueError, match=f"{ENV_VAR}='many' must be a positive integer"):
        env_threads()
    monkeypatch.setenv(ENV_VAR, "")
    assert env_threads() is None
    with pytest.raises(ParamsError, match=r"LearningParams\.num_threads=0"):
        LearningParams(num_threads=0)
