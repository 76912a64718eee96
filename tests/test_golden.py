"""Golden visit counts of the search at fixed seeds (mctx's ``tests/test_data`` style).

Each case searches fixed positions with a fixed evaluator and records the root visit counts
(and the root values, rounded) in ``tests/data/golden_visits.json``. Both backends must
reproduce the file exactly, so a change to the search shows up here as a changed number;
when a change is meant (a new rule, a fixed bug), regenerate the file with
``PYTHONPATH=. python tests/test_golden.py --write`` and say why in the commit.

The network evaluator rounds its outputs to 6 decimals so that last-bit differences of
float32 kernels across CPUs cannot flip a PUCT tie and change the recorded visits.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from az_gym.envs.connect_four import ConnectFour
from az_gym.envs.gomoku import Gomoku
from az_gym.envs.tictactoe import TicTacToe
from az_gym.evaluators import UniformEvaluator
from az_gym.game import Game, State
from az_gym.mcts import BatchedMcts, MctsParams
from az_gym.testing import random_openings

DATA = Path(__file__).parent / "data" / "golden_visits.json"
BACKENDS = ["numpy", "numba"]


class _RoundedNet:
    """A small fixed-seed torch MLP as an evaluator, outputs rounded to 6 decimals."""

    needs_observations = True

    def __init__(self, game: Game, seed: int) -> None:
        import torch

        from az_gym.networks import NetworkConfig, NetworkEvaluator, PolicyValueNet

        torch.manual_seed(seed)
        net = PolicyValueNet(
            game.observation_shape, game.num_actions, NetworkConfig(kind="mlp", hidden=(32,))
        )
        self._ev = NetworkEvaluator(net)

    def __call__(self, observations: np.ndarray, masks: np.ndarray):
        priors, values = self._ev(observations, masks)
        return np.round(priors.astype(np.float64), 6), np.round(values.astype(np.float64), 6)


def _play(game: Game, moves: list[int]) -> State:
    s = game.initial_state()
    for a in moves:
        s = game.next_state(s, a)
    return s


def _search(game, evaluator, params, states, backend, *, noise_seed=None, reuse_moves=None):
    """Visits (and rounded root values) of one search, plus a second search after
    ``reuse_moves`` (played from ``states[0]``) when given."""
    rng = np.random.default_rng(noise_seed)
    mcts = BatchedMcts(game, evaluator, params, rng=rng, backend=backend)
    res = mcts.search(states, add_noise=noise_seed is not None)
    out = {
        "visits": res.visits.astype(int).tolist(),
        "root_value": np.round(res.root_value, 6).tolist(),
    }
    if res.action is not None:  # Gumbel: the selected action and the policy target too
        out["action"] = res.action.tolist()
        out["improved"] = np.round(res.improved_policy, 6).tolist()
    if reuse_moves is not None:
        s = states[0]
        for a in reuse_moves:
            s = game.next_state(s, a)
        res2 = mcts.search([s])
        out["reuse_visits"] = res2.visits.astype(int).tolist()
        out["reused"] = res2.reused.tolist()
    return out


def _cases() -> dict[str, Callable[[str], dict]]:
    ttt, c4, gk = TicTacToe(), ConnectFour(), Gomoku(9)
    uni = UniformEvaluator()
    return {
        "tictactoe_uniform_initial": lambda be: _search(
            ttt, uni, MctsParams(num_iters_per_turn=200), [ttt.initial_state()], be
        ),
        "tictactoe_uniform_gamma_mid": lambda be: _search(
            ttt, uni, MctsParams(num_iters_per_turn=150, gamma=0.9), [_play(ttt, [4, 0, 8])], be
        ),
        "tictactoe_net_reuse": lambda be: _search(
            ttt, _RoundedNet(ttt, 0), MctsParams(num_iters_per_turn=120, cpuct=1.5),
            [ttt.initial_state()], be, reuse_moves=[4, 0],
        ),
        "connect_four_uniform_noise_batch": lambda be: _search(
            c4, uni, MctsParams(num_iters_per_turn=100), random_openings(c4, 1, 4, 6), be,
            noise_seed=7,
        ),
        "connect_four_net_batch": lambda be: _search(
            c4, _RoundedNet(c4, 1), MctsParams(num_iters_per_turn=80, prior_temperature=0.8),
            random_openings(c4, 2, 3, 8), be, reuse_moves=[3, 3],
        ),
        "gomoku_uniform_fpu": lambda be: _search(
            gk, uni, MctsParams(num_iters_per_turn=120, fpu_reduction=0.25),
            [_play(gk, [40, 41, 31, 49])], be,
        ),
        "gomoku_net_fpu_noise": lambda be: _search(
            gk, _RoundedNet(gk, 2), MctsParams(num_iters_per_turn=100, fpu_reduction=0.3),
            random_openings(gk, 3, 2, 10), be, noise_seed=11,
        ),
        "tictactoe_uniform_gumbel": lambda be: _search(
            ttt, uni, MctsParams(num_iters_per_turn=64, root_policy="gumbel",
                                 max_num_considered_actions=4),
            [ttt.initial_state(), _play(ttt, [4, 0, 8])], be,
        ),
        "connect_four_net_gumbel_noise_reuse": lambda be: _search(
            c4, _RoundedNet(c4, 3), MctsParams(num_iters_per_turn=48, root_policy="gumbel",
                                               c_visit=10.0, c_scale=0.5),
            random_openings(c4, 4, 3, 8), be, noise_seed=5, reuse_moves=[2, 3],
        ),
        "gomoku_net_gumbel_noise": lambda be: _search(
            gk, _RoundedNet(gk, 4), MctsParams(num_iters_per_turn=40, root_policy="gumbel",
                                               gamma=0.95),
            random_openings(gk, 5, 2, 10), be, noise_seed=13,
        ),
    }  # fmt: skip


def _golden() -> dict:
    return json.loads(DATA.read_text())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(_cases()))
def test_visits_match_golden(case: str, backend: str) -> None:
    assert _cases()[case](backend) == _golden()[case]


def test_golden_file_covers_every_case() -> None:
    assert sorted(_golden()) == sorted(_cases())


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: PYTHONPATH=. python tests/test_golden.py --write")
    data = {name: fn("numpy") for name, fn in sorted(_cases().items())}
    for name, fn in sorted(_cases().items()):
        for be in BACKENDS[1:]:
            assert fn(be) == data[name], f"{name}: backends disagree"
    rows = (f" {json.dumps(k)}: {json.dumps(v)}" for k, v in data.items())
    DATA.write_text("{\n" + ",\n".join(rows) + "\n}\n")
    print(f"wrote {DATA}")
