"""Samples as the memory buffer stores them: observations and masks packed, nothing lost.

:class:`~az_gym.training.samples.TrainingData` holds ``float32`` observations and ``bool``
masks, the network's input: 399 bytes per Connect Four sample (84 planes of 4 bytes), of
which a handful carry information. :class:`PackedSamples` keeps, per sample:

* the observation as *bits* when every value of the chunk is 0 or 1 (board planes: 11
  bytes for Connect Four's 6 x 7 x 2), else as ``int8`` when every value is a small
  integer, else as ``float32`` (any other game: still exact);
* the legal mask as bits (1 byte for 7 actions);
* the policy, value and moves left as ``float32`` (search targets are not rounded), and
  the ``uint64`` position key (:func:`~az_gym.training.samples.position_keys`).

That is 56 bytes per Connect Four sample and 372 per 9 x 9 gomoku sample, whose 81-action
policy is 324 of them (``python bench/memory.py``). Nothing is weighted or merged here:
weights and counts exist only in the learning set. Symmetric images are never stored,
not even in the learning set (:mod:`az_gym.training.learning_set`): the learner makes
them for each batch it unpacks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from az_gym.training.samples import TrainingData, position_keys

OBS_FORMATS = ("float32", "int8", "bits")
"""How observations are stored; the index is the code written to ``memory.npz``."""


def _obs_format(flat: np.ndarray) -> str:
    """The most compact exact format for ``float32[N, D]`` observations."""
    if flat.size == 0 or not np.isfinite(flat).all():
        return "float32"
    if ((flat == 0) | (flat == 1)).all():
        return "bits"
    if (flat == np.round(flat)).all() and flat.min() >= -128 and flat.max() <= 127:
        return "int8"
    return "float32"


@dataclass(frozen=True)
class PackedSamples:
    """``N`` samples in storage form (arrays share the first axis).

    Attributes:
        obs: ``uint8[N, ceil(D / 8)]`` bits, ``int8[N, D]`` or ``float32[N, D]`` by
            ``obs_format``, with ``D = prod(obs_shape)``.
        obs_format: one of :data:`OBS_FORMATS`.
        obs_shape: shape of one observation.
        mask: ``uint8[N, ceil(A / 8)]`` legal actions as bits.
        num_actions: ``A``.
        policy: ``float32[N, A]``; value: ``float32[N]``; moves_left: ``float32[N]``.
        key: ``uint64[N]`` position keys.
    """

    obs: np.ndarray
    obs_format: str
    obs_shape: tuple[int, ...]
    mask: np.ndarray
    num_actions: int
    policy: np.ndarray
    value: np.ndarray
    moves_left: np.ndarray
    key: np.ndarray

    def __len__(self) -> int:
        return int(self.value.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return sum(getattr(self, k).nbytes for k in _ARRAYS)

    @staticmethod
    def pack(data: TrainingData) -> PackedSamples:
        """Store ``data``'s samples (its weights and counts are not kept)."""
        n = len(data)
        shape = tuple(int(x) for x in data.obs.shape[1:])
        flat = data.obs.reshape(n, -1)
        fmt = _obs_format(flat)
        if fmt == "bits":
            obs = np.packbits(flat.astype(bool), axis=1)
        else:
            obs = np.ascontiguousarray(flat, dtype=np.int8 if fmt == "int8" else np.float32)
        return PackedSamples(
            obs=obs,
            obs_format=fmt,
            obs_shape=shape,
            mask=np.packbits(data.mask, axis=1),
            num_actions=int(data.mask.shape[1]),
            policy=data.policy,
            value=data.value,
            moves_left=data.moves_left,
            key=data.key,
        )

    def unpack(self) -> TrainingData:
        """The samples as :class:`TrainingData` (weight and count 1, keys as stored)."""
        n = len(self)
        d = math.prod(self.obs_shape)
        if self.obs_format == "bits":
            flat = np.unpackbits(self.obs, axis=1, count=d).astype(np.float32)
        else:
            flat = self.obs.astype(np.float32)
        mask = np.unpackbits(self.mask, axis=1, count=self.num_actions).astype(bool)
        return TrainingData(
            flat.reshape(n, *self.obs_shape),
            self.policy,
            self.value,
            mask,
            self.moves_left,
            np.ones(n, np.float32),
            np.ones(n, np.int64),
            self.key,
        )

    def take(self, index: np.ndarray | slice) -> PackedSamples:
        """The samples at ``index`` (an index array or a slice)."""
        return PackedSamples(
            **{k: getattr(self, k)[index] for k in _ARRAYS},
            obs_format=self.obs_format,
            obs_shape=self.obs_shape,
            num_actions=self.num_actions,
        )

    @staticmethod
    def concat(parts: Sequence[PackedSamples]) -> PackedSamples:
        """Concatenate (at least one part, all of one game); parts stored in different
        formats are repacked together (into the widest)."""
        first = parts[0]
        if any(p.obs_format != first.obs_format for p in parts):
            return PackedSamples.pack(TrainingData.concat([p.unpack() for p in parts]))
        return PackedSamples(
            **{k: np.concatenate([getattr(p, k) for p in parts]) for k in _ARRAYS},
            obs_format=first.obs_format,
            obs_shape=first.obs_shape,
            num_actions=first.num_actions,
        )

    # ------------------------------------------------------------------ files
    def file_arrays(self) -> dict[str, np.ndarray]:
        """The arrays written to ``memory.npz`` (numbers only)."""
        return {
            **{k: getattr(self, k) for k in _ARRAYS},
            "obs_format": np.int64(OBS_FORMATS.index(self.obs_format)),
            "obs_shape": np.asarray(self.obs_shape, np.int64),
            "num_actions": np.int64(self.num_actions),
        }

    @staticmethod
    def from_file_arrays(
        files: dict[str, np.ndarray], max_unpacked_bytes: int | None = None
    ) -> PackedSamples:
        """Inverse of :meth:`file_arrays` for arrays read from a file that may be crafted:
        every shape and dtype is checked, values must be finite, the samples must fit in
        ``max_unpacked_bytes`` once unpacked (bits are 32x smaller than the ``float32``
        planes they stand for), and the keys are recomputed (a stored key is a claim about
        the data, not data).

        Raises:
            ValueError: the arrays do not describe packed samples (says why).
        """
        missing = {*_ARRAYS, "obs_format", "obs_shape", "num_actions"} - set(files)
        if missing:
            raise ValueError(f"lacks {sorted(missing)}")
        code, shape, a = files["obs_format"], files["obs_shape"], files["num_actions"]
        if code.shape != () or code.dtype.kind not in "iu" or not 0 <= int(code) < 3:
            raise ValueError("obs_format is not one of the codes 0, 1, 2")
        if shape.ndim != 1 or shape.dtype.kind not in "iu" or not 1 <= len(shape) <= 8:
            raise ValueError("obs_shape is not a shape")
        if (shape < 1).any() or a.shape != () or a.dtype.kind not in "iu" or int(a) < 1:
            raise ValueError("obs_shape or num_actions is not positive")
        fmt, obs_shape, num_actions = OBS_FORMATS[int(code)], tuple(map(int, shape)), int(a)
        if files["value"].ndim != 1:
            raise ValueError(f"value has shape {files['value'].shape}, not [N]")
        n = len(files["value"])
        d = math.prod(obs_shape)
        if max_unpacked_bytes is not None and 4 * n * (d + num_actions) > max_unpacked_bytes:
            raise ValueError(
                f"its {n} samples of {d} values would take {4 * n * d / 2**30:.1f} GiB "
                "unpacked, more than the memory available"
            )
        obs_dtypes = {"bits": ("uint8",), "int8": ("int8",), "float32": ("float32", "float64")}
        expected = {
            "obs": ((n, -(-d // 8)) if fmt == "bits" else (n, d), obs_dtypes[fmt]),
            "mask": ((n, -(-num_actions // 8)), ("uint8",)),
            "policy": ((n, num_actions), ("float32", "float64")),
            "value": ((n,), ("float32", "float64")),
            "moves_left": ((n,), ("float32", "float64")),
        }
        for name, (want, dtypes) in expected.items():
            arr = files[name]
            if arr.shape != want or arr.dtype.name not in dtypes:
                raise ValueError(
                    f"{name} has shape {arr.shape} and dtype {arr.dtype}, not {want} of {dtypes}"
                )
        floats = ("policy", "value", "moves_left") + (("obs",) if fmt == "float32" else ())
        if not all(np.isfinite(files[k]).all() for k in floats):
            raise ValueError("holds non-finite samples")
        packed = PackedSamples(
            obs=np.ascontiguousarray(
                files["obs"], dtype={"bits": np.uint8, "int8": np.int8}.get(fmt, np.float32)
            ),
            obs_format=fmt,
            obs_shape=obs_shape,
            mask=np.ascontiguousarray(files["mask"], dtype=np.uint8),
            num_actions=num_actions,
            policy=np.ascontiguousarray(files["policy"], dtype=np.float32),
            value=np.ascontiguousarray(files["value"], dtype=np.float32),
            moves_left=np.ascontiguousarray(files["moves_left"], dtype=np.float32),
            key=np.zeros(n, np.uint64),
        )
        return packed.with_keys()

    def with_keys(self, rows: int = 65536) -> PackedSamples:
        """The same samples with their keys recomputed, ``rows`` at a time (the unpacked
        observations of a whole buffer may not fit in memory at once)."""
        key = np.zeros(len(self), np.uint64)
        for lo in range(0, len(self), rows):
            part = self.take(slice(lo, lo + rows)).unpack()
            key[lo : lo + rows] = position_keys(part.obs, part.mask)
        return PackedSamples(
            **{k: getattr(self, k) for k in _ARRAYS if k != "key"},
            key=key,
            obs_format=self.obs_format,
            obs_shape=self.obs_shape,
            num_actions=self.num_actions,
        )


_ARRAYS = ("obs", "mask", "policy", "value", "moves_left", "key")
"""The per-sample arrays of :class:`PackedSamples`."""
