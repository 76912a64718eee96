"""The analysis overlay's data: what an agent thinks of the current position, as JSON.

An agent that searches a tree (AlphaZero, rollout MCTS) reports per legal move its visit
share, Q and prior, and the position's value for the player to move
(:class:`~az_gym.agents.analysis.Analysis`); the others (alpha-beta, the policy head alone,
one-step lookahead, random) report their own per-move columns
(:class:`~az_gym.agents.analysis.MoveTable`). Both come from the agents' own ``analyse``,
the code ``az-gym analyse`` prints, so the page and the terminal never disagree.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from az_gym.agents.analysis import Analysis, MoveTable, player_label, proof_label
from az_gym.game import Game, State
from az_gym.web.players import Offer, RequestError, takes_simulations


def _analysis_json(report: Analysis) -> dict[str, Any]:
    game, state = report.game, report.state
    total = float(report.visits.sum())
    moves = [
        {
            "action": a,
            "name": game.action_to_string(a),
            "visits": int(report.visits[a]),
            "share": float(report.visits[a]) / total if total else 0.0,
            "q": float(report.q[a]),
            "prior": float(report.prior[a]),
            # the solver's verdict ("win", "draw", "loss"; "" unproven), None without it
            "proof": None if report.proven_q is None else proof_label(report.proven_q[a]),
        }
        for a in sorted(
            np.flatnonzero(game.legal_mask(state)).tolist(),
            key=lambda a: (-report.visits[a], -report.prior[a], a),
        )
    ]
    return {
        "kind": "search",
        "value": report.root_value,
        "value_label": "search value",
        "network_value": report.network_value,
        "network_value_label": report.value_label,
        "simulations": int(total),
        "moves": moves,
    }


def _table_json(report: MoveTable) -> dict[str, Any]:
    game = report.game
    return {
        "kind": "table",
        "summary": report.summary,
        "columns": list(report.columns),
        "moves": [
            {"action": a, "name": game.action_to_string(a), "cells": list(cells)}
            for a, cells in report.rows
        ],
    }


def analyse_position(
    offer: Offer, game: int, agent: int, state: State, simulations: int | None, max_sims: int
) -> dict[str, Any]:
    """Agent ``agent``'s view of ``state`` (JSON-ready), with the seconds it took.

    Args:
        offer: the server's games and agents.
        game: index of the game.
        agent: index of the analysing agent.
        state: a running position of that game.
        simulations: simulations of a tree search (``None``: the agent's own budget);
            ignored by agents that build no tree.
        max_sims: the largest ``simulations`` accepted.

    Raises:
        RequestError: an agent that cannot analyse, a finished game, or a budget out of
            ``1..max_sims``.
    """
    g: Game = offer.games[game].game
    spec = offer.check_agent(game, agent)
    if g.is_terminal(state):
        raise RequestError("the game is over: nothing to analyse", 409)
    if simulations is not None and not (
        isinstance(simulations, int) and not isinstance(simulations, bool)
        and 1 <= simulations <= max_sims
    ):  # fmt: skip
        raise RequestError(
            f"simulations must be a whole number in 1..{max_sims}, not {simulations!r}"
        )
    with offer.using(game, agent) as player:
        if not callable(getattr(player, "analyse", None)):
            raise RequestError(f"agent {spec!r} cannot analyse a position")
        if simulations is not None and not takes_simulations(player):  # it was ignored
            raise RequestError(
                f"agent {spec!r} runs no simulations (its search has a fixed budget, e.g. "
                "alpha-beta's depth): send simulations: null"
            )
        t0 = time.perf_counter()
        if takes_simulations(player):
            report = player.analyse((g, state), num_simulations=simulations)
        else:
            report = player.analyse((g, state))
        seconds = time.perf_counter() - t0
    out = _analysis_json(report) if isinstance(report, Analysis) else _table_json(report)
    mover = g.to_play(state)
    return {
        **out,
        "agent": agent,
        "agent_label": spec,
        "to_play_label": player_label(g, mover),
        "seconds": seconds,
    }
