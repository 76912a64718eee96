"""Baseline agents: legal moves, win-in-one, block-in-one, the network-only and human players."""

from __future__ import annotations

import numpy as np
import pytest

from az_gym.agents import (
    AlphaBetaAgent,
    HumanAgent,
    HumanQuit,
    MctsRolloutAgent,
    NetworkOnlyAgent,
    OneStepLookaheadAgent,
    RandomAgent,
)
from az_gym.envs.registry import make_game
from az_gym.evaluation import play_game
from az_gym.game import GameOverError


def _play(game, actions):
    s = game.initial_state()
    for a in actions:
        s = game.step(s, a)
    return s


# Tic-tac-toe, cells r * 3 + c, row 0 on top.
#   X X .      X to move: 2 wins (and O threatens 5: winning beats blocking)
#   O O .
#   . . .
TTT_WIN = ([0, 3, 1, 4], 2)
#   X . O      X to move: O threatens 6 (2-4-6); X has no win, so X must block 6
#   . O .
#   . . X
TTT_BLOCK = ([0, 4, 8, 2], 6)
# Connect Four, columns 0..6: X stacks three in column 0, O three in column 1.
# X to move wins in column 0 (O would win in column 1 next).
C4_WIN = ([0, 1, 0, 1, 0, 1], 0)
# X holds columns 0, 1, 2 on the bottom row, O two stones in column 6. O must block column 3.
C4_BLOCK = ([0, 6, 1, 6, 2], 3)

SEARCHERS = [
    ("one_step", lambda seed: OneStepLookaheadAgent(seed=seed)),
    ("alphabeta", lambda seed: AlphaBetaAgent(depth=4, seed=seed)),
    ("mcts_rollout", lambda seed: MctsRolloutAgent(num_simulations=400, seed=seed)),
]


@pytest.mark.parametrize("name,make", SEARCHERS, ids=[n for n, _ in SEARCHERS])
@pytest.mark.parametrize(
    "game_name,case",
    [("tictactoe", TTT_WIN), ("tictactoe", TTT_BLOCK), ("connect_four", C4_WIN),
     ("connect_four", C4_BLOCK)],
    ids=["ttt_win", "ttt_block", "c4_win", "c4_block"],
)  # fmt: skip
def test_wins_and_blocks_in_one(name, make, game_name, case):
    game = make_game(game_name)
    actions, expected = case
    state = _play(game, actions)
    for seed in range(3):
        assert make(seed).act_state(game, state) == expected, (name, seed)


@pytest.mark.parametrize("game_name", ["tictactoe", "connect_four", "othello", "gomoku"])
def test_cheap_baselines_play_legal_games(game_name):
    game = make_game(game_name)
    agents = [RandomAgent(seed=1), OneStepLookaheadAgent(seed=2)]
    if game_name in ("tictactoe", "connect_four"):
        agents = [RandomAgent(seed=1), AlphaBetaAgent(depth=2, seed=3)]
    returns, moves = play_game(game, agents, seed=0)  # play_game validates every move
    assert len(moves) > 0
    assert returns.shape == (2,) and returns.sum() == 0


def test_random_agent_is_seeded_and_uniform():
    game = make_game("tictactoe")
    s = game.initial_state()
    a = [RandomAgent(seed=5).act_state(game, s) for _ in range(3)]
    assert len(set(a)) == 1  # same seed, same first move
    agent = RandomAgent(seed=0)
    counts = np.bincount([agent.act_state(game, s) for _ in range(900)], minlength=9)
    assert counts.min() > 60  # ~100 each
    agent.reseed(5)
    assert agent.act_state(game, s) == a[0]
    with pytest.raises(GameOverError):
        agent.act_state(game, _play(game, [0, 3, 1, 4, 2]))


def test_one_step_avoids_giving_a_win():
    # X: a3 b3, O: b2, O to move: every move but c3 (cell 2) lets X win at once.
    game = make_game("tictactoe")
    s = _play(game, [0, 4, 1])
    for seed in range(5):
        assert OneStepLookaheadAgent(seed=seed).act_state(game, s) == 2


def test_rollout_agent_batches_and_resets():
    game = make_game("connect_four")
    states = [_play(game, C4_WIN[0]), _play(game, C4_BLOCK[0])]
    agent = MctsRolloutAgent(num_simulations=300, seed=0)
    assert agent.act_states(game, states) == [0, 3]
    agent.reset()
    with pytest.raises(ValueError, match="num_simulations"):
        MctsRolloutAgent(num_simulations=0)


