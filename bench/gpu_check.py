"""The GPU check (run it through ``bash bench/gpu_check.sh``): learning and self-play on
CUDA, mixed precision, and a Ray head with a GPU, each next to the same figure on the CPU.

Prints, for a Connect Four ResNet (``--blocks`` x ``--filters``, random weights: speed does
not depend on their values):

* learning updates/s (``Learner.train``, ``--batch`` samples per update) on the CPU and on
  CUDA under ``learning.mixed_precision`` none, bf16 and fp16, with the loss before and
  after (must be finite);
* network forward positions/s at ``--forward-batch`` under autocast float32 / bf16 / fp16;
* self-play samples/s (``run_self_play`` in-process, ``--games`` games in lockstep at
  ``--sims`` simulations): the CPU (its fastest engine, ``inference = "auto"``) and CUDA;
* self-play through a Ray head started here with the GPU as a resource
  (``ray.init(num_gpus=...)``) and actors holding a share of it (``num_gpus_per_actor``);
  without CUDA the same Ray run on CPU actors.

Without CUDA it prints the CPU figures, then ``GPU check NOT RUN`` and why, and exits
with status 2 (``--cpu-only``: status 0, for trying the script on a laptop). The device
always comes from the parameters (``use_gpu``), never from a hard-coded name.

    bash bench/gpu_check.sh              # the whole check, under 5 minutes on a GPU machine
    bash bench/gpu_check.sh --quick --cpu-only --no-ray
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Sequence

import numpy as np
import torch

from az_gym.envs.registry import make_game
from az_gym.mcts import MctsParams
from az_gym.networks import NetworkConfig, PolicyValueNet, resolve_device
from az_gym.training.learning import Learner, autocast
from az_gym.training.params import MIXED_PRECISION, LearningParams, SelfPlayParams, SimParams
from az_gym.training.samples import TrainingData
from az_gym.training.selfplay import GameSpec, NetSpec, net_weights, run_self_play
from az_gym.workers import LocalPool


def _data(game, n: int, seed: int = 0) -> TrainingData:
    """``n`` random Connect Four-shaped samples (learning speed does not depend on them)."""
    rng = np.random.default_rng(seed)
    obs = (rng.random((n, *game.observation_shape)) < 0.3).astype(np.float32)
    mask = rng.random((n, game.num_actions)) < 0.9
    mask[:, 0] = True
    pi = rng.random((n, game.num_actions)).astype(np.float32) * mask
    return TrainingData.from_arrays(obs, pi / pi.sum(1, keepdims=True), rng.choice([-1.0, 1.0], n),
                                    mask)  # fmt: skip


def learning(spec: NetSpec, data: TrainingData, use_gpu: bool, mp: str, args) -> str:
    """Updates/s of one learning phase of ``args.updates`` updates."""
    params = LearningParams(use_gpu=use_gpu, mixed_precision=mp, batch_size=args.batch,
                            max_batches_per_checkpoint=args.updates, min_checkpoints_per_epoch=0,
                            loss_computation_max_samples=1024)  # fmt: skip
    torch.manual_seed(0)
    learner = Learner(spec.build(), params, resolve_device(params.use_gpu))
    learner.train(data, 0, np.random.default_rng(0))  # warm-up (kernels, allocator)
    t0 = time.perf_counter()
    rep = learner.train(data, 0, np.random.default_rng(1))
    if learner.device.type == "cuda":
        torch.cuda.synchronize()
    ups = rep.checkpoints[-1].batches_done / (time.perf_counter() - t0)
    before, after = rep.losses_before.total, rep.losses_after.total
    ok = "ok" if math.isfinite(before) and math.isfinite(after) else "NON-FINITE LOSS"
    return (f"{ups:8.1f} updates/s  (loss {before:.3f} -> {after:.3f}, {ok}; "
            f"phase {rep.seconds:.1f} s with loss reports)")  # fmt: skip


def forward(spec: NetSpec, use_gpu: bool, mp: str, batch: int, seconds: float) -> str:
    """Positions/s of the network's eval-mode forward pass under autocast ``mp``."""
    device = resolve_device(use_gpu)
    net = spec.build().to(device).eval()
    obs = torch.rand((batch, *spec.observation_shape), device=device)
    mask = torch.ones((batch, spec.num_actions), dtype=torch.bool, device=device)
    with torch.inference_mode(), autocast(device, mp):
        net(obs, mask)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            out = net(obs, mask)
            n += 1
        out.value.float().cpu()  # waits for the device
    return f"{n * batch / (time.perf_counter() - t0):12,.0f} positions/s"


