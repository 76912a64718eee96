"""Bytes per stored sample of the memory buffer: stored, in ``memory.npz``, and at the
peak of learning.

For Connect Four and 9x9 gomoku (``--games``), fills a :class:`MemoryBuffer` with the
positions of random games (the stored layout depends only on the game's observation, mask
and action count, not on who played), then prints per sample: the packed bytes the buffer
holds, the bytes of its ``memory.npz``, the unpacked :class:`TrainingData` the network reads
(what the buffer held before packing), the learning set the shipped parameters build
(position averaging over the game's symmetries, rows still packed: symmetric images are
made per batch), and the *peak* that learning adds above the buffer (``tracemalloc``:
building the learning set, drawing one training batch, one loss-report batch of every
image of its rows; the network's own tensors are not counted), each extrapolated to one
million samples; and the time to unpack the whole buffer. Target: <= 100 B per Connect
Four sample.

    python bench/memory.py
    python bench/memory.py --games connect_four --samples 200000

The peak holds fixed transients (one training batch, one loss-report batch of every image
of its rows) besides the per-row ones, so its bytes per sample fall as the buffer grows:
the default 100,000 samples is between the Connect Four file's first and last buffer sizes
(40,000 and 200,000); 20,000 gave 374 B (Connect Four) and 814 B (gomoku) where 100,000
gives 107 and 461.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from az_gym.envs.registry import make_game
from az_gym.game import Game
from az_gym.training.memory import MemoryBuffer, TrainingData
from az_gym.training.params_io import default_params


def fill(game: Game, num_samples: int, seed: int = 0) -> MemoryBuffer:
    """A buffer of ``num_samples`` positions of uniformly random games."""
    rng = np.random.default_rng(seed)
    buf = MemoryBuffer(num_samples)
    while buf.num_samples_seen < num_samples:
        s = game.initial_state()
        obs, pis, masks, players = [], [], [], []
        while not game.is_terminal(s):
            m = game.legal_mask(s)
            pi = rng.dirichlet(np.ones(int(m.sum())))  # a search policy over the legal moves
            full = np.zeros(game.num_actions, np.float32)
            full[m] = pi
            obs.append(game.observation(s))
            pis.append(full)
            masks.append(m)
            players.append(game.to_play(s))
            s = game.next_state(s, int(rng.choice(np.flatnonzero(m))))
        buf.add_game(np.stack(obs), np.stack(pis), np.stack(masks), players, game.returns(s))
    return buf


def _data_bytes(data: TrainingData) -> int:
    return sum(v.nbytes for v in data.__dict__.values())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    ap = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    ap.add_argument("--games", default="connect_four,gomoku")
    ap.add_argument("--samples", type=int, default=100_000, help="samples in each buffer")
    args = ap.parse_args(argv)
    million = 1e6 / 2**20  # bytes per sample -> MiB per million samples
    for name in args.games.split(","):
        game = make_game(name)
        buf = fill(game, args.samples)
        n = len(buf)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "memory.npz"
            buf.save(path)
            file_bytes = path.stat().st_size
        t0 = time.perf_counter()
        data = buf.samples()
        unpack = time.perf_counter() - t0
        lp = default_params(name).learning
        syms = game.symmetries()
        np.unique(np.arange(3))  # numpy's one-time set-up of unique, outside the peak
        tracemalloc.start()
        learning = buf.training_data(
            lp.use_position_averaging, lp.samples_weighing_policy, symmetries=syms
        )
        learning.draw(np.random.default_rng(0), lp.batch_size)
        next(learning.all_images(lp.loss_computation_batch_size))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows = {
            "packed, in memory (stored)": buf.nbytes / n,
            "packed, memory.npz": file_bytes / n,
            "unpacked TrainingData (before)": _data_bytes(data) / n,
            f"learning set, {learning.num_rows} rows for {len(learning)}": learning.nbytes / n,
            "learning's peak above the buffer": peak / n,
            "stored + learning's peak": (buf.nbytes + peak) / n,
        }
        chunk = buf._packed()
        print(
            f"\n{name}: obs {game.observation_shape} stored as {chunk.obs_format}, "
            f"{game.num_actions} actions, {n} samples"
        )
        for label, b in rows.items():
            print(f"  {label:<42} {b:8.1f} B/sample   {b * million:8.1f} MiB per 1M samples")
        print(
            f"  unpacking the whole buffer: {unpack * 1e3:.0f} ms ({unpack * 1e6 / n:.2f} us each)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
