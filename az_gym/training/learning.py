"""The learning phase: fit the policy-value network to the memory (AlphaZero.jl's
``Learning`` module).

Every gradient step runs a *fresh* forward pass, in ``net.train()`` mode, on observations
stored as numpy arrays: nothing computed during self-play carries gradients (self-play ran
in eval mode under ``torch.inference_mode``).

Its loss, ``L = Lp + Lv + Lreg + Linv`` (AlphaZero.jl's), and the loss reports live in
:mod:`az_gym.training.losses` (re-exported here).

Batches are drawn *with replacement, proportionally to the sample weights* ``W(n)`` of
position averaging, each sample under one symmetry drawn uniformly (the learning set stays
packed and unaugmented: :mod:`az_gym.training.learning_set`), and averaged uniformly; loss
reports (:func:`compute_losses`) are the weighted means, i.e. the expectation of the batch
loss, on the whole learning set (every row under every symmetry) or on a uniform sample of
about ``loss_computation_max_samples`` of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from az_gym.threads import use_learner_threads
from az_gym.training.learning_set import LearningSet
from az_gym.training.losses import (
    LossTerms,
    as_learning_set,
    batch_tensors,
    compute_losses,
    l2_penalty,
    loss_tensors,
)
from az_gym.training.memory import MemoryBuffer, TrainingData
from az_gym.training.params import LearningParams

__all__ = [
    "CheckpointReport",
    "Learner",
    "LearningReport",
    "LossTerms",
    "StageReport",
    "analyse_memory",
    "autocast",
    "compute_losses",
    "l2_penalty",
    "loss_tensors",
    "make_optimiser",
]


@dataclass(frozen=True)
class CheckpointReport:
    """One series of updates, followed by an optional arena (``on_checkpoint``)."""

    index: int
    """0-based index of the series in the iteration."""
    num_batches: int
    """Updates in this series."""
    batches_done: int
    """Updates since the start of the iteration."""
    mean_batch_loss: float
    """Mean total loss of this series' batches (train mode, before each step)."""
    losses: LossTerms
    """Losses on the whole learning set after the series (eval mode)."""
    seconds: float
    """Wall time of the series, the loss computation included."""


@dataclass(frozen=True)
class LearningReport:
    """What :meth:`Learner.train` did in one iteration."""

    iteration: int
    lr: float
    num_samples: int
    """Samples in the learning set (after augmentation and averaging: ``len`` of the
    :class:`LearningSet`, whose images are made per batch)."""
    batches_per_checkpoint: int
    losses_before: LossTerms
    checkpoints: tuple[CheckpointReport, ...]
    seconds: float
    """Wall time of :meth:`Learner.train`, including what ``on_checkpoint`` did (the
    trainer's arenas; its report subtracts them)."""

    @property
    def losses_after(self) -> LossTerms:
        """Losses after the last series."""
        return self.checkpoints[-1].losses if self.checkpoints else self.losses_before


@dataclass(frozen=True)
class StageReport:
    """Losses of the network on one game stage of the memory (memory analysis)."""

    index: int
    """0 = opening (most moves left)."""
    num_samples: int
    mean_moves_left: float
    min_moves_left: float
    max_moves_left: float
    losses: LossTerms


def autocast(device: torch.device, mixed_precision: str) -> torch.autocast:
    """The autocast context of :attr:`LearningParams.mixed_precision` on ``device``
    (disabled for ``"none"``)."""
    dtype = torch.float16 if mixed_precision == "fp16" else torch.bfloat16
    return torch.autocast(device.type, dtype=dtype, enabled=mixed_precision != "none")


def make_optimiser(net: nn.Module, params: LearningParams) -> torch.optim.Optimizer:
    """The optimiser of :attr:`LearningParams.optimiser` (learning rate at iteration 0).

    Adam with ``weight_decay > 0`` is AdamW (decoupled decay); SGD's decay is PyTorch's.
    """
    spec = params.optimiser
    lr = float(spec.lr[0])
    if spec.kind == "adam":
        cls = torch.optim.AdamW if spec.weight_decay > 0 else torch.optim.Adam
        return cls(net.parameters(), lr=lr, weight_decay=spec.weight_decay)
    return torch.optim.SGD(
        net.parameters(),
        lr=lr,
        momentum=spec.momentum,
        nesterov=spec.nesterov,
        weight_decay=spec.weight_decay,
    )