def self_play(spec: NetSpec, weights, use_gpu: bool, pool, args, inference: str = "auto") -> str:
    """Samples/s of one self-play phase (after an untimed one: workers, kernels)."""
    k = args.games
    sim = SimParams(num_games=k, num_workers=k, batch_size=k, num_processes=1, use_gpu=use_gpu,
                    inference=inference)  # fmt: skip
    params = SelfPlayParams(mcts=MctsParams(num_iters_per_turn=args.sims), sim=sim)
    game = make_game("connect_four")
    run_self_play(GameSpec(name="connect_four"), game, spec, weights, params, pool, seed=0)
    _, rep = run_self_play(GameSpec(name="connect_four"), game, spec, weights, params, pool, seed=1)
    return (f"{rep.samples_per_second:8.1f} samples/s  ({rep.num_samples} samples, "
            f"{100 * rep.network_share:.0f}% in the network)")  # fmt: skip


def ray_self_play(spec: NetSpec, weights, num_gpus: int, args) -> str:
    """Self-play samples/s through a local Ray head holding ``num_gpus`` GPUs."""
    try:
        import ray
    except ImportError:
        return "skipped: ray is not installed (pip install az-gym[ray])"
    from az_gym.training.ray_backend import RayPool

    actors = 2
    ray.init(num_cpus=actors + 1, num_gpus=num_gpus, include_dashboard=False,
             log_to_driver=False)  # fmt: skip
    try:
        resources = ray.cluster_resources()
        share = 1.0 / actors if num_gpus else 0.0
        with RayPool(actors, num_gpus_per_actor=share) as pool:
            line = self_play(spec, weights, num_gpus > 0, pool, args)
        return f"{line}; head resources CPU={resources.get('CPU')}, GPU={resources.get('GPU', 0)}"
    finally:
        ray.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check (see the module docstring); 2 when no CUDA device is usable."""
    ap = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--filters", type=int, default=64)
    ap.add_argument("--batch", type=int, default=256, help="learning batch size")
    ap.add_argument("--updates", type=int, default=40, help="timed learning updates")
    ap.add_argument("--forward-batch", type=int, default=1024)
    ap.add_argument("--games", type=int, default=64, help="self-play games in lockstep")
    ap.add_argument("--sims", type=int, default=50, help="self-play simulations per move")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    ap.add_argument("--cpu-only", action="store_true", help="no CUDA is not an error")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray head")
    args = ap.parse_args(argv)
    if args.quick:
        args.blocks, args.filters, args.batch, args.updates = 1, 16, 64, 4
        args.forward_batch, args.games, args.sims = 64, 4, 8
    cuda = torch.cuda.is_available()
    print(f"torch {torch.__version__} (CUDA build {torch.version.cuda}); "
          f"cuda available: {cuda}; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    if cuda:
        print(f"device: {torch.cuda.get_device_name(0)} x {torch.cuda.device_count()}")
    game = make_game("connect_four")
    config = NetworkConfig(kind="resnet", num_blocks=args.blocks, num_filters=args.filters)
    spec = NetSpec(game.observation_shape, game.num_actions, config)
    torch.manual_seed(0)
    weights = net_weights(PolicyValueNet(spec.observation_shape, spec.num_actions, spec.config))
    data = _data(game, max(4 * args.batch, 2048))
    sides = [("CPU", False)] + ([("CUDA", True)] if cuda else [])
    print(f"\nConnect Four ResNet {args.blocks}x{args.filters}")
    print(f"learning, batch {args.batch}, {args.updates} updates:")
    for label, gpu in sides:
        for mp in MIXED_PRECISION if gpu else ("none",):
            print(f"  {label:<4} {mp:<4}  {learning(spec, data, gpu, mp, args)}")
    print(f"forward pass, batch {args.forward_batch}, eval mode:")
    for label, gpu in sides:
        for mp in MIXED_PRECISION if gpu else ("none",):
            print(f"  {label:<4} {mp:<4}  {forward(spec, gpu, mp, args.forward_batch, 1.0)}")
    print(f"self-play, {args.games} games in lockstep, {args.sims} simulations per move:")
    with LocalPool(1) as pool:
        for label, gpu in sides:
            print(f"  {label:<4}        {self_play(spec, weights, gpu, pool, args)}")
    if not args.no_ray:
        n = torch.cuda.device_count() if cuda else 0
        print(f"self-play through a local Ray head with {n} GPU(s), 2 actors:")
        print(f"  {'CUDA' if n else 'CPU':<4}        {ray_self_play(spec, weights, n, args)}")
    if not cuda:
        print(
            "\nGPU check NOT RUN: torch.cuda.is_available() is False (no CUDA device, or a "
            f"CPU build of torch: {torch.__version__}); the figures above are the CPU's"
        )
        return 0 if args.cpu_only else 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
