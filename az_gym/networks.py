"""PyTorch policy-value networks (MLP, ResNet) and the evaluator that feeds the search.

A :class:`PolicyValueNet` maps a batch of observations ``[B, *observation_shape]`` (each
from its mover's view) and legal masks ``bool[B, A]`` to a :class:`NetOutput`: the raw
policy logits (for the nonvalidity penalty), the masked log-probabilities and a value in
``[-1, 1]`` for the player to move. A 3-D observation ``[H, W, C]`` (channels-last, as in
``pettingzoo.classic``) gets a ResNet (AlphaGo Zero's tower, permuted to NCHW inside);
anything else an MLP on the flattened observation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from az_gym.inference import make_forward, resolve_engine
from az_gym.threads import inference_threads, use_inference_threads

_MASKED_LOGIT = -1e9
"""Logit given to illegal actions (large negative, finite so that softmax stays defined)."""


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    """Shape of a :class:`PolicyValueNet` (AlphaZero.jl's ``ResNetHP`` / ``SimpleNetHP``)."""

    kind: str = "auto"
    """``"mlp"``, ``"resnet"``, or ``"auto"``: resnet for ``[H, W, C]`` observations, else mlp."""
    hidden: tuple[int, ...] = (128, 128)
    """MLP hidden layer widths."""
    num_blocks: int = 5
    """ResNet residual blocks (AlphaGo Zero: 19 or 39)."""
    num_filters: int = 64
    """ResNet convolution channels (AlphaGo Zero: 256)."""
    num_policy_head_filters: int = 2
    """Channels of the 1x1 convolution of the policy head (AlphaGo Zero: 2)."""
    num_value_head_filters: int = 1
    """Channels of the 1x1 convolution of the value head (AlphaGo Zero: 1)."""
    value_hidden: int = 64
    """Width of the hidden layer of the value head (AlphaGo Zero: 256)."""
    batch_norm: bool = True
    """Batch normalisation after each convolution / hidden layer."""
    dropout: float = 0.0
    """Dropout probability after each hidden activation (active in train mode only)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.kind not in ("auto", "mlp", "resnet"):
            raise ValueError(f"NetworkConfig.kind = {self.kind!r}; must be auto, mlp or resnet")
        positive = (
            "num_blocks",
            "num_filters",
            "num_policy_head_filters",
            "num_value_head_filters",
            "value_hidden",
        )
        for name in positive:
            if int(getattr(self, name)) < (0 if name == "num_blocks" else 1):
                raise ValueError(f"NetworkConfig.{name} = {getattr(self, name)}; must be positive")
        if any(h < 1 for h in self.hidden):
            raise ValueError(f"NetworkConfig.hidden = {self.hidden}; widths must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"NetworkConfig.dropout = {self.dropout}; must be in [0, 1)")

    def to_dict(self) -> dict[str, Any]:
        """Plain-python description (the hidden widths as a list)."""
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetworkConfig:
        """Inverse of :meth:`to_dict`."""
        known = set(cls.__dataclass_fields__)
        if set(d) - known:
            raise ValueError(f"NetworkConfig: unknown fields {sorted(set(d) - known)}")
        return cls(**{**d, "hidden": tuple(d.get("hidden", (128, 128)))})


KIND_FIELDS = {
    "resnet": ("num_blocks", "num_filters", "num_policy_head_filters", "num_value_head_filters"),
    "mlp": ("hidden",),
}
"""The :class:`NetworkConfig` fields only one kind of network reads."""


def network_kind(config: NetworkConfig, observation_shape: tuple[int, ...]) -> str:
    """The kind of network ``config`` builds for observations of ``observation_shape``:
    ``"resnet"`` or ``"mlp"`` (``"auto"``: resnet for ``[H, W, C]``, else mlp)."""
    if config.kind != "auto":
        return config.kind
    return "resnet" if len(observation_shape) == 3 else "mlp"


def unused_network_fields(
    config: NetworkConfig, observation_shape: tuple[int, ...]
) -> dict[str, str]:
    """The fields of ``config`` its network ignores for ``observation_shape``, each with the
    kind that reads it (``{"num_filters": "resnet", ...}`` for an MLP)."""
    kind = network_kind(config, tuple(observation_shape))
    return {f: other for other, fields in KIND_FIELDS.items() if other != kind for f in fields}


def network_differences(
    first: dict[str, Any], second: dict[str, Any], names: tuple[str, str]
) -> str:
    """The fields where two network configs (:meth:`NetworkConfig.to_dict`) differ, for a
    message: ``"network.hidden: run [128, 128], asked [64, 64]"`` with ``names = ("run",
    "asked")`` (at most four, then ``...``)."""
    keys = sorted(set(first) | set(second), key=str)
    diff = [
        f"network.{str(k)[:40]}: {names[0]} {str(first.get(k))[:60]}, "
        f"{names[1]} {str(second.get(k))[:60]}"
        for k in keys
        if first.get(k) != second.get(k)
    ]
    return "; ".join(diff[:4]) + ("; ..." if len(diff) > 4 else "")


class NetOutput(NamedTuple):
    """What :meth:`PolicyValueNet.forward` returns for a batch of ``B`` positions."""

    logits: torch.Tensor
    """``[B, A]`` raw policy logits, illegal actions included (nonvalidity penalty)."""
    log_probs: torch.Tensor
    """``[B, A]`` log-softmax of the logits with illegal actions masked out."""
    value: torch.Tensor
    """``[B]`` value for the player to move, in ``[-1, 1]`` (tanh)."""


def _norm1d(width: int, on: bool) -> nn.Module:
    return nn.BatchNorm1d(width) if on else nn.Identity()


def _norm2d(width: int, on: bool) -> nn.Module:
    return nn.BatchNorm2d(width) if on else nn.Identity()


class _ResBlock(nn.Module):
    """conv-bn-relu-conv-bn + skip, relu."""

    def __init__(self, c: int, bn: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=not bn)
        self.bn1 = _norm2d(c, bn)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=not bn)
        self.bn2 = _norm2d(c, bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(y)))


class PolicyValueNet(nn.Module):
    """Policy-value network for a fixed observation shape and action count.

    Args:
        observation_shape: shape of one observation (``[H, W, C]`` for boards).
        num_actions: size of the action space ``A``.
        config: layer sizes (default :class:`NetworkConfig`).
    """

    def __init__(
        self,
        observation_shape: tuple[int, ...] | list[int],
        num_actions: int,
        config: NetworkConfig | None = None,
    ) -> None:
        super().__init__()
        self.observation_shape = tuple(int(x) for x in observation_shape)
        self.num_actions = int(num_actions)
        cfg = config or NetworkConfig()
        kind = network_kind(cfg, self.observation_shape)
        if kind == "resnet" and len(self.observation_shape) != 3:
            raise ValueError(
                f"NetworkConfig.kind = 'resnet' needs a 3-D [H, W, C] observation, "
                f"got shape {self.observation_shape}"
            )
        self.config = cfg
        self.kind = kind
        bn, p = cfg.batch_norm, cfg.dropout
        drop = nn.Dropout(p) if p > 0 else nn.Identity()
        if kind == "resnet":
            h, w, c = self.observation_shape
            f = cfg.num_filters
            self.trunk: nn.Module = nn.Sequential(
                nn.Conv2d(c, f, 3, padding=1, bias=not bn), _norm2d(f, bn), nn.ReLU(),
                *[_ResBlock(f, bn) for _ in range(cfg.num_blocks)],
            )  # fmt: skip
            fp, fv = cfg.num_policy_head_filters, cfg.num_value_head_filters
            self.policy_head: nn.Module = nn.Sequential(
                nn.Conv2d(f, fp, 1, bias=not bn), _norm2d(fp, bn), nn.ReLU(), nn.Flatten(),
                drop, nn.Linear(fp * h * w, self.num_actions),
            )  # fmt: skip
            self.value_head: nn.Module = nn.Sequential(
                nn.Conv2d(f, fv, 1, bias=not bn), _norm2d(fv, bn), nn.ReLU(), nn.Flatten(),
                nn.Linear(fv * h * w, cfg.value_hidden), nn.ReLU(), drop,
                nn.Linear(cfg.value_hidden, 1),
            )  # fmt: skip
        else:
            layers: list[nn.Module] = [nn.Flatten()]
            width = int(np.prod(self.observation_shape))
            for hid in cfg.hidden:
                layers += [nn.Linear(width, hid), _norm1d(hid, bn), nn.ReLU(), drop]
                width = hid
            self.trunk = nn.Sequential(*layers)
            self.policy_head = nn.Linear(width, self.num_actions)
            self.value_head = nn.Sequential(
                nn.Linear(width, cfg.value_hidden), nn.ReLU(), drop,
                nn.Linear(cfg.value_hidden, 1),
            )  # fmt: skip

    def forward(self, obs: torch.Tensor, mask: torch.Tensor | None = None) -> NetOutput:
        """Score a batch.

        Args:
            obs: ``float[B, *observation_shape]``, each from its mover's view.
            mask: ``bool[B, A]`` legal actions (``None``: all legal).

        Returns:
            :class:`NetOutput` (raw logits, masked log-probabilities, value ``[B]``).
        """
        if tuple(obs.shape[1:]) != self.observation_shape:
            raise ValueError(
                f"PolicyValueNet: observations of shape {tuple(obs.shape[1:])}, "
                f"expected {self.observation_shape}"
            )
        x = obs.float()
        if self.kind == "resnet":
            x = x.permute(0, 3, 1, 2)  # [B, H, W, C] -> [B, C, H, W]
        z = self.trunk(x)
        logits = self.policy_head(z)
        # float32 before masking: under fp16 autocast the masked logit would overflow
        masked = logits.float()
        masked = masked if mask is None else masked.masked_fill(~mask.bool(), _MASKED_LOGIT)
        value = torch.tanh(self.value_head(z)).squeeze(-1)
        return NetOutput(logits, F.log_softmax(masked, dim=-1), value)


def resolve_device(use_gpu: bool) -> torch.device:
    """``cuda`` when ``use_gpu`` and a GPU is available, else ``cpu``."""
    return torch.device("cuda" if use_gpu and torch.cuda.is_available() else "cpu")


@dataclass
class NetworkEvaluator:
    """The :class:`az_gym.mcts.Evaluator` of a network: one forward pass per batch.

    The network runs in eval mode under ``torch.inference_mode``, on the engine named by
    ``inference`` (:mod:`az_gym.inference`: ONNX Runtime on the CPU when installed, else
    eager). Inputs move to ``device`` in one transfer; outputs come back as numpy.

    Args:
        net: the network (moved to ``device``).
        device: where to run (see :func:`resolve_device`).
        num_threads: torch intra-op threads during each call (``None``: the inference
            rule of :mod:`az_gym.threads`, one thread unless overridden). The count is
            process-wide and set at every call, so it holds in a process that also learns;
            ONNX Runtime sessions use the same count.
        inference: ``"auto"``, ``"eager"``, ``"onnx"`` or ``"compile"``
            (:func:`az_gym.inference.resolve_engine`); the engine in use is ``engine``.

    Raises:
        ValueError: an unknown ``inference``, or ``"onnx"`` off the CPU.
        ImportError: ``"onnx"`` without its packages.
    """

    net: PolicyValueNet
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    num_threads: int | None = None
    inference: str = "auto"
    needs_observations = True
    needs_states = False

    def __post_init__(self) -> None:
        self.device = torch.device(self.device)
        self.net.to(self.device)
        inference_threads(self.num_threads)  # validates an explicit count now
        exportable = type(self.net) is PolicyValueNet
        self.engine = resolve_engine(self.inference, self.device, exportable)
        self._forward = make_forward(self.net, self.device, self.engine, torch.get_num_threads)

    def __getstate__(self) -> dict[str, Any]:
        # An engine holds sessions or compiled code, which neither pickle nor deep-copy: a
        # copy (Ray, copy.deepcopy of an agent) rebuilds its own from the network.
        return {k: v for k, v in self.__dict__.items() if k != "_forward"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._forward = make_forward(self.net, self.device, self.engine, torch.get_num_threads)

    def __call__(
        self, observations: np.ndarray, masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(priors float32[B, A] zero on illegal actions, values float32[B])``."""
        use_inference_threads(self.num_threads)
        return self._forward(
            np.ascontiguousarray(observations, np.float32), np.ascontiguousarray(masks, bool)
        )
