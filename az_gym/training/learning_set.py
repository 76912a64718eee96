"""The learning set: packed, position-averaged rows; symmetric images made at batch time.

AlphaZero.jl (``learning_step!``, ``Trainer``) builds its learning set by augmenting the
memory with every symmetric image of every sample (``use_symmetries``), then merging the
samples of identical positions (``use_position_averaging``: mean ``pi``, ``z`` and moves
left, weight ``W(n)`` per merged sample) and drawing batches from the result. Materialised,
that set holds ``|G|`` unpacked images per stored sample (798 bytes per Connect Four
sample, 8.6 kB per 9 x 9 gomoku one). :class:`LearningSet` holds the *same distribution*
without materialising it:

* one *row* per symmetry class of positions (merged samples whose observations and masks
  are images of each other: each stored sample is keyed by the smallest
  :func:`~az_gym.training.samples.position_keys` of its ``|G|`` images), kept packed
  (:class:`~az_gym.training.packed.PackedSamples`) in the frame of one of its stored
  samples, with the merged policy permuted into that frame;
* a row's merged values are exactly those of each of its images in AlphaZero.jl's merged
  augmented set: a stored sample whose position is invariant under ``s`` of the
  ``|G|`` symmetries lands ``s`` times on each of its distinct images, so the row's count
  is ``n = s * (stored samples)``, its policy the mean over those ``n`` images (the
  policy is symmetrised over the position's own symmetries), its weight ``W(n)`` per
  image, and it stands for ``|G| / s`` distinct images;
* a batch draws rows with probability proportional to ``W(n) * images`` (the learner's
  ``rng``), then one symmetry per sample uniformly from ``G`` (the same ``rng``), and
  unpacks and transforms only those ``B`` samples. Each distinct image is then drawn
  with probability proportional to its ``W(n)``, as from the materialised set.

Without averaging each stored sample is a row of count 1 standing for its ``|G|``
images (duplicates included, as AlphaZero.jl's augmentation keeps them). Without
symmetries (``G`` the identity) rows are the stored (or merged) samples and no symmetry is
drawn, so the batches are those the learner drew before symmetries moved here.

``len(learning_set)`` is the size of the materialised set (the sum of the rows' images):
the epoch of :meth:`LearningParams.batches_per_checkpoint
<az_gym.training.params.LearningParams.batches_per_checkpoint>` stays a pass over the
augmented set, so the number of updates per iteration is what it was. The symmetries are
assumed to form a group (the dihedral group, the mirror: every native game's), identity
first, as ``Game.symmetries()`` returns them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from az_gym.game import Symmetry
from az_gym.training.packed import PackedSamples
from az_gym.training.params import SamplesWeighingPolicy
from az_gym.training.samples import TrainingData, position_keys

CHUNK_ROWS = 4096
"""Stored samples unpacked at a time while building the set or computing its losses."""


def apply_symmetry(data: TrainingData, g: Symmetry) -> TrainingData:
    """The images of ``data``'s samples under ``g``: ``g(obs)``, ``pi[sigma]``,
    ``mask[sigma]`` (value, moves left, weight and count unchanged; keys recomputed)."""
    obs = np.ascontiguousarray(g.transform_observation(data.obs), dtype=np.float32)
    mask = np.ascontiguousarray(data.mask[:, g.sigma])
    return replace(
        data,
        obs=obs,
        policy=np.ascontiguousarray(g.transform_policy(data.policy)),
        mask=mask,
        key=position_keys(obs, mask),
    )


@dataclass(frozen=True)
class LearningSet:
    """``M`` packed rows standing for ``len(self)`` samples of the augmented, merged set.

    Attributes:
        rows: ``M`` packed samples (merged policy, value and moves left, each in the
            row's own frame).
        weight: ``float32[M]`` weight ``W(n)`` of each of a row's images.
        count: ``int64[M]`` samples merged into each image (``n``).
        images: ``int64[M]`` samples of the augmented set a row stands for.
        symmetries: the group ``G`` drawn from at batch time, identity first (empty: none).
    """

    rows: PackedSamples
    weight: np.ndarray
    count: np.ndarray
    images: np.ndarray
    symmetries: tuple[Symmetry, ...] = ()

    def __len__(self) -> int:
        return int(self.images.sum())

    @property
    def num_rows(self) -> int:
        """``M``, the rows held."""
        return len(self.rows)

    @property
    def moves_left(self) -> np.ndarray:
        """``float32[M]`` (mean) moves left of each row."""
        return self.rows.moves_left

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (the rows shared with the memory buffer included)."""
        return self.rows.nbytes + self.weight.nbytes + self.count.nbytes + self.images.nbytes

    def take(self, index: np.ndarray | slice) -> LearningSet:
        """The rows at ``index``, with the same symmetries."""
        return LearningSet(
            self.rows.take(index),
            self.weight[index],
            self.count[index],
            self.images[index],
            self.symmetries,
        )

    @staticmethod
    def from_data(data: TrainingData) -> LearningSet:
        """``data``'s samples as rows, their weights and counts kept, no symmetries."""
        rows = PackedSamples.pack(data)
        return LearningSet(rows, data.weight, data.count, np.ones(len(data), np.int64))

    # ------------------------------------------------------------------ batches
    def batch(self, index: np.ndarray, symmetry: np.ndarray | None = None) -> TrainingData:
        """Unpack rows ``index`` (``int[B]``), sample ``b`` transformed by
        ``symmetries[symmetry[b]]`` (``None``: as stored). Weights are the rows'."""
        data = self.rows.take(index).unpack()
        data = replace(data, weight=self.weight[index], count=self.count[index])
        if symmetry is None:
            return data
        out = {k: v.copy() for k, v in data.__dict__.items()}
        for s in np.unique(symmetry):
            sel = np.flatnonzero(symmetry == s)
            image = apply_symmetry(data.take(sel), self.symmetries[int(s)])
            for k in ("obs", "policy", "mask", "key"):
                out[k][sel] = getattr(image, k)
        return TrainingData(**out)

    def draw(self, rng: np.random.Generator, batch_size: int) -> TrainingData:
        """``batch_size`` samples drawn with replacement: rows proportionally to
        ``weight * images``, then (with symmetries) one symmetry each, uniformly."""
        cdf = self.sampling_cdf
        idx = np.searchsorted(cdf, rng.random(batch_size) * cdf[-1], side="right")
        idx = np.minimum(idx, self.num_rows - 1)
        sym = None
        if len(self.symmetries) > 1:
            sym = rng.integers(len(self.symmetries), size=batch_size)
        return self.batch(idx, sym)

    @cached_property
    def sampling_cdf(self) -> np.ndarray:
        """``float64[M]`` cumulated ``weight * images`` (what :meth:`draw` samples)."""
        return np.cumsum(self.weight.astype(np.float64) * self.images)

    def all_images(self, rows_per_chunk: int) -> Iterator[TrainingData]:
        """Every row under every symmetry, ``rows_per_chunk`` rows at a time, each image
        weighted ``weight * images / |G|`` (so the weights sum as over the augmented set)."""
        num = max(1, len(self.symmetries))
        for lo in range(0, self.num_rows, rows_per_chunk):
            idx = np.arange(lo, min(lo + rows_per_chunk, self.num_rows))
            w = (self.weight[idx] * self.images[idx] / num).astype(np.float32)
            for s in range(num):
                sym = None if num == 1 else np.full(len(idx), s)
                yield replace(self.batch(idx, sym), weight=w)

    # ------------------------------------------------------------------ building
    @staticmethod
    def build(
        samples: PackedSamples,
        symmetries: Sequence[Symmetry] = (),
        use_position_averaging: bool = True,
        weighing_policy: SamplesWeighingPolicy = SamplesWeighingPolicy.CONSTANT,
    ) -> LearningSet:
        """The learning set of the stored ``samples`` (see the module docstring).

        Args:
            samples: the memory's packed samples (not copied without averaging).
            symmetries: ``G``, identity first (``Game.symmetries()``); empty: none.
            use_position_averaging: merge the samples of one symmetry class.
            weighing_policy: ``W(n)`` of a merged sample.
        """
        group = tuple(symmetries) if len(symmetries) > 1 else ()
        num = max(1, len(group))
        n = len(samples)
        if not use_position_averaging:
            ones = np.ones(n, np.int64)
            return LearningSet(samples, np.ones(n, np.float32), ones, ones * num, group)
        canon, hits = _canonical_keys(samples, group)
        _, first, inverse = np.unique(canon, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        m = len(first)
        mult = hits.sum(1).astype(np.float64)  # images of each sample on its class's own
        cnt = np.bincount(inverse, weights=mult, minlength=m)

        def mean(x: np.ndarray) -> np.ndarray:
            return (np.bincount(inverse, weights=x * mult, minlength=m) / cnt).astype(np.float32)

        # float32 sums (as the policies): a float64 [M, A] array would double the peak.
        policy = np.zeros((m, samples.num_actions), np.float32)
        for lo in range(0, n, CHUNK_ROWS):
            pi, hit = samples.policy[lo : lo + CHUNK_ROWS], hits[lo : lo + CHUNK_ROWS]
            part = np.zeros(pi.shape, np.float32)
            for s in range(num):
                image = pi if not group else group[s].transform_policy(pi)
                part += np.where(hit[:, s, None], image, np.float32(0))
            np.add.at(policy, inverse[lo : lo + CHUNK_ROWS], part)
        policy /= cnt[:, None].astype(np.float32)
        # Back from the canonical frame to the first sample's: any of its hits does, the
        # merged policy being symmetric under the position's own symmetries.
        if group:
            back = np.argmax(hits[first], axis=1)
            for s in np.unique(back):
                sel = np.flatnonzero(back == s)
                policy[sel] = policy[sel][:, group[int(s)].inverse_sigma]
        rows = PackedSamples(
            obs=samples.obs[first],
            obs_format=samples.obs_format,
            obs_shape=samples.obs_shape,
            mask=samples.mask[first],
            num_actions=samples.num_actions,
            policy=policy,
            value=mean(samples.value),
            moves_left=mean(samples.moves_left),
            key=samples.key[first],
        )
        images = num // hits[first].sum(1).astype(np.int64)
        return LearningSet(
            rows,
            weighing_policy.weight(cnt).astype(np.float32),
            cnt.astype(np.int64),
            images,
            group,
        )


def _canonical_keys(
    samples: PackedSamples, group: tuple[Symmetry, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """``(uint64[N] canonical keys, bool[N, |G|] hits)``: the smallest key of each sample's
    images, and which symmetries map the sample onto that image."""
    n = len(samples)
    if not group:
        return samples.key, np.ones((n, 1), bool)
    canon = np.zeros(n, np.uint64)
    hits = np.zeros((n, len(group)), bool)
    for lo in range(0, n, CHUNK_ROWS):
        data = samples.take(slice(lo, lo + CHUNK_ROWS)).unpack()
        keys = np.stack([apply_symmetry(data, g).key for g in group], axis=1)
        low = keys.min(axis=1)
        canon[lo : lo + len(low)] = low
        hits[lo : lo + len(low)] = keys == low[:, None]
    return canon, hits
