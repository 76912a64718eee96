"""Inference engines: how a :class:`~az_gym.networks.NetworkEvaluator` runs its network.

The search sends small batches (one position per tree and simulation step, ``k`` with
leaf parallelism, ``num_workers`` with lockstep games), where the per-call overhead of
eager PyTorch (Python dispatch of some 40 modules) dominates. ``python bench/inference.py``
measured, on one thread, ONNX Runtime 6-8x faster than eager at batch 1 on the four
shipped networks, 2.5-6.6x at batch 8, 1.1-6.8x at 64 and 1.3-2.3x at 256, never slower
(README, Fast inference). Hence the engines, chosen by name (``SimParams.inference``,
``AlphaZeroAgent(inference=)``):

* ``"eager"``: the module itself under ``torch.inference_mode`` (any device);
* ``"onnx"``: ONNX Runtime on the CPU (the ``fast`` extra: ``onnxruntime`` and ``onnx``);
  the graph is exported *in this process from the in-memory network*, to bytes (never
  read from a file), once per architecture; at the first call, and again when the weights
  change (a learner's step, ``load_state_dict``: noticed through the tensors' version
  counters), a session is built with the current weights in that graph (~10 ms);
* ``"compile"``: ``torch.compile(dynamic=True)`` of the module (any device; the first calls
  compile for tens of seconds, so it pays only in long runs and rarely beats ``"onnx"``);
* ``"auto"`` (the default): ``"onnx"`` on the CPU when its packages are installed, else
  ``"eager"``; ONNX Runtime was >= 1.3x faster at the batch sizes the search sends and never
  slower in that measurement.

Every new ONNX session is checked against eager outputs on a probe batch (max absolute
difference <= :data:`MAX_ABS_DIFF`); a mismatch warns and falls back to eager, so a
future exporter regression costs speed, never play. Threads follow :mod:`az_gym.threads`
(one intra-op thread for inference): ONNX Runtime's ``intra_op_num_threads`` is the count
torch gets, its inter-op pool has one thread and never spins.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from az_gym.game import Symmetry
    from az_gym.networks import PolicyValueNet

ENGINES = ("auto", "eager", "onnx", "compile")
"""Names accepted for an inference engine."""

ONNX_PACKAGES = ("onnxruntime", "onnx")
"""What the ``"onnx"`` engine imports (``pip install az-gym[fast]``)."""

MAX_ABS_DIFF = 1e-4
"""Largest difference from eager outputs (priors and values) an engine may show."""

Batch = tuple[np.ndarray, np.ndarray]
"""``(priors float32[B, A] zero on illegal actions, values float32[B])``."""


def check_engine(name: Any, owner: str = "inference") -> str:
    """Return ``name`` if it is one of :data:`ENGINES`.

    Raises:
        ValueError: anything else (the message names ``owner``).
    """
    if not isinstance(name, str) or name not in ENGINES:
        raise ValueError(f"{owner} = {name!r}; must be one of {', '.join(ENGINES)}")
    return name


def onnx_available() -> bool:
    """Whether the ``"onnx"`` engine's packages are installed."""
    return all(importlib.util.find_spec(m) is not None for m in ONNX_PACKAGES)


def resolve_engine(name: str, device: torch.device, exportable: bool = True) -> str:
    """The engine that runs for ``name`` on ``device`` (``"auto"`` resolved).

    ``exportable``: whether ``"auto"`` may choose ``"onnx"`` (the evaluator says false for a
    module that is not a :class:`~az_gym.networks.PolicyValueNet`, whose export is untested).

    Raises:
        ValueError: an unknown name, or ``"onnx"`` on another device than the CPU.
        ImportError: ``"onnx"`` without its packages (the message says what to install).
    """
    check_engine(name)
    cpu = torch.device(device).type == "cpu"
    if name == "auto":
        return "onnx" if cpu and exportable and onnx_available() else "eager"
    if name == "onnx":
        if not cpu:
            raise ValueError(f"inference = 'onnx' runs on the CPU only, not on {device}")
        if not onnx_available():
            missing = [m for m in ONNX_PACKAGES if importlib.util.find_spec(m) is None]
            raise ImportError(
                f"inference = 'onnx' needs the packages {missing}: pip install az-gym[fast]"
            )
    return name


