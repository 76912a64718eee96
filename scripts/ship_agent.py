"""Make a file for ``az_gym/pretrained`` from a training run's network.

Run: ``python scripts/ship_agent.py SOURCE OUT.pt [--simulations N] [--root-policy P]
[--solver | --no-solver] [--symmetry-averaging | --no-symmetry-averaging]``.

``SOURCE`` is an agent checkpoint (``AlphaZeroAgent.save``: a run's
``networks/best-NNNNNN.pt`` or ``iter-N/best.pt``), or ``RUN_DIR@N`` for the best network
of iteration ``N`` of a run (``RUN_DIR/networks/best-NNNNNN.pt``). The checkpoint's search
parameters are those of the run's arena; the options replace the ones a shipped agent
plays with (its README figures were measured with them), everything else is kept. The
weights are copied unchanged and the file is read back before the script reports success.

Why a script: the shipped Connect Four agent is iteration 126 of the Gumbel run stored with
400 simulations and PUCT play (README, Results), and a shipped file should be remade by a
command, not by hand.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from az_gym.threads import use_inference_threads

_ROOT_POLICIES = ("puct", "gumbel")


def source_path(source: str) -> Path:
    """The checkpoint file ``source`` names (``FILE.pt`` or ``RUN_DIR@N``).

    Raises:
        ValueError: the iteration is not a number, or the file does not exist.
    """
    if "@" in source and not Path(source).is_file():
        run, _, it = source.rpartition("@")
        if not it.isdigit():
            raise ValueError(f"{source!r}: the iteration after '@' must be a number")
        path = Path(run) / "networks" / f"best-{int(it):06d}.pt"
    else:
        path = Path(source)
    if not path.is_file():
        raise ValueError(f"no checkpoint file {str(path)!r}")
    return path


def ship(
    source: str,
    out: str | Path,
    *,
    simulations: int | None = None,
    root_policy: str | None = None,
    solver: bool | None = None,
    symmetry_averaging: bool | None = None,
) -> dict[str, object]:
    """Write ``out``: the checkpoint ``source`` with the given search settings replaced.

    Returns:
        The search parameters stored in ``out``, as read back from it.

    Raises:
        ValueError: a bad source or option (the message names it).
    """
    from az_gym.agents.alphazero import AlphaZeroAgent

    agent = AlphaZeroAgent.load(source_path(source), inference="eager")
    changes: dict[str, object] = {}
    if simulations is not None:
        changes["num_iters_per_turn"] = simulations
    if root_policy is not None:
        changes["root_policy"] = root_policy
    if solver is not None:
        changes["solver"] = solver
    if symmetry_averaging is not None:
        changes["symmetry_averaging"] = symmetry_averaging
    agent.params = dataclasses.replace(agent.params, **changes)  # validated on construction
    agent.save(out)
    back = AlphaZeroAgent.load(out, inference="eager")
    return back.params.to_dict()


def main(argv: list[str] | None = None) -> int:
    """Command line; returns the exit status (errors: one line on stderr, status 2)."""
    ap = argparse.ArgumentParser(prog="ship_agent.py", description=__doc__.split("\n\n")[0].strip())
    ap.add_argument("source", help="FILE.pt or RUN_DIR@ITERATION")
    ap.add_argument("out", help="the file to write (e.g. az_gym/pretrained/othello.pt)")
    ap.add_argument("--simulations", type=int, help="simulations per move to store")
    ap.add_argument("--root-policy", choices=_ROOT_POLICIES, help="root search to store")
    solver = ap.add_mutually_exclusive_group()
    solver.add_argument("--solver", dest="solver", action="store_true", default=None)
    solver.add_argument("--no-solver", dest="solver", action="store_false")
    sym = ap.add_mutually_exclusive_group()
    sym.add_argument(
        "--symmetry-averaging",
        dest="symmetry_averaging",
        action="store_true",
        default=None,
        help="average each network call over the game's symmetries (the ':sym' of a spec)",
    )
    sym.add_argument("--no-symmetry-averaging", dest="symmetry_averaging", action="store_false")
    args = ap.parse_args(argv)
    use_inference_threads()
    try:
        stored = ship(
            args.source, args.out, simulations=args.simulations,
            root_policy=args.root_policy, solver=args.solver,
            symmetry_averaging=args.symmetry_averaging,
        )  # fmt: skip
    except (ValueError, TypeError, OSError) as e:
        print(f"ship_agent.py: error: {e}", file=sys.stderr)
        return 2
    keys = ("num_iters_per_turn", "root_policy", "solver", "symmetry_averaging")
    print(f"{args.out}: " + ", ".join(f"{k}={stored[k]}" for k in keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
