"""The loss of the learning phase (AlphaZero.jl's ``losses``) and its reports.

Loss of a batch of ``B`` samples ``(obs, mask, pi, z)``, AlphaZero.jl's ``L = Lp + Lv +
Lreg + Linv``:

* ``Lp``: policy cross-entropy ``-sum_a pi_a log p_a`` with ``p`` the softmax of the logits
  over the *legal* actions;
* ``Lv``: value MSE ``((v - z) / rewards_renormalization)^2``: prediction and target are
  both divided (AlphaZero.jl's ``learning.jl``), so the net predicts raw returns, in the
  ``[-1, 1]`` of its ``tanh`` head and of the game's returns, and ``rr`` only weighs ``Lv``
  by ``1 / rr^2``;
* ``Lreg``: ``l2_regularization * sum of squared weights`` of the tensors with two or more
  dimensions (linear and convolution kernels), not biases nor normalisation parameters
  (AlphaGo Zero's ``c ||theta||^2``, as AlphaZero.jl's ``regularized_params``);
* ``Linv``: ``nonvalidity_penalty *`` the probability mass the *unmasked* softmax puts on
  illegal actions.

Loss reports (:func:`compute_losses`) are the weighted means by the samples' weights
``W(n)``, i.e. the expectation of the batch loss of :class:`~az_gym.training.learning.Learner`
(whose batches are drawn proportionally to them), on the whole learning set (every row under
every symmetry) or on a uniform sample of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from az_gym.threads import use_learner_threads
from az_gym.training.learning_set import LearningSet
from az_gym.training.memory import TrainingData
from az_gym.training.params import LearningParams

_NEG = -1e9  # masked logit: finite, so rows stay finite even with no legal action


@dataclass(frozen=True)
class LossTerms:
    """Loss terms, weighted means over a data set (floats)."""

    policy: float
    """``Lp``: cross-entropy of the target policies and the network's legal softmax."""
    value: float
    """``Lv``: mean of ``((v - z) / rewards_renormalization)^2``."""
    l2: float
    """``Lreg``: ``l2_regularization * sum of squared weights``."""
    invalid: float
    """``Linv``: ``nonvalidity_penalty * illegal_mass``."""
    total: float
    """``Lp + Lv + Lreg + Linv``."""
    entropy: float
    """``Hp``: mean entropy of the target policies (``Lp - Hp`` is the KL divergence)."""
    illegal_mass: float
    """Mean probability the unmasked softmax puts on illegal actions."""

    def to_dict(self) -> dict[str, float]:
        """Plain dict (for reports)."""
        return asdict(self)


def l2_penalty(net: nn.Module) -> torch.Tensor:
    """Sum of squared weights of the parameters with ``ndim >= 2`` (not biases/norms)."""
    terms = [p.pow(2).sum() for p in net.parameters() if p.ndim >= 2]
    if not terms:
        return torch.zeros(())
    return torch.stack(terms).sum()


