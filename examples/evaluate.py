"""Evaluate agents: a duel with a confidence interval, then a small tournament with Elo.

Run:  python examples/evaluate.py [RUN_DIR]   (RUN_DIR: a tic-tac-toe run, e.g. from train.py)
"""

from __future__ import annotations

import sys

import az_gym
from az_gym.agents import (
    AlphaBetaAgent,
    AlphaZeroAgent,
    MctsRolloutAgent,
    OneStepLookaheadAgent,
    RandomAgent,
)


def main() -> None:
    """Duel alpha-beta against random, then a round robin (plus a trained agent if given)."""
    game = az_gym.make_game("tictactoe")
    duel = az_gym.evaluate(AlphaBetaAgent(seed=0), RandomAgent(seed=1), game, 100, seed=0)
    print(duel)  # wins/draws/losses, score, 95% Wilson interval
    print("games needed to tell 55% from 50% at 95%:", az_gym.necessary_samples(0.05, 0.05))

    players = {
        "random": RandomAgent(seed=0),
        "one_step": OneStepLookaheadAgent(seed=0),
        "mcts_100": MctsRolloutAgent(num_simulations=100, seed=0),
        "alphabeta": AlphaBetaAgent(seed=0),
    }
    if len(sys.argv) > 1:
        players["alphazero"] = AlphaZeroAgent.load(f"{sys.argv[1]}/best.pt", game)
    table = az_gym.tournament(players, game, games_per_pair=20, seed=0, num_processes=2)
    print(table)  # Bradley-Terry Elo with 95% intervals
    table.plot("tournament.png")


if __name__ == "__main__":  # parallel games spawn processes: the guard is required
    main()