class PriorsValue(torch.nn.Module):
    """``(obs, mask) -> (priors zero on illegal actions, value)``: what an engine returns."""

    def __init__(self, net: PolicyValueNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, obs: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(obs, mask)
        return out.log_probs.exp() * mask, out.value.float()


def symmetry_gathers(
    symmetries: Sequence[Symmetry], observation_shape: Sequence[int]
) -> np.ndarray:
    """Each symmetry's observation transform as flat gather indices, ``int64[G, size]``:
    ``transform(obs).reshape(-1) == obs.reshape(-1)[gathers[g]]``.

    Found by transforming an observation whose entries are their own indices, and checked
    on random observations: a transform that changes values (a sign flip, a plane swap with
    arithmetic) is no gather.

    Raises:
        ValueError: a transform that is not a permutation of the observation's entries (the
            message names it), or an observation of more than 2**24 entries (float32 holds
            larger indices inexactly).
    """
    shape = tuple(int(d) for d in observation_shape)
    size = int(np.prod(shape))
    if size > 2**24:
        raise ValueError(f"an observation of {size} entries is too large to gather exactly")
    probe = np.arange(size, dtype=np.float32).reshape(1, *shape)
    check = np.random.default_rng(0).random((2, *shape)).astype(np.float32)
    out = []
    for g in symmetries:
        image = np.asarray(g.transform_observation(probe), np.float64)
        idx = image.astype(np.int64)
        ok = image.shape == probe.shape and np.array_equal(idx, image)
        idx = idx.reshape(-1)
        ok = ok and idx.min() >= 0 and idx.max() < size
        if ok:
            moved = np.asarray(g.transform_observation(check)).reshape(2, -1)
            ok = np.array_equal(moved, check.reshape(2, -1)[:, idx])
        if not ok:
            raise ValueError(
                f"symmetry {g.name!r} does not move observation entries without changing "
                "them, so its average cannot be written into a network graph"
            )
        out.append(idx)
    return np.stack(out)


class SymmetryAveragedPriorsValue(torch.nn.Module):
    """:class:`PriorsValue` averaged over symmetries, as one graph: what
    :class:`~az_gym.evaluators.SymmetryAveragedEvaluator` computes around the network.

    Each row is scored in every image (observation gathered, mask permuted by ``sigma``) in
    one batch of ``G * B`` rows; the priors of each image are mapped back through the
    inverse permutation and averaged, and so are the values.

    Args:
        net: the network.
        symmetries: the game's symmetries (``game.symmetries()``, the identity included).

    Raises:
        ValueError: a transform that is not a gather (:func:`symmetry_gathers`).
    """

    def __init__(self, net: PolicyValueNet, symmetries: Sequence[Symmetry]) -> None:
        super().__init__()
        self.inner = PriorsValue(net)
        self.observation_shape = tuple(net.observation_shape)
        gathers = symmetry_gathers(symmetries, self.observation_shape)
        self.register_buffer("gathers", torch.from_numpy(gathers))
        sig = np.stack([np.asarray(g.sigma, np.int64) for g in symmetries])
        inv = np.stack([np.asarray(g.inverse_sigma, np.int64) for g in symmetries])
        self.register_buffer("sigmas", torch.from_numpy(sig))
        self.register_buffer("inverses", torch.from_numpy(inv))

    def forward(self, obs: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g, b, a = self.gathers.shape[0], obs.shape[0], mask.shape[1]
        images = obs.reshape(b, -1)[:, self.gathers].transpose(0, 1)  # [G, B, size]
        masks = mask[:, self.sigmas].transpose(0, 1)  # [G, B, A]
        priors, value = self.inner(
            images.reshape(g * b, *self.observation_shape), masks.reshape(g * b, a)
        )
        back = self.inverses[:, None, :].expand(g, b, a)
        priors = priors.reshape(g, b, a).gather(2, back)
        return priors.mean(0), value.reshape(g, b).mean(0)


def eager_forward(net: PolicyValueNet, device: torch.device) -> Callable[..., Batch]:
    """The ``"eager"`` engine: ``(obs float32[B, ...], masks bool[B, A]) -> Batch``."""
    module = PriorsValue(net)

    def run(observations: np.ndarray, masks: np.ndarray) -> Batch:
        net.eval()
        with torch.inference_mode():
            obs = torch.from_numpy(observations).to(device)
            m = torch.from_numpy(masks).to(device)
            priors, value = module(obs, m)
            return priors.cpu().numpy(), value.cpu().numpy()

    return run


def compiled_forward(net: PolicyValueNet, device: torch.device) -> Callable[..., Batch]:
    """The ``"compile"`` engine: ``torch.compile(dynamic=True)`` of the eager one (the batch
    axis is symbolic, so the search's changing batch sizes do not recompile). It follows
    the module's weights as they change, as eager does."""
    module = torch.compile(PriorsValue(net), dynamic=True)

    def run(observations: np.ndarray, masks: np.ndarray) -> Batch:
        net.eval()
        with torch.inference_mode():
            priors, value = module(
                torch.from_numpy(observations).to(device), torch.from_numpy(masks).to(device)
            )
            return priors.cpu().numpy(), value.cpu().numpy()

    return run


_GRAPHS: dict[Any, Any] = {}
"""This process's exported graphs (``onnx.ModelProto``) by architecture: an export takes
0.2-0.7 s on 2 busy cores, a session from a cached graph with new weights ~10 ms."""


def _graph(net: PolicyValueNet) -> Any:
    """The ONNX graph of ``net``'s architecture, its weights set to ``net``'s current ones.

    Unfolded graphs keep one initializer per ``state_dict`` entry, named after it, so new
    weights go into a cached graph; ONNX Runtime folds batch norms itself.
    """
    import onnx
    import onnx.numpy_helper

    key: Any = (type(net), net.observation_shape, net.num_actions, getattr(net, "config", None))
    try:
        hash(key)
    except TypeError:  # a custom module's config: no sharing (the probe check still guards)
        key = (id(net),)
    if key not in _GRAPHS:
        _GRAPHS[key] = onnx.load_from_string(_export_bytes(net))
    model = copy.deepcopy(_GRAPHS[key])
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    for init in model.graph.initializer:
        if init.name in state:
            arr = state[init.name].detach().cpu().numpy()
            init.CopyFrom(onnx.numpy_helper.from_array(arr, init.name))
    return model


@contextlib.contextmanager
def quiet_onnx_export() -> Iterator[None]:
    """Silence what torch's ONNX exporters print about themselves while exporting.

    Their warnings (deprecations, tracer notes, pytree ``FutureWarning``s) and the
    ``torch.onnx`` log lines ("torchvision is not installed": nothing of ours needs it) say
    nothing about the exported model, which the callers check or the user runs.
    """
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        quiet.setLevel(level)


def _export_bytes(net: PolicyValueNet) -> bytes:
    """``PriorsValue(net)`` as an unfolded ONNX model (batch axis dynamic), in memory.

    torch's TorchScript exporter is used where it exists (deprecated; several times faster
    than the dynamo one here, and the two graphs ran at the same speed in ONNX Runtime);
    the dynamo exporter (``onnxscript``) takes over where it is gone. A copy is exported:
    the exporters leave their module in train mode.
    """
    module = PriorsValue(copy.deepcopy(net).cpu()).eval()
    # Distinct values: the exporter merges equal initializers (a fresh net's batch norms all
    # hold ones and zeros), and each must stay one entry; the real weights go in later.
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for t in module.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
    dummy = (  # 2 rows: a batch of 1 would be specialised
        torch.zeros((2, *net.observation_shape), dtype=torch.float32),
        torch.ones((2, net.num_actions), dtype=torch.bool),
    )
    names = {"input_names": ["obs", "mask"], "output_names": ["priors", "value"]}
    with quiet_onnx_export():
        buf = io.BytesIO()
        try:
            axes = {k: {0: "batch"} for k in ("obs", "mask", "priors", "value")}
            torch.onnx.export(module, dummy, buf, dynamic_axes=axes, dynamo=False,
                              do_constant_folding=False, **names)  # fmt: skip
            return buf.getvalue()
        except (TypeError, ValueError, RuntimeError, NotImplementedError):
            batch = torch.export.Dim("batch")
            shapes = {"obs": {0: batch}, "mask": {0: batch}}
            program = torch.onnx.export(
                module, dummy, None, dynamic_shapes=shapes, dynamo=True, optimize=False,
                **names,
            )  # fmt: skip
            return program.model_proto.SerializeToString()


class OnnxForward:
    """The ``"onnx"`` engine of one CPU network: ``(obs, masks) -> Batch``.

    The session is built at the first call and rebuilt when the network's weights change
    (:meth:`stale`) or the thread count does. Each new session is checked against eager on
    a probe batch; a mismatch warns once and leaves this engine running eager.

    Args:
        net: the network (on the CPU); its current weights are read at each rebuild.
        threads: returns the intra-op thread count to use (called at every call).
    """

    def __init__(self, net: PolicyValueNet, threads: Callable[[], int]) -> None:
        self.net = net
        self.threads = threads
        self.eager = eager_forward(net, torch.device("cpu"))
        self.fallback = False
        """Set when a session disagreed with eager: this engine then runs eager."""
        self._session: Any = None
        self._tensors: list[torch.Tensor] = []
        self._signature: tuple[int, ...] | None = None
        self._num_threads = 0

    def _weights_signature(self) -> tuple[int, ...] | None:
        # In-place updates (optimiser steps, load_state_dict) bump a tensor's version
        # counter; reading the counters of the tensors seen at the last build costs ~3 us
        # where walking the module tree again (state_dict) costs ~50 us, as much as a
        # batch-1 call. A parameter *replaced* by a new tensor object is not noticed.
        try:
            return tuple(t._version for t in self._tensors)
        except RuntimeError:  # inference tensors keep no version counter
            return None

    def stale(self) -> bool:
        """Whether the network's weights changed since the session was built."""
        return self._signature is None or self._signature != self._weights_signature()

    def _build(self, num_threads: int) -> None:
        import onnxruntime as ort

        try:
            model = _graph(self.net).SerializeToString()
        except Exception as e:  # whatever an exporter raises on a module: play on, slower
            self._fall_back(f"its ONNX export failed ({type(e).__name__}: {e})")
            return
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only
        self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self._tensors = list(self.net.state_dict(keep_vars=True).values())
        self._signature = self._weights_signature()
        if self._signature is None:
            self.fallback = True  # weights we cannot watch for changes: eager stays exact
            return
        self._num_threads = num_threads
        diff = self._probe_difference()
        if not diff <= MAX_ABS_DIFF:
            self._fall_back(f"it differs from eager by {diff:.2e} (> {MAX_ABS_DIFF})")

    def _fall_back(self, why: str) -> None:
        warnings.warn(
            f"inference 'onnx' on this network: {why}; running eager instead",
            RuntimeWarning,
            stacklevel=4,
        )
        self.fallback = True

    def _probe_difference(self) -> float:
        """Max absolute difference of priors and values from eager on a fixed probe batch."""
        rng = np.random.default_rng(0)
        obs = rng.random((4, *self.net.observation_shape), dtype=np.float32)
        masks = rng.random((4, self.net.num_actions)) < 0.7
        masks[:, 0] = True
        p_ref, v_ref = self.eager(obs, masks)
        p, v = self._session.run(None, {"obs": obs, "mask": masks})
        return float(max(np.abs(p - p_ref).max(), np.abs(v - v_ref).max()))

    def __call__(self, observations: np.ndarray, masks: np.ndarray) -> Batch:
        """Return :data:`Batch` for ``observations float32[B, ...]`` and ``masks bool[B, A]``."""
        if self.fallback:
            return self.eager(observations, masks)
        n = self.threads()
        if self._session is None or n != self._num_threads or self.stale():
            self._build(n)
            if self.fallback:
                return self.eager(observations, masks)
        priors, value = self._session.run(None, {"obs": observations, "mask": masks})
        return priors, value


def make_forward(
    net: PolicyValueNet, device: torch.device, engine: str, threads: Callable[[], int]
) -> Callable[..., Batch]:
    """The callable of a resolved ``engine`` (see :func:`resolve_engine`) for ``net``."""
    if engine == "onnx":
        return OnnxForward(net, threads)
    if engine == "compile":
        return compiled_forward(net, device)
    return eager_forward(net, device)
