"""Our native Connect Four and Tic-tac-toe agree with ``pettingzoo.classic`` move for move.

For each of 1000 random games: the same legal moves, the same observation planes (mover's,
opponent's) at every step, and the same final rewards.
"""

from __future__ import annotations

import numpy as np
import pytest

from az_gym.envs.connect_four import ConnectFour
from az_gym.envs.tictactoe import TicTacToe
from az_gym.game import Game

pettingzoo = pytest.importorskip("pettingzoo")
pytest.importorskip("pygame")  # pettingzoo.classic's board games import it

# pettingzoo.make still imports tictactoe_v3 through its deprecated module alias.
pytestmark = pytest.mark.filterwarnings("ignore:The old environment creation API")

GAMES = 1000

# pettingzoo's tic-tac-toe numbers cells column by column (0 3 6 / 1 4 7 / 2 5 8) and its
# observation is indexed [col, row]; ours is row by row and [row, col]. The map is the
# transpose, its own inverse: our action b <-> pettingzoo action PZ_TTT[b].
PZ_TTT = np.array([(b % 3) * 3 + b // 3 for b in range(9)])


def agree(game: Game, env, to_pz: np.ndarray, obs_from_pz, seed: int) -> None:
    """Play ``GAMES`` random games in both implementations and compare every step."""
    rng = np.random.default_rng(seed)
    agents = env.possible_agents
    for g in range(GAMES):
        env.reset(seed=g)
        s = game.initial_state()
        steps = 0
        while not game.is_terminal(s):
            agent = env.agent_selection
            assert agents.index(agent) == game.to_play(s)
            assert not any(env.terminations.values()), f"game {g}: pettingzoo ended early"
            pz = env.observe(agent)
            mask = game.legal_mask(s)
            np.testing.assert_array_equal(pz["action_mask"][to_pz].astype(bool), mask)
            np.testing.assert_array_equal(obs_from_pz(pz["observation"]), game.observation(s))
            a = int(rng.choice(np.flatnonzero(mask)))
            env.step(int(to_pz[a]))
            s = game.next_state(s, a)
            steps += 1
        assert all(env.terminations.values()), f"game {g}: pettingzoo goes on after {steps}"
        pz_returns = [env.rewards[agent] for agent in agents]
        np.testing.assert_array_equal(pz_returns, game.returns(s), err_msg=f"game {g}")


def test_connect_four_agrees_with_connect_four_v3() -> None:
    env = pettingzoo.make("aec", "classic/connect_four-v3")  # the wrapped connect_four_v3
    agree(ConnectFour(), env, np.arange(7), lambda o: o, seed=0)


def test_tictactoe_agrees_with_tictactoe_v3() -> None:
    from pettingzoo.classic import tictactoe_v3

    agree(TicTacToe(), tictactoe_v3.raw_env(), PZ_TTT, lambda o: o.transpose(1, 0, 2), seed=1)