def _forward(net: nn.Module, obs: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(raw logits [B, A], value [B])`` from a ``NetOutput`` or a plain tuple."""
    out = net(obs, mask)
    logits = out.logits if hasattr(out, "logits") else out[0]
    value = out.value if hasattr(out, "value") else out[-1]
    # float32 losses under autocast: a masked logit of -1e9 does not exist in float16
    return logits.float(), value.reshape(-1).float()


def loss_tensors(
    net: nn.Module,
    obs: torch.Tensor,
    mask: torch.Tensor,
    pi: torch.Tensor,
    z: torch.Tensor,
    params: LearningParams,
    weight: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The loss terms of one batch as scalar tensors (differentiable in train mode).

    Args:
        obs: ``float32[B, *observation_shape]``; mask: ``bool[B, A]``;
        pi: ``float32[B, A]`` targets; z: ``float32[B]`` returns for the movers.
        weight: ``float32[B]`` (``None``: uniform mean).

    Returns:
        ``{"policy", "value", "illegal_mass", "entropy"}`` means over the batch (``l2`` and
        totals are added by the callers, since they do not depend on the data).
    """
    logits, value = _forward(net, obs, mask)
    logp = torch.log_softmax(logits.masked_fill(~mask, _NEG), dim=-1)
    lp = -(pi * torch.where(mask, logp, torch.zeros_like(logp))).sum(-1)
    # AlphaZero.jl's learning.jl divides both prediction and target by the renormalisation,
    # so the network keeps predicting raw returns (the scale the search and its terminal
    # returns use) and the value loss is scaled by 1 / rr^2.
    lv = ((value - z) / params.rewards_renormalization).pow(2)
    illegal = (torch.softmax(logits, dim=-1) * (~mask)).sum(-1)
    hp = -(pi * torch.log(pi.clamp_min(1e-30))).sum(-1)

    def mean(x: torch.Tensor) -> torch.Tensor:
        return x.mean() if weight is None else (x * weight).sum() / weight.sum()

    return {
        "policy": mean(lp),
        "value": mean(lv),
        "illegal_mass": mean(illegal),
        "entropy": mean(hp),
    }


def _net_device(net: nn.Module) -> torch.device:
    p = next(net.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def as_learning_set(data: LearningSet | TrainingData) -> LearningSet:
    """``data`` as a learning set: a :class:`TrainingData` is the learning set of its
    samples, without symmetries."""
    return data if isinstance(data, LearningSet) else LearningSet.from_data(data)


def compute_losses(
    net: nn.Module,
    data: LearningSet | TrainingData,
    params: LearningParams,
    *,
    batch_size: int | None = None,
    device: torch.device | str | None = None,
) -> LossTerms:
    """Weighted-mean losses of ``net`` on ``data`` (a learning set: every row under every
    symmetry, unpacked a batch at a time), in eval mode under inference mode, on the
    learner's threads (``params.num_threads``, see :mod:`az_gym.threads`).

    The network's train/eval mode is restored afterwards.

    Raises:
        ValueError: ``data`` is empty.
    """
    if len(data) == 0:
        raise ValueError("compute_losses: the data set is empty")
    data = as_learning_set(data)
    use_learner_threads(params.num_threads)
    bs = batch_size or params.loss_computation_batch_size
    dev = torch.device(device) if device is not None else _net_device(net)
    was_training = net.training
    net.eval()
    sums = {"policy": 0.0, "value": 0.0, "illegal_mass": 0.0, "entropy": 0.0}
    wsum = float(data.sampling_cdf[-1])
    try:
        with torch.inference_mode():
            for part in data.all_images(bs):
                t = batch_tensors(part, dev)
                w = t["weight"]
                terms = loss_tensors(net, t["obs"], t["mask"], t["policy"], t["value"], params, w)
                share = float(w.sum()) / wsum
                for k in sums:
                    sums[k] += float(terms[k]) * share
            l2 = params.l2_regularization * float(l2_penalty(net))
    finally:
        net.train(was_training)
    invalid = params.nonvalidity_penalty * sums["illegal_mass"]
    total = sums["policy"] + sums["value"] + l2 + invalid
    return LossTerms(
        policy=sums["policy"],
        value=sums["value"],
        l2=l2,
        invalid=invalid,
        total=total,
        entropy=sums["entropy"],
        illegal_mass=sums["illegal_mass"],
    )


def batch_tensors(data: TrainingData, device: torch.device) -> dict[str, torch.Tensor]:
    """The ``obs``, ``mask``, ``policy``, ``value`` and ``weight`` arrays of ``data`` (a
    batch, ``B`` rows) as tensors on ``device``."""
    names = ("obs", "mask", "policy", "value", "weight")
    return {k: torch.from_numpy(np.ascontiguousarray(getattr(data, k))).to(device) for k in names}
