"""Self-play on Ray: samples per second on 1 and on 2 simulated nodes, in one run.

A ``ray.cluster_utils.Cluster`` on this machine: a head node with no CPU for actors (the
learner's node: the driver runs there), then one worker node of ``--cpus-per-node`` CPUs,
then a second. On each size a :class:`~az_gym.training.ray_backend.RayPool` with one actor
per CPU, spread over the nodes, plays ``--games`` games per actor (weak scaling, as
``bench/selfplay.py``, whose setup and figures this reuses) after an untimed warm-up round.
The weights go to the object store once per round. The nodes share this machine's cores,
so 2 nodes reach 2x only when ``2 x --cpus-per-node`` cores are free; the load average and
the workers' samples per CPU second are printed with the figures.

    python bench/ray_scaling.py
    python bench/ray_scaling.py --cpus-per-node 2 --games 16 --sims 50
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from selfplay import Round, Setup, add_arguments, load, ratio_line


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    ap = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()).replace("``", "`")
    )
    add_arguments(ap)
    ap.add_argument("--cpus-per-node", type=int, default=1, help="CPUs (actors) per node")
    args = ap.parse_args(argv)
    try:
        import ray
        from ray.cluster_utils import Cluster
    except ImportError:
        print("bench/ray_scaling.py needs Ray: pip install 'az-gym[ray]'", file=sys.stderr)
        return 2
    from az_gym.training.ray_backend import RayPool

    setup = Setup(args)
    # The nodes' workers must import this tree's az_gym, as the driver does.
    root = str(Path(__file__).resolve().parent.parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    head = {"num_cpus": 0, "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args=head)
    best: dict[int, Round] = {}
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        for nodes in (1, 2):
            cluster.add_node(num_cpus=args.cpus_per_node)
            cluster.wait_for_nodes()
            with RayPool(nodes * args.cpus_per_node) as pool:
                spread = len({loc.node_id for loc in pool.locations()})
                setup.warm_up(pool)
                for r in range(args.repeats):
                    rnd = setup.timed(pool, seed=1 + r)
                    if nodes not in best or rnd.rate > best[nodes].rate:
                        best[nodes] = rnd
                    print(f"  round {r + 1}, {nodes} node(s), {pool.parallelism} actor(s) on "
                          f"{spread} node(s): {rnd.rate:.1f} samples/s ({load()})",
                          flush=True)  # fmt: skip
    finally:
        ray.shutdown()
        cluster.shutdown()
    print(setup.title(f"on Ray actors, {args.cpus_per_node} CPU(s) per node"))
    for nodes, rnd in best.items():
        print(rnd.describe(f"{nodes} node(s)", args.sims))
    print(ratio_line("2 vs 1 node(s)", best[2], best[1], 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
