"""Training samples: :class:`TrainingData` and the position keys that merge them.

A sample is one position played in self-play: the observation from the mover's view, the
legal mask, the search policy ``pi``, the game's final return ``z`` for that position's
mover, and the number of moves left to the end. Merged samples (position averaging) carry
the count ``n`` of samples merged and their weight ``W(n)``
(:class:`~az_gym.training.params.SamplesWeighingPolicy`); the learning set that merges them
and makes their symmetric images is :mod:`az_gym.training.learning_set`.

Two samples are the *same position* when their observation and legal mask are byte-equal:
that is exactly the network's input, so the merged target is what the loss would fit
anyway. :func:`position_keys` hashes them to ``uint64`` (collisions are ~1e-8 likely for a
million samples).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise over ``uint64``."""
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    return h ^ (h >> np.uint64(31))


def position_keys(obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return ``uint64[N]`` keys, equal for byte-equal ``(obs[i], mask[i])`` rows.

    Args:
        obs: ``float32[N, *observation_shape]``.
        mask: ``bool[N, A]``.
    """
    obs, mask = np.asarray(obs, dtype=np.float32), np.asarray(mask, bool)
    n = len(obs)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    o = (obs.reshape(n, -1) + np.float32(0.0)).view(np.uint8)
    raw = np.concatenate([o, np.packbits(mask.reshape(n, -1), axis=1)], 1)
    raw = np.pad(raw, ((0, 0), (0, (-raw.shape[1]) % 8)))
    words = np.ascontiguousarray(raw).view(np.uint64)
    h = np.full(n, 0x9E3779B97F4A7C15, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(words.shape[1]):
            h = _mix((h ^ words[:, j]) + np.uint64(j))
    return h


@dataclass(frozen=True)
class TrainingData:
    """``N`` training samples (arrays share the first axis).

    Attributes:
        obs: ``float32[N, *observation_shape]``, each from its mover's view.
        policy: ``float32[N, A]`` target policy (normalised search visits, or the Gumbel
            search's improved policy), zero on illegal actions.
        value: ``float32[N]`` target ``z``: the game's return for the position's mover.
        mask: ``bool[N, A]`` legal actions.
        moves_left: ``float32[N]`` moves from the position to the end (mean if merged).
        weight: ``float32[N]`` sample weight ``W(n)`` (ones without averaging).
        count: ``int64[N]`` samples merged into each (ones without averaging).
        key: ``uint64[N]`` position keys (:func:`position_keys`).
    """

    obs: np.ndarray
    policy: np.ndarray
    value: np.ndarray
    mask: np.ndarray
    moves_left: np.ndarray
    weight: np.ndarray
    count: np.ndarray
    key: np.ndarray

    def __len__(self) -> int:
        return int(self.value.shape[0])

    def take(self, index: np.ndarray | slice) -> TrainingData:
        """The samples at ``index`` (an index array or a slice)."""
        return TrainingData(**{k: v[index] for k, v in self.__dict__.items()})

    @staticmethod
    def empty(observation_shape: Sequence[int], num_actions: int) -> TrainingData:
        """No samples, with arrays shaped for a game."""
        return TrainingData.from_arrays(
            np.zeros((0, *observation_shape), np.float32),
            np.zeros((0, num_actions), np.float32),
            np.zeros(0, np.float32),
            np.zeros((0, num_actions), bool),
        )

    @staticmethod
    def concat(parts: Sequence[TrainingData]) -> TrainingData:
        """Concatenate (at least one part)."""
        names = TrainingData.__dataclass_fields__
        return TrainingData(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in names})

    @staticmethod
    def from_arrays(
        obs: np.ndarray,
        policy: np.ndarray,
        value: np.ndarray,
        mask: np.ndarray,
        moves_left: np.ndarray | None = None,
    ) -> TrainingData:
        """Unmerged samples (weight and count 1, keys computed), with dtypes normalised.

        Raises:
            ValueError: arrays of different lengths or mismatched action counts.
        """
        obs = np.ascontiguousarray(obs, dtype=np.float32)
        policy = np.ascontiguousarray(policy, dtype=np.float32)
        value = np.ascontiguousarray(value, dtype=np.float32).reshape(-1)
        mask = np.ascontiguousarray(mask, dtype=bool)
        n = len(obs)
        ml = np.zeros(n, np.float32) if moves_left is None else np.asarray(moves_left, np.float32)
        lens = {
            "obs": n,
            "policy": len(policy),
            "value": len(value),
            "mask": len(mask),
            "moves_left": len(ml),
        }
        if len(set(lens.values())) != 1:
            raise ValueError(f"samples: arrays must have the same length, got {lens}")
        if policy.ndim != 2 or mask.shape != policy.shape:
            raise ValueError(
                f"samples: policy {policy.shape} and mask {mask.shape} must both be [N, A]"
            )
        return TrainingData(
            obs,
            policy,
            value,
            mask,
            ml.reshape(-1),
            np.ones(n, np.float32),
            np.ones(n, np.int64),
            position_keys(obs, mask),
        )
