"""Train an AlphaZero agent on a native game from Python, with a callback and overrides.

Run:  python examples/train.py            (tic-tac-toe, about half a minute on 2 cores)
      python examples/train.py connect_four --iters 5
"""

from __future__ import annotations

import argparse

from az_gym import Trainer


def main() -> None:
    """Train, print a line per iteration, then show what the agent thinks of the start."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("game", nargs="?", default="tictactoe")
    parser.add_argument("--iters", type=int, default=None, help="override num_iters")
    parser.add_argument("--run-dir", default=None)
    args = parser.parse_args()

    def on_iteration_end(report) -> None:  # an IterationReport
        print(f"iteration {report.iteration} done in {report.seconds:.1f} s; "
              f"promoted: {report.promoted}")  # fmt: skip

    overrides = [f"num_iters={args.iters}"] if args.iters else []
    trainer = Trainer(
        args.game,
        None,  # the game's tuned parameter file (az_gym/configs/<game>.toml)
        args.run_dir or f"runs/example_{args.game}",
        overrides=overrides,
        callbacks={"on_iteration_end": on_iteration_end},
        quiet=True,
    )
    trainer.resume()  # starts a new run, or continues an interrupted one
    agent = trainer.best_agent()
    print(agent.analyse((trainer.game, trainer.game.initial_state())))
    agent.save(f"{trainer.run.path}/agent.pt")  # AlphaZeroAgent.load(path) reads it back


if __name__ == "__main__":  # worker processes are spawned: the guard is required
    main()