class Learner:
    """Trains a policy-value network over the iterations of a run.

    The optimiser (and its state, e.g. Adam's moments) lives across iterations; the learning
    rate follows ``params.optimiser.lr`` at each iteration. Each :meth:`train` sets torch's
    threads to ``params.num_threads`` (see :mod:`az_gym.threads`); they are process-wide.

    Args:
        net: the network to train (moved to ``device``).
        params: learning parameters.
        device: where to train (see ``az_gym.networks.resolve_device``).
    """

    def __init__(
        self, net: nn.Module, params: LearningParams, device: torch.device | str = "cpu"
    ) -> None:
        self.device = torch.device(device)
        self.net = net.to(self.device)
        self.params = params
        self.optimiser = make_optimiser(self.net, params)
        self._scaler: torch.amp.GradScaler | None = None

    def _grad_scaler(self, mixed_precision: str) -> torch.amp.GradScaler:
        """fp16's loss scaling (a pass-through otherwise): float16 gradients underflow
        without it. Its scale restarts with the learner (it is not checkpointed)."""
        enabled = mixed_precision == "fp16"
        if self._scaler is None or self._scaler.is_enabled() != enabled:
            self._scaler = torch.amp.GradScaler(self.device.type, enabled=enabled)
        return self._scaler

    def set_lr(self, lr: float) -> None:
        """Set the learning rate of every parameter group."""
        for g in self.optimiser.param_groups:
            g["lr"] = float(lr)

    def state_dict(self) -> dict[str, Any]:
        """The optimiser's state (for checkpoints; the network is saved separately)."""
        return {"optimiser": self.optimiser.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.optimiser.load_state_dict(state["optimiser"])

    def train(
        self,
        data: LearningSet | TrainingData,
        iteration: int,
        rng: np.random.Generator,
        on_progress: Callable[[int, int, float], None] | None = None,
        on_checkpoint: Callable[[int, CheckpointReport], None] | None = None,
    ) -> LearningReport:
        """Run ``num_checkpoints`` series of ``n`` updates (see :class:`LearningParams`).

        Args:
            data: the learning set (``MemoryBuffer.training_data``); a
                :class:`TrainingData` is taken as is (no symmetries).
            iteration: training iteration (picks the learning rate).
            rng: draws the batches and each sample's symmetry.
            on_progress: ``(batches_done, batches_total, batch_loss)`` after each update.
            on_checkpoint: ``(index, report)`` after each series (e.g. to run an arena on
                a copy of the network).

        Raises:
            ValueError: ``data`` is empty.
        """
        p = self.params
        n_samples = len(data)
        if n_samples == 0:
            raise ValueError("Learner.train: the learning set is empty")
        data = as_learning_set(data)
        start = time.perf_counter()
        use_learner_threads(p.num_threads)
        lr = float(p.optimiser.lr[iteration])
        self.set_lr(lr)
        # An epoch is a pass over the augmented set (len(data)), as when it was materialised.
        per_ckpt = p.batches_per_checkpoint(n_samples)
        total_batches = per_ckpt * p.num_checkpoints
        report_set = data
        cap = p.loss_computation_max_samples
        if cap is not None and n_samples > cap:
            # Its own generator, so that the training batches do not depend on the cap;
            # every row picked is evaluated under each of the |G| symmetries.
            pick_rng = np.random.default_rng([iteration, n_samples])
            k = min(data.num_rows, max(1, cap // max(1, len(data.symmetries))))
            pick = pick_rng.choice(data.num_rows, k, replace=False)
            report_set = data.take(np.sort(pick))
        before = compute_losses(self.net, report_set, p, device=self.device)
        reports: list[CheckpointReport] = []
        done = 0
        for c in range(p.num_checkpoints):
            t0 = time.perf_counter()
            self.net.train()
            batch_losses = []
            for _ in range(per_ckpt):
                t = batch_tensors(data.draw(rng, p.batch_size), self.device)
                with autocast(self.device, p.mixed_precision):
                    terms = loss_tensors(self.net, t["obs"], t["mask"], t["policy"], t["value"], p)
                loss = (
                    terms["policy"] + terms["value"] + p.nonvalidity_penalty * terms["illegal_mass"]
                )
                if p.l2_regularization > 0:
                    loss = loss + p.l2_regularization * l2_penalty(self.net)
                self.optimiser.zero_grad(set_to_none=True)
                scaler = self._grad_scaler(p.mixed_precision)
                scaler.scale(loss).backward()
                scaler.step(self.optimiser)
                scaler.update()
                done += 1
                batch_losses.append(float(loss.detach()))
                if on_progress is not None:
                    on_progress(done, total_batches, batch_losses[-1])
            after = compute_losses(self.net, report_set, p, device=self.device)
            report = CheckpointReport(
                index=c,
                num_batches=per_ckpt,
                batches_done=done,
                mean_batch_loss=float(np.mean(batch_losses)),
                losses=after,
                seconds=time.perf_counter() - t0,
            )
            reports.append(report)
            if on_checkpoint is not None:
                on_checkpoint(c, report)
        return LearningReport(
            iteration=iteration,
            lr=lr,
            num_samples=n_samples,
            batches_per_checkpoint=per_ckpt,
            losses_before=before,
            checkpoints=tuple(reports),
            seconds=time.perf_counter() - start,
        )


def analyse_memory(
    net: nn.Module,
    memory: MemoryBuffer,
    num_game_stages: int,
    params: LearningParams,
    *,
    device: torch.device | str | None = None,
) -> list[StageReport]:
    """Losses of ``net`` on each of ``num_game_stages`` equal parts of the memory, by moves
    left (opening first); AlphaZero.jl's memory analysis."""
    out = []
    for i, stage in enumerate(memory.game_stages(num_game_stages)):
        if len(stage) == 0:
            continue
        ml = stage.moves_left
        out.append(
            StageReport(
                index=i,
                num_samples=len(stage),
                mean_moves_left=float(ml.mean()),
                min_moves_left=float(ml.min()),
                max_moves_left=float(ml.max()),
                losses=compute_losses(net, stage, params, device=device),
            )
        )
    return out
