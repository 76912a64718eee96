"""Inference engines (az_gym/inference.py): every engine agrees with eager on the shipped
networks, follows weight changes, keeps the thread rule, and falls back cleanly."""

from __future__ import annotations

import copy
import pickle
import sys

import numpy as np
import pytest
import torch

from az_gym.agents.shipped import available_pretrained, pretrained
from az_gym.inference import MAX_ABS_DIFF, OnnxForward, resolve_engine
from az_gym.networks import NetworkConfig, NetworkEvaluator, PolicyValueNet
from az_gym.threads import set_inference_threads
from az_gym.training.params import SimParams

pytest.importorskip("onnxruntime")  # the dev extra installs the fast extra


def _batch(net: PolicyValueNet, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    obs = (rng.random((n, *net.observation_shape)) < 0.3).astype(np.float32)
    masks = rng.random((n, net.num_actions)) < 0.6
    masks[:, -1] = True
    return obs, masks


def _max_diff(a: NetworkEvaluator, b: NetworkEvaluator, obs: np.ndarray, m: np.ndarray) -> float:
    (pa, va), (pb, vb) = a(obs, m), b(obs, m)
    assert pa.shape == pb.shape and va.shape == vb.shape == (len(obs),)
    assert pa.dtype == pb.dtype == va.dtype == vb.dtype == np.float32
    return float(max(np.abs(pa - pb).max(), np.abs(va - vb).max()))


@pytest.mark.parametrize("name", available_pretrained())
def test_onnx_matches_eager_on_the_shipped_networks(name: str) -> None:
    net = pretrained(name).network
    eager = NetworkEvaluator(net, inference="eager")
    onnx = NetworkEvaluator(net, inference="onnx")
    assert NetworkEvaluator(net).engine == "onnx"  # the default on the CPU when installed
    for n in (1, 7, 64):
        obs, m = _batch(net, n, seed=n)
        assert _max_diff(eager, onnx, obs, m) <= MAX_ABS_DIFF
        priors, _ = onnx(obs, m)
        assert (priors[~m] == 0).all()  # zero on illegal actions, as eager


def test_onnx_follows_weight_changes() -> None:
    """A learner's step or a load_state_dict on the evaluated network must reach the
    session: a stale session would search with last iteration's network."""
    torch.manual_seed(0)
    net = PolicyValueNet((6, 7, 2), 7, NetworkConfig(num_blocks=1, num_filters=8))
    eager = NetworkEvaluator(net, inference="eager")
    onnx = NetworkEvaluator(net, inference="onnx")
    obs, m = _batch(net, 5)
    before = onnx(obs, m)[1].copy()
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    net.train()
    net(torch.from_numpy(obs), torch.from_numpy(m)).value.sum().backward()
    opt.step()
    assert not np.allclose(onnx(obs, m)[1], before)
    assert _max_diff(eager, onnx, obs, m) <= MAX_ABS_DIFF
    other = PolicyValueNet((6, 7, 2), 7, NetworkConfig(num_blocks=1, num_filters=8))
    net.load_state_dict(other.state_dict())
    assert _max_diff(eager, onnx, obs, m) <= MAX_ABS_DIFF
    assert not isinstance(onnx._forward, OnnxForward) or not onnx._forward.fallback


def test_networks_of_one_architecture_share_a_graph_not_weights() -> None:
    """The exported graph is cached per architecture: a second network of the same shape
    must run with its own weights, not the first one's."""
    config = NetworkConfig(num_blocks=2, num_filters=8)
    nets = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        nets.append(PolicyValueNet((6, 7, 2), 7, config))
    obs, m = _batch(nets[0], 6)
    outs = []
    for net in nets:
        onnx = NetworkEvaluator(net, inference="onnx")
        assert _max_diff(NetworkEvaluator(net, inference="eager"), onnx, obs, m) <= MAX_ABS_DIFF
        assert not onnx._forward.fallback
        outs.append(onnx(obs, m)[1])
    assert not np.allclose(outs[0], outs[1])


def test_onnx_session_uses_the_inference_thread_rule() -> None:
    net = PolicyValueNet((3, 3, 2), 9, NetworkConfig(kind="mlp", hidden=(16,)))
    ev = NetworkEvaluator(net, inference="onnx")
    obs, m = _batch(net, 2)
    ev(obs, m)
    assert ev._forward._num_threads == 1 == torch.get_num_threads()
    set_inference_threads(2)
    try:
        ev(obs, m)
        assert ev._forward._num_threads == 2
    finally:
        set_inference_threads(None)
    ev(obs, m)
    assert ev._forward._num_threads == 1


class _Traced(PolicyValueNet):
    """A network whose Python branch on the data an export bakes in (the export's dummy
    batch is all zeros): the exported graph disagrees with the module on other inputs."""

    def forward(self, obs: torch.Tensor, mask: torch.Tensor | None = None):  # type: ignore[override]
        out = super().forward(obs, mask)
        if float(obs.sum()) == 0.0:
            return out._replace(value=out.value * 0.0)
        return out


def test_onnx_that_disagrees_with_eager_warns_and_plays_eager() -> None:
    net = _Traced((3, 3, 2), 9, NetworkConfig(kind="mlp", hidden=(16,)))
    assert NetworkEvaluator(net).engine == "eager"  # auto: only PolicyValueNet is exported
    eager = NetworkEvaluator(net, inference="eager")
    onnx = NetworkEvaluator(net, inference="onnx")
    obs, m = _batch(net, 3)
    with pytest.warns(RuntimeWarning, match="differs from eager"):
        onnx(obs, m)
    assert onnx._forward.fallback
    assert _max_diff(eager, onnx, obs, m) == 0.0


def test_without_onnxruntime_auto_is_eager_and_onnx_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    net = PolicyValueNet((3, 3, 2), 9, NetworkConfig(kind="mlp", hidden=(16,)))
    ev = NetworkEvaluator(net)
    assert ev.engine == "eager"
    obs, m = _batch(net, 2)
    assert ev(obs, m)[0].shape == (2, 9)
    with pytest.raises(ImportError, match=r"pip install az-gym\[fast\]"):
        NetworkEvaluator(net, inference="onnx")


def test_engine_names_and_devices_are_checked() -> None:
    with pytest.raises(ValueError, match="inference = 'fastest'"):
        resolve_engine("fastest", torch.device("cpu"))
    with pytest.raises(ValueError, match="CPU only"):
        resolve_engine("onnx", torch.device("cuda"))
    assert resolve_engine("auto", torch.device("cuda")) == "eager"
    with pytest.raises(ValueError, match=r"SimParams.inference='fastest'"):
        SimParams(inference="fastest")
    with pytest.raises(ValueError, match="CPU only"):
        SimParams(inference="onnx", use_gpu=True)
    assert SimParams(inference="auto", use_gpu=True).inference == "auto"


def test_agents_with_an_onnx_engine_copy_and_pickle() -> None:
    agent = pretrained("tictactoe", simulations=8)
    assert agent.evaluator.engine == "onnx"
    state = agent.game.initial_state()
    agent.act_state(agent.game, state)  # builds the session
    for other in (copy.deepcopy(agent), pickle.loads(pickle.dumps(agent))):
        assert other.evaluator.engine == "onnx"
        assert other.game.legal_mask(state)[other.act_state(other.game, state)]
    assert agent.with_simulations(4).evaluator.inference == "auto"


@pytest.mark.slow  # compiling takes about a minute on 2 busy cores
def test_compile_matches_eager() -> None:
    pytest.importorskip("torch._inductor")
    net = PolicyValueNet((3, 3, 2), 9, NetworkConfig(kind="mlp", hidden=(16,)))
    eager = NetworkEvaluator(net, inference="eager")
    compiled = NetworkEvaluator(net, inference="compile")
    for n in (2, 5):  # two batch sizes: one dynamic graph
        obs, m = _batch(net, n, seed=n)
        assert _max_diff(eager, compiled, obs, m) <= MAX_ABS_DIFF