# --------------------------------------------------------------- network only
def test_network_only_agent_argmax_and_checks():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from az_gym.agents import AlphaZeroAgent
    from az_gym.networks import PolicyValueNet

    game = make_game("tictactoe")
    torch.manual_seed(0)
    net = PolicyValueNet(game.observation_shape, game.num_actions)
    agent = NetworkOnlyAgent(net)
    states = [_play(game, seq) for seq in ([], [4], [0, 4, 8], [0, 3, 1, 4])]
    with torch.no_grad():
        obs = torch.from_numpy(game.observations(states))
        logits = net.eval()(obs).logits.numpy()
    masks = game.legal_masks(states)
    expected = [int(np.argmax(np.where(m, lg, -np.inf))) for m, lg in zip(masks, logits)]
    assert agent.act_states(game, states) == expected
    assert [agent.act_state(game, s) for s in states] == expected
    # temperature > 0 samples only legal moves
    hot = NetworkOnlyAgent(net, temperature=5.0, seed=0)
    picks = [hot.act_state(game, states[2]) for _ in range(50)]
    assert all(masks[2][p] for p in picks) and len(set(picks)) > 1
    # from an AlphaZeroAgent: its network and its game
    az = AlphaZeroAgent(game, seed=0)
    assert NetworkOnlyAgent(az).network is az.network
    with pytest.raises(ValueError, match="connect_four"):
        NetworkOnlyAgent(az).check_game(make_game("connect_four"))
    with pytest.raises(ValueError, match="observations"):
        agent.check_game(make_game("connect_four"))
    with pytest.raises(ValueError, match="temperature"):
        NetworkOnlyAgent(net, temperature=-1.0)


# --------------------------------------------------------------------- human
def _scripted(answers):
    it = iter(answers)
    asked = []

    def input_fn(prompt: str) -> str:
        asked.append(prompt)
        return next(it)

    return input_fn, asked


def test_human_reasks_on_typo_and_illegal_move():
    game = make_game("tictactoe")
    s = _play(game, [4])  # b2 taken
    input_fn, asked = _scripted(["zz9", "b2", "  A3 "])
    shown: list[str] = []
    agent = HumanAgent(input_fn=input_fn, output_fn=shown.append)
    assert agent.act_state(game, s) == 0  # "a3" is cell 0 (top-left)
    assert len(asked) == 3
    assert any("'zz9' is not a legal move" in m for m in shown)
    assert any("'b2' is not a legal move" in m for m in shown)
    assert game.render(s) in shown[0]
    assert "a3" in shown[1]  # legal moves listed by name


def test_human_index_quit_and_max_attempts():
    game = make_game("connect_four")
    s = game.initial_state()
    input_fn, _ = _scripted(["4"])  # names are "1".."7": "4" is column 3
    assert HumanAgent(input_fn, output_fn=lambda m: None).act_state(game, s) == 3
    input_fn, _ = _scripted(["quit"])
    with pytest.raises(KeyboardInterrupt):
        HumanAgent(input_fn, output_fn=lambda m: None).act_state(game, s)
    input_fn, _ = _scripted(["x", "y"])
    with pytest.raises(ValueError, match="max_attempts=2"):
        HumanAgent(input_fn, output_fn=lambda m: None, max_attempts=2).act_state(game, s)
    assert issubclass(HumanQuit, KeyboardInterrupt)


def test_human_enter_alone_asks_again_without_an_error():
    # An empty line once answered "'' is not a legal move here; legal moves: ...".
    game = make_game("tictactoe")
    input_fn, asked = _scripted(["", "  ", "b2"])
    shown: list[str] = []
    agent = HumanAgent(input_fn=input_fn, output_fn=shown.append, max_attempts=1)
    assert agent.act_state(game, game.initial_state()) == 4
    assert len(asked) == 3 and not any("not a legal move" in m for m in shown)


def test_human_many_legal_moves_shows_a_few_and_lists_them_on_request():
    # A 9x9 gomoku turn printed all 81 cells each turn; now their count and a few, and
    # "moves" lists them all without playing anything.
    game = make_game("gomoku")
    input_fn, asked = _scripted(["moves", "?", "zz", "e5"])
    shown: list[str] = []
    agent = HumanAgent(input_fn=input_fn, output_fn=shown.append)
    assert agent.act_state(game, game.initial_state()) == game.string_to_action("e5")
    assert len(asked) == 4
    turn = shown[1]
    assert f"81 of them ({game.action_to_string(0)}, " in turn and "type 'moves'" in turn
    assert len(turn) < 120
    full = [m for m in shown if m.startswith("legal moves: ")]
    assert len(full) == 2 and all(len(m.split(", ")) == 81 for m in full)
    assert any("'zz' is not a legal move" in m and "81 of them" in m for m in shown)
    few = make_game("tictactoe")  # at most 20: all of them, as before
    input_fn, _ = _scripted(["b2"])
    shown = []
    HumanAgent(input_fn=input_fn, output_fn=shown.append).act_state(few, few.initial_state())
    assert len(shown[1].split("legal moves: ")[1].split(", ")) == 9
