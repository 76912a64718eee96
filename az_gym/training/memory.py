"""The memory buffer: the latest self-play samples, ready for learning.

The buffer keeps the most recent ``capacity`` samples (FIFO), packed without loss
(:mod:`az_gym.training.packed`: board planes and masks as bits, 56 bytes per Connect Four
sample), and turns them into a :class:`~az_gym.training.learning_set.LearningSet`, still
packed and averaged by position, whose symmetric images are made at batch time
(:mod:`az_gym.training.learning_set` says how), when learning asks. It saves to and loads
from ``memory.npz`` (the packed arrays; files of the earlier unpacked layout still load)
with every header checked before anything is allocated."""

from __future__ import annotations

import math
import struct
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from az_gym.game import Symmetry
from az_gym.memory_budget import GIB, available_memory_bytes
from az_gym.training.checkpoint import atomic_write
from az_gym.training.learning_set import LearningSet
from az_gym.training.packed import PackedSamples
from az_gym.training.params import SamplesWeighingPolicy
from az_gym.training.samples import TrainingData, position_keys

__all__ = ["LearningSet", "MemoryBuffer", "TrainingData", "position_keys"]


class MemoryBuffer:
    """FIFO store of the most recent ``capacity`` samples.

    Args:
        capacity: most samples kept (``Params.mem_buffer_size`` at the iteration).
    """

    _FIELDS = ("obs", "policy", "value", "mask", "moves_left", "key")

    def __init__(self, capacity: int) -> None:
        self.capacity = self._check_capacity(capacity)
        self._chunks: list[PackedSamples] = []
        self._size = 0
        self.num_games = 0
        """Games added since the buffer was created (including dropped ones)."""
        self.num_samples_seen = 0
        """Samples added since the buffer was created (including dropped ones)."""

    @staticmethod
    def _check_capacity(capacity: int) -> int:
        if isinstance(capacity, bool) or int(capacity) != capacity or capacity < 1:
            raise ValueError(f"MemoryBuffer: capacity={capacity!r} must be an integer >= 1")
        return int(capacity)

    def __len__(self) -> int:
        return self._size

    # ------------------------------------------------------------------ adding
    def add(self, samples: Any, num_games: int = 0, *, capacity: int | None = None) -> None:
        """Append samples (a :class:`TrainingData`, or any object with ``obs``, ``policy``,
        ``value``, ``mask`` and ``moves_left`` arrays) and drop the oldest beyond capacity.

        Args:
            num_games: games these samples came from.
            capacity: the new capacity (the size schedule's value at this iteration),
                applied *before* the samples go in, as AlphaZero.jl resizes first: when the
                schedule grows, this iteration's samples are kept rather than trimmed to
                the old size.
        """
        if capacity is not None:
            self.resize(capacity)
        if not isinstance(samples, TrainingData):
            samples = TrainingData.from_arrays(
                samples.obs, samples.policy, samples.value, samples.mask, samples.moves_left
            )
        if self._chunks:
            ref = self._chunks[0]
            if samples.obs.shape[1:] != ref.obs_shape or samples.mask.shape[1] != ref.num_actions:
                raise ValueError(
                    f"MemoryBuffer: samples of shape obs {samples.obs.shape[1:]}, "
                    f"A={samples.mask.shape[1]} do not match the buffer's obs "
                    f"{ref.obs_shape}, A={ref.num_actions}"
                )
        if len(samples):
            self._chunks.append(PackedSamples.pack(samples))
            self._size += len(samples)
        self.num_games += int(num_games)
        self.num_samples_seen += len(samples)
        self._trim()

    def add_game(
        self,
        obs: np.ndarray,
        policy: np.ndarray,
        mask: np.ndarray,
        players: np.ndarray | Sequence[int],
        returns: np.ndarray | Sequence[float],
        gamma: float = 1.0,
    ) -> None:
        """Append one finished game of ``T`` positions.

        Args:
            obs: ``float32[T, *observation_shape]``, each from the mover's view.
            policy: ``float32[T, A]`` search policies.
            mask: ``bool[T, A]`` legal actions.
            players: ``int[T]`` the mover of each position.
            returns: ``float[num_players]`` final returns.
            gamma: discount: ``z_t = gamma^(T - 1 - t) * returns[players[t]]``.
        """
        players = np.asarray(players, dtype=np.int64)
        t = len(players)
        moves_left = np.arange(t, 0, -1, dtype=np.float32)
        z = np.asarray(returns, dtype=np.float64)[players] * gamma ** (moves_left - 1)
        self.add(TrainingData.from_arrays(obs, policy, z, mask, moves_left), num_games=1)

    def resize(self, capacity: int) -> None:
        """Change the capacity (the schedule's value); shrinking drops the oldest samples."""
        self.capacity = self._check_capacity(capacity)
        self._trim()

    def _trim(self) -> None:
        excess = self._size - self.capacity
        while excess > 0:
            head = self._chunks[0]
            if len(head) <= excess:
                self._chunks.pop(0)
                excess -= len(head)
                self._size -= len(head)
            else:
                self._chunks[0] = head.take(slice(excess, None))
                self._size -= excess
                excess = 0
        if len(self._chunks) > 64:  # keep concatenation cheap
            self._chunks = [PackedSamples.concat(self._chunks)]

    # ------------------------------------------------------------------ reading
    @property
    def nbytes(self) -> int:
        """Bytes the stored samples take (``python bench/memory.py`` reports it per sample)."""
        return sum(c.nbytes for c in self._chunks)

    def _packed(self) -> PackedSamples:
        if not self._chunks:
            raise ValueError("MemoryBuffer: the buffer is empty")
        if len(self._chunks) > 1:
            self._chunks = [PackedSamples.concat(self._chunks)]
        return self._chunks[0]

    def samples(self) -> TrainingData:
        """All stored samples, oldest first, unmerged, unpacked (a new copy at each call:
        the buffer itself stays packed).

        Raises:
            ValueError: the buffer is empty.
        """
        return self._packed().unpack()

    def training_data(
        self,
        use_position_averaging: bool,
        weighing_policy: SamplesWeighingPolicy = SamplesWeighingPolicy.CONSTANT,
        symmetries: Sequence[Symmetry] | None = None,
    ) -> LearningSet:
        """The learning set, packed: optional averaging over positions (over symmetry
        classes with ``symmetries``, the game's group, identity first, as
        ``Game.symmetries()``), whose symmetric images the learner makes per batch.

        Raises:
            ValueError: the buffer is empty.
        """
        return LearningSet.build(
            self._packed(), symmetries or (), use_position_averaging, weighing_policy
        )

    def game_stages(self, num_stages: int) -> list[LearningSet]:
        """Split the samples into ``num_stages`` parts of (nearly) equal size by moves left,
        the opening first (most moves left) and the endgame last. Unmerged samples, no
        symmetries, still packed (a loss computation unpacks them a batch at a time).

        Raises:
            ValueError: ``num_stages`` is not an integer >= 1, or the buffer is empty.
        """
        if isinstance(num_stages, bool) or int(num_stages) != num_stages or num_stages < 1:
            raise ValueError(f"game_stages: num_stages={num_stages!r} must be an integer >= 1")
        whole = LearningSet.build(self._packed(), use_position_averaging=False)
        order = np.argsort(-whole.moves_left, kind="stable")
        return [whole.take(idx) for idx in np.array_split(order, int(num_stages))]

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> None:
        """Write the buffer to an ``.npz`` file atomically (no pickles)."""
        arrays: dict[str, np.ndarray] = {
            "capacity": np.int64(self.capacity),
            "num_games": np.int64(self.num_games),
            "num_samples_seen": np.int64(self.num_samples_seen),
        }
        if self._chunks:
            arrays.update(self._packed().file_arrays())
        atomic_write(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: str | Path) -> MemoryBuffer:
        """Read a buffer written by :meth:`save` (a file that may come from someone else:
        no pickles, and each array's header is checked before any memory is allocated).

        Raises:
            ValueError: the file is not a readable buffer (names the file and why).
        """
        try:
            _check_npz_headers(Path(path))
            with np.load(path, allow_pickle=False) as z:
                files = {k: z[k] for k in z.files}
        except _PARSE_ERRORS as e:  # whatever a damaged archive raises: the caller falls back
            raise ValueError(f"memory file {path} is unreadable: {type(e).__name__}: {e}") from None
        missing = {"capacity", "num_games", "num_samples_seen"} - set(files)
        if missing:
            raise ValueError(f"memory file {path} lacks {sorted(missing)}")
        counts = {k: files[k] for k in ("capacity", "num_games", "num_samples_seen")}
        for name, value in counts.items():
            if (
                value.shape != ()
                or value.dtype.kind not in "iu"
                or int(value) < (name == "capacity")
            ):
                raise ValueError(f"memory file {path}: {name} is not a count")
        buf = cls(int(counts["capacity"]))
        if "obs_format" in files:  # the packed layout
            try:
                buf._chunks = [PackedSamples.from_file_arrays(files, available_memory_bytes())]
            except ValueError as e:
                raise ValueError(f"memory file {path}: {e}") from None
            buf._size = len(buf._chunks[0])
            buf._chunks = [c for c in buf._chunks if len(c)]
            buf._trim()
        else:  # the unpacked layout written before: float32 observations, bool masks
            arrays = {k: files.get(k) for k in cls._FIELDS[:5]}
            if any(a is not None for a in arrays.values()):
                if any(a is None for a in arrays.values()):
                    raise ValueError(
                        f"memory file {path} lacks some of the arrays {cls._FIELDS[:5]}"
                    )
                if not all(np.isfinite(arrays[k]).all() for k in ("obs", "policy", "value")):
                    raise ValueError(f"memory file {path} holds non-finite samples")
                try:
                    buf.add(TrainingData.from_arrays(**arrays))
                except (TypeError, ValueError, IndexError) as e:
                    raise ValueError(f"memory file {path} holds malformed samples: {e}") from None
        buf.num_games = int(counts["num_games"])
        buf.num_samples_seen = int(counts["num_samples_seen"])
        return buf


