"""Learning: losses by hand, train-mode fresh passes, the update schedule, memory analysis."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from az_gym.envs.registry import make_game
from az_gym.networks import NetworkConfig, PolicyValueNet
from az_gym.schedules import StepSchedule
from az_gym.training.learning import (
    Learner,
    analyse_memory,
    compute_losses,
    l2_penalty,
    loss_tensors,
)
from az_gym.training.memory import MemoryBuffer, TrainingData
from az_gym.training.params import LearningParams, OptimiserSpec, SamplesWeighingPolicy

torch.set_num_threads(1)


def tictactoe_data(n_games=30, seed=0):
    """Random tic-tac-toe games; the target policy favours the centre and corners."""
    game = make_game("tictactoe")
    rng = np.random.default_rng(seed)
    buf = MemoryBuffer(10_000)
    prefs = np.array([2, 1, 2, 1, 4, 1, 2, 1, 2], float)
    for _ in range(n_games):
        s, obs, pis, masks, players = game.initial_state(), [], [], [], []
        while not game.is_terminal(s):
            m = game.legal_mask(s)
            obs.append(game.observation(s))
            masks.append(m)
            pis.append(prefs * m / (prefs * m).sum())
            players.append(game.to_play(s))
            s = game.next_state(s, int(rng.choice(np.flatnonzero(m))))
        buf.add_game(np.stack(obs), np.stack(pis), np.stack(masks), players, game.returns(s))
    return buf


def small_net(dropout=0.0, batch_norm=True, seed=0):
    torch.manual_seed(seed)
    cfg = NetworkConfig(
        kind="mlp", hidden=(32, 32), value_hidden=16, dropout=dropout, batch_norm=batch_norm
    )
    return PolicyValueNet((3, 3, 2), 9, cfg)


PARAMS = LearningParams(
    batch_size=32,
    min_checkpoints_per_epoch=0,
    max_batches_per_checkpoint=60,
    num_checkpoints=2,
    optimiser=OptimiserSpec(lr=StepSchedule(3e-3, (1,), (1e-3,))),
    samples_weighing_policy=SamplesWeighingPolicy.LOG,
)


def test_loss_decreases_and_callbacks():
    buf = tictactoe_data()
    data = buf.training_data(True, SamplesWeighingPolicy.LOG)
    assert data.weight.max() > 1  # some positions were merged
    learner = Learner(small_net(), PARAMS)
    progress, checkpoints = [], []
    report = learner.train(
        data,
        iteration=0,
        rng=np.random.default_rng(0),
        on_progress=lambda done, total, loss: progress.append((done, total)),
        on_checkpoint=lambda i, r: checkpoints.append((i, r.batches_done)),
    )
    assert progress[-1] == (120, 120) and len(progress) == 120
    assert checkpoints == [(0, 60), (1, 120)]
    assert report.lr == 3e-3 and report.batches_per_checkpoint == 60
    before, after = report.losses_before, report.losses_after
    assert after.total < before.total
    assert after.policy < before.policy and after.value < before.value
    assert after.illegal_mass < before.illegal_mass
    assert before.entropy == pytest.approx(after.entropy)  # targets do not move
    assert after.policy >= after.entropy - 1e-5  # cross-entropy >= entropy
    learner.train(data, iteration=1, rng=np.random.default_rng(1))
    assert learner.optimiser.param_groups[0]["lr"] == 1e-3  # the schedule's next step


def test_loss_reports_on_a_sample_of_the_learning_set():
    """``loss_computation_max_samples`` shrinks the reports, never the training."""
    data = tictactoe_data(60).training_data(True, SamplesWeighingPolicy.LOG)
    n = len(data)
    assert n > 200
    full = dataclasses.replace(PARAMS, num_checkpoints=1, loss_computation_max_samples=None)
    capped = dataclasses.replace(full, loss_computation_max_samples=n // 4)
    nets, reports = [], []
    for params in (full, capped):
        net = small_net()
        reports.append(Learner(net, params).train(data, 0, np.random.default_rng(3)))
        nets.append(net)
    # The same updates whatever the cap...
    for a, b in zip(nets[0].state_dict().values(), nets[1].state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # ...the uncapped report is the whole set's loss, the capped one a sample's.
    whole = compute_losses(nets[0], data, full)
    assert reports[0].losses_after.total == pytest.approx(whole.total, rel=1e-6)
    assert reports[1].losses_after.total != pytest.approx(whole.total, rel=1e-6)
    assert reports[1].losses_after.total == pytest.approx(whole.total, rel=0.2)
    # A cap above the set's size changes nothing.
    roomy = dataclasses.replace(full, loss_computation_max_samples=n)
    report = Learner(small_net(), roomy).train(data, 0, np.random.default_rng(3))
    assert report.losses_after.total == pytest.approx(whole.total, rel=1e-6)


def test_learning_passes_are_fresh_and_in_train_mode():
    net = small_net(dropout=0.5)
    data = tictactoe_data(n_games=5).samples()
    obs = torch.from_numpy(data.obs[:16])
    net.train()
    a, b = net(obs).logits, net(obs).logits
    assert not torch.allclose(a, b)  # dropout active: two train-mode passes differ
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(obs).logits, net(obs).logits)

    modes = []
    net.register_forward_hook(lambda m, i, o: modes.append(m.training))
    params = dataclasses.replace(PARAMS, max_batches_per_checkpoint=3, num_checkpoints=1)
    learner = Learner(net, params)
    snapshot = {k: getattr(data, k).copy() for k in ("obs", "policy", "value", "mask")}
    learner.train(data, 0, np.random.default_rng(0))
    n_eval = len(modes) - 3  # compute_losses before and after, in eval mode
    assert modes.count(True) == 3 and modes.count(False) == n_eval
    assert modes[-1] is False and net.training is True  # mode restored after reporting
    for k, v in snapshot.items():
        assert isinstance(getattr(data, k), np.ndarray)
        np.testing.assert_array_equal(getattr(data, k), v)  # stored samples untouched


def test_gradients_come_only_from_the_fresh_pass():
    net = small_net()
    data = tictactoe_data(n_games=5).samples()
    # Self-play's pass: inference mode, nothing to backpropagate through.
    with torch.inference_mode():
        selfplay_out = net.eval()(torch.from_numpy(data.obs)).value
    assert not selfplay_out.requires_grad
    net.train()
    t = {k: torch.from_numpy(getattr(data, k)) for k in ("obs", "mask", "policy", "value")}
    terms = loss_tensors(net, t["obs"], t["mask"], t["policy"], t["value"], PARAMS)
    assert not any(x.requires_grad for x in t.values())
    (terms["policy"] + terms["value"]).backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_loss_terms_match_a_hand_computation():
    net = small_net(batch_norm=False)
    rng = np.random.default_rng(3)
    n, a = 40, 9
    obs = rng.integers(0, 2, (n, 3, 3, 2)).astype(np.float32)
    mask = rng.random((n, a)) < 0.5
    mask[:, 4] = True
    pi = rng.random((n, a)) * mask
    pi /= pi.sum(1, keepdims=True)
    z = rng.choice([-1.0, 0.0, 1.0], n)
    data = TrainingData.from_arrays(obs, pi, z, mask)
    w = rng.random(n).astype(np.float32) + 0.5
    data = dataclasses.replace(data, weight=w)
    params = dataclasses.replace(
        PARAMS, nonvalidity_penalty=2.5, rewards_renormalization=2.0, l2_regularization=1e-3
    )
    got = compute_losses(net, data, params, batch_size=7)  # several chunks

    with torch.no_grad():
        out = net.eval()(torch.from_numpy(obs))
    logits, v = out.logits.double().numpy(), out.value.double().numpy()
    p_full = np.exp(logits - logits.max(1, keepdims=True))
    p_full /= p_full.sum(1, keepdims=True)
    illegal = (p_full * ~mask).sum(1)
    p_legal = p_full * mask / (p_full * mask).sum(1, keepdims=True)
    lp = -(pi * np.log(np.where(mask, p_legal, 1.0))).sum(1)
    lv = ((v - z) / 2.0) ** 2  # AlphaZero.jl: prediction and target both divided
    sq = sum(float((p.detach().double() ** 2).sum()) for p in net.parameters() if p.ndim >= 2)

    def wmean(x):
        return float((x * w).sum() / w.sum())

    assert got.illegal_mass == pytest.approx(wmean(illegal), rel=1e-4)
    assert got.invalid == pytest.approx(2.5 * wmean(illegal), rel=1e-4)
    assert got.policy == pytest.approx(wmean(lp), rel=1e-4)
    assert got.value == pytest.approx(wmean(lv), rel=1e-4)
    assert got.l2 == pytest.approx(1e-3 * sq, rel=1e-4)
    assert got.total == pytest.approx(got.policy + got.value + got.l2 + got.invalid, rel=1e-6)


def test_l2_skips_biases_and_norms():
    net = small_net(batch_norm=True)
    expected = sum(
        float((m.weight.detach() ** 2).sum())
        for m in net.modules()
        if isinstance(m, torch.nn.Linear)
    )
    assert float(l2_penalty(net).detach()) == pytest.approx(expected, rel=1e-5)


def test_sgd_and_memory_analysis():
    buf = tictactoe_data(n_games=10)
    params = dataclasses.replace(
        PARAMS,
        num_checkpoints=1,
        max_batches_per_checkpoint=5,
        optimiser=OptimiserSpec(kind="sgd", momentum=0.9, nesterov=True, weight_decay=1e-4),
    )
    learner = Learner(small_net(), params)
    assert isinstance(learner.optimiser, torch.optim.SGD)
    learner.train(buf.training_data(False), 0, np.random.default_rng(0))
    stages = analyse_memory(learner.net, buf, 3, params)
    assert [s.index for s in stages] == [0, 1, 2]
    assert sum(s.num_samples for s in stages) == len(buf)
    assert stages[0].mean_moves_left > stages[-1].mean_moves_left
    assert all(np.isfinite(s.losses.total) for s in stages)
    with pytest.raises(ValueError, match="empty"):
        compute_losses(learner.net, buf.samples().take(slice(0, 0)), params)
