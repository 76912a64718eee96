"""Policy-value networks and the network evaluator (real torch nets, CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from az_gym.networks import (
    NetOutput,
    NetworkConfig,
    NetworkEvaluator,
    PolicyValueNet,
    resolve_device,
)

torch.set_num_threads(1)

SMALL_RES = NetworkConfig(num_blocks=1, num_filters=8, value_hidden=8)


def _batch(shape: tuple[int, ...], num_actions: int, b: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    obs = rng.integers(0, 2, size=(b, *shape)).astype(np.float32)
    masks = rng.random((b, num_actions)) < 0.5
    masks[:, 0] = True
    return obs, masks


@pytest.mark.parametrize(
    ("shape", "kind", "config"),
    [((6, 7, 2), "resnet", SMALL_RES), ((10,), "mlp", None), ((3, 4), "mlp", None)],
)
def test_shapes_and_kind(shape, kind, config) -> None:
    torch.manual_seed(0)
    net = PolicyValueNet(shape, 7, config)
    assert net.kind == kind
    obs, masks = _batch(shape, 7)
    out = net(torch.from_numpy(obs), torch.from_numpy(masks))
    assert isinstance(out, NetOutput)
    assert out.logits.shape == (5, 7) and out.log_probs.shape == (5, 7)
    assert out.value.shape == (5,)


def test_mask_respected_and_value_range() -> None:
    torch.manual_seed(0)
    net = PolicyValueNet((6, 7, 2), 7, SMALL_RES).eval()
    obs, masks = _batch((6, 7, 2), 7, b=16)
    obs *= 100.0  # push the value head towards saturation
    out = net(torch.from_numpy(obs), torch.from_numpy(masks))
    probs = out.log_probs.exp().detach().numpy()
    assert (probs[~masks] < 1e-12).all()
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    assert (out.value.abs() <= 1.0).all()
    # raw logits are not masked (they feed the nonvalidity penalty)
    assert (out.logits.detach().numpy()[~masks] > -1e6).all()

    priors, values = NetworkEvaluator(net)(obs, masks)
    assert priors.shape == (16, 7) and values.shape == (16,)
    assert (priors[~masks] == 0).all()
    np.testing.assert_allclose(priors.sum(1), 1.0, rtol=1e-5)
    assert ((values >= -1) & (values <= 1)).all()


def test_dropout_net_is_deterministic_in_eval_mode() -> None:
    torch.manual_seed(0)
    cfg = NetworkConfig(kind="mlp", hidden=(32, 32), dropout=0.5)
    net = PolicyValueNet((3, 3, 2), 9, cfg)
    obs, masks = _batch((3, 3, 2), 9, b=4)
    x, m = torch.from_numpy(obs), torch.from_numpy(masks)
    net.train()
    a, b = net(x, m), net(x, m)
    assert not torch.equal(a.logits, b.logits)  # dropout is live in train mode
    net.eval()
    a, b = net(x, m), net(x, m)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.value, b.value)
    ev = NetworkEvaluator(net)
    net.train()  # the evaluator puts the net in eval mode itself
    p1, v1 = ev(obs, masks)
    p2, v2 = ev(obs, masks)
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(v1, v2)


def test_gradients_flow_in_train_mode() -> None:
    torch.manual_seed(0)
    net = PolicyValueNet((6, 7, 2), 7, SMALL_RES).train()
    obs, masks = _batch((6, 7, 2), 7, b=8)
    out = net(torch.from_numpy(obs), torch.from_numpy(masks))
    loss = -out.log_probs[:, 0].mean() + out.value.pow(2).mean() + out.logits.pow(2).mean()
    loss.backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_config_validation_and_round_trip() -> None:
    with pytest.raises(ValueError, match="kind"):
        NetworkConfig(kind="transformer")
    with pytest.raises(ValueError, match="dropout"):
        NetworkConfig(dropout=1.5)
    with pytest.raises(ValueError, match="num_filters"):
        NetworkConfig(num_filters=0)
    with pytest.raises(ValueError, match=r"\[H, W, C\]"):
        PolicyValueNet((10,), 4, NetworkConfig(kind="resnet"))
    cfg = NetworkConfig(kind="mlp", hidden=(16, 8), batch_norm=False)
    assert NetworkConfig.from_dict(cfg.to_dict()) == cfg
    net = PolicyValueNet((3, 3, 2), 9, cfg)
    with pytest.raises(ValueError, match="expected"):
        net(torch.zeros(2, 3, 3, 3))


def test_resolve_device() -> None:
    assert resolve_device(False) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(True).type == expected