_PARSE_ERRORS = (
    OSError,
    ValueError,
    EOFError,
    KeyError,
    TypeError,
    IndexError,
    OverflowError,
    RuntimeError,  # zipfile: an encrypted member
    NotImplementedError,  # zipfile: an unsupported compression method
    struct.error,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
)
"""What reading a damaged or crafted ``.npz`` can raise; :meth:`MemoryBuffer.load` turns each
into the ``ValueError`` that the run directory's fallback to the previous iteration catches."""


def _check_npz_headers(path: Path) -> None:
    """Refuse an ``.npz`` before ``np.load`` allocates its arrays when they hold objects or
    anything but numbers (``<U1`` strings), claim more bytes than their members hold, hold
    more samples than the buffer's recorded capacity, or would take more memory than is
    available once uncompressed (a zip bomb: ``savez_compressed`` of zeros is ~1000x
    smaller than its arrays; the members' uncompressed sizes are what ``zipfile`` will
    produce at most, so their sum bounds the load).

    Raises:
        ValueError: a header that is malformed or breaks one of these bounds.
    """
    with zipfile.ZipFile(path) as zf:
        shapes: dict[str, tuple[int, ...]] = {}
        for info in zf.infolist():
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                else:
                    raise ValueError(f"{info.filename}: .npy version {version} is not read here")
            if dtype.hasobject:
                raise ValueError(f"{info.filename} holds Python objects")
            if dtype.kind not in "biuf":
                raise ValueError(f"{info.filename} holds {dtype} values, not numbers")
            if math.prod(shape) * dtype.itemsize > info.file_size:
                raise ValueError(f"{info.filename}'s shape {shape} does not fit its size")
            shapes[info.filename.removesuffix(".npy")] = shape
        total = sum(info.file_size for info in zf.infolist())
        have = available_memory_bytes()
        if have is not None and total > have:
            raise ValueError(
                f"its arrays take {total / GIB:.1f} GiB uncompressed, more than the "
                f"{have / GIB:.1f} GiB of memory available"
            )
        if shapes.get("capacity") == ():
            with zf.open("capacity.npy") as f:
                capacity = int(np.lib.format.read_array(f, allow_pickle=False))
            for name in MemoryBuffer._FIELDS:
                rows = shapes.get(name, (0,))[:1]
                if rows and rows[0] > capacity:
                    raise ValueError(
                        f"{name} holds {rows[0]} samples, more than the buffer's capacity "
                        f"{capacity}"
                    )
