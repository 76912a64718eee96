"""AlphaZeroAgent: acting on native and PettingZoo envs, batching, analysis, checkpoints."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import az_gym
from az_gym.agents.alphazero import AlphaZeroAgent, Analysis
from az_gym.envs.tictactoe import TicTacToe
from az_gym.mcts import MctsParams
from az_gym.networks import NetworkConfig, PolicyValueNet
from az_gym.schedules import StepSchedule

torch.set_num_threads(1)

HAS_ADAPTER = importlib.util.find_spec("az_gym.envs.adapter") is not None
HAS_C4 = importlib.util.find_spec("az_gym.envs.connect_four") is not None
needs_adapter = pytest.mark.skipif(not HAS_ADAPTER, reason="az_gym.envs.adapter not written yet")

TINY_MLP = NetworkConfig(kind="mlp", hidden=(16,), value_hidden=8)
TINY_RES = NetworkConfig(num_blocks=1, num_filters=8, value_hidden=8)
FEW = MctsParams(num_iters_per_turn=8)


def play(game, moves):
    s = game.initial_state()
    for a in moves:
        s = game.step(s, a)
    return s


def test_finds_win_in_one_and_blocks_with_untrained_net() -> None:
    g = TicTacToe()
    agent = AlphaZeroAgent(g, TINY_MLP, MctsParams(num_iters_per_turn=300), seed=0)
    assert agent.act_state(g, play(g, [0, 3, 1, 4])) == 2  # win
    agent.reset()
    assert agent.act_state(g, play(g, [0, 4, 1])) == 2  # block


def test_act_states_batched_and_legal() -> None:
    g = TicTacToe()
    rng = np.random.default_rng(0)
    states = []
    for _ in range(20):
        s = g.initial_state()
        for _ in range(int(rng.integers(0, 6))):
            s = g.next_state(s, int(rng.choice(np.flatnonzero(g.legal_mask(s)))))
        if not g.is_terminal(s):
            states.append(s)
    agent = AlphaZeroAgent(g, TINY_MLP, FEW, seed=1, add_noise=True, temperature=1.0)
    actions = agent.act_states(g, states)
    assert len(actions) == len(states)
    assert all(g.legal_mask(s)[a] for s, a in zip(states, actions))


def test_same_seed_same_moves() -> None:
    g = TicTacToe()
    moves = []
    for seed in (3, 3):
        agent = AlphaZeroAgent(g, TINY_MLP, FEW, seed=seed, add_noise=True, temperature=1.0)
        moves.append([agent.act_state(g, play(g, m)) for m in ([], [4], [0, 4])])
    assert moves[0] == moves[1]


def test_temperature_rule_and_tree_reuse() -> None:
    g = TicTacToe()
    sched = StepSchedule(1.0, (1,), (0.0,))
    params = MctsParams(num_iters_per_turn=30, temperature=sched)
    agent = AlphaZeroAgent(g, TINY_MLP, params)
    s = g.initial_state()
    assert agent._tau(g, s) == 0.0  # default: the most visited move
    scheduled = AlphaZeroAgent(g, TINY_MLP, params, temperature="schedule")
    assert scheduled._tau(g, s) == 1.0 and scheduled._tau(g, g.next_state(s, 4)) == 0.0
    with pytest.raises(ValueError, match="temperature"):
        AlphaZeroAgent(g, TINY_MLP, params, temperature=-1.0)
    a = agent.act_state(g, s)
    res = agent._mcts.search([g.next_state(s, a)], num_simulations=0)
    assert res.visits.sum() > 0  # the played move's subtree was kept


def test_native_env_and_no_mutation() -> None:
    from az_gym.envs.registry import make

    env = make("tictactoe")
    env.reset(seed=0)
    agent = AlphaZeroAgent(env, TINY_MLP, FEW, seed=0)
    before = env.unwrapped.state
    a = agent.act(env)
    assert env.unwrapped.state == before and 0 <= a < 9


def test_analysis_table() -> None:
    g = TicTacToe()
    agent = AlphaZeroAgent(g, TINY_MLP, MctsParams(num_iters_per_turn=50), seed=0)
    an = agent.analyse((g, play(g, [0, 4])))
    assert isinstance(an, Analysis) and an.visits.sum() == 50
    np.testing.assert_allclose(an.policy.sum(), 1.0)
    text = str(an)
    assert "c3" in text and "visits" in text and "network value" in text
    assert "b2" not in text.split("prior")[1]  # an occupied cell is not listed


def test_save_load_round_trip(tmp_path: Path) -> None:
    g = TicTacToe()
    params = MctsParams(num_iters_per_turn=20, temperature=StepSchedule(1.0, (4,), (0.0,)))
    agent = AlphaZeroAgent(g, TINY_MLP, params, seed=5)
    path = tmp_path / "a.pt"
    agent.save(path)
    for loaded in (AlphaZeroAgent.load(path), AlphaZeroAgent.load(path, g, seed=5)):
        assert loaded.params == params
        assert loaded.network.config == TINY_MLP
        for k, v in agent.network.state_dict().items():
            assert torch.equal(v, loaded.network.state_dict()[k])
    s = play(g, [0])
    again = AlphaZeroAgent.load(path, g, seed=5)
    assert again.analyse((g, s)).visits.tolist() == agent.analyse((g, s)).visits.tolist()


def test_wrong_game_is_refused(tmp_path: Path) -> None:
    if not HAS_C4:
        pytest.skip("connect_four not written yet")
    from az_gym.envs.connect_four import ConnectFour

    path = tmp_path / "ttt.pt"
    AlphaZeroAgent(TicTacToe(), TINY_MLP, FEW).save(path)
    with pytest.raises(ValueError, match=r"'tictactoe'.*'connect_four'"):
        AlphaZeroAgent.load(path, ConnectFour())
    agent = AlphaZeroAgent(TicTacToe(), TINY_MLP, FEW)
    with pytest.raises(ValueError, match="connect_four"):
        agent.act_state(ConnectFour(), ConnectFour().initial_state())


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_malicious_pickle_is_refused_without_running(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    payload = {"format": "az_gym.alphazero/1", "weights": _Evil(str(marker))}
    if writer == "torch":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    with pytest.raises(ValueError, match="not a safe az_gym checkpoint"):
        AlphaZeroAgent.load(path, TicTacToe())
    assert not marker.exists()


def test_corrupt_and_foreign_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.pt"
    AlphaZeroAgent(TicTacToe(), TINY_MLP, FEW).save(path)
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        AlphaZeroAgent.load(tmp_path / "cut.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError):
        AlphaZeroAgent.load(tmp_path / "junk.pt")
    torch.save({"weights": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an az_gym AlphaZero checkpoint"):
        AlphaZeroAgent.load(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        AlphaZeroAgent.load(tmp_path / "missing.pt")


def test_flipped_bytes_in_an_agent_file_are_refused(tmp_path: Path) -> None:
    """AlphaZeroAgent.load uses the trainer's loader (one checkpoint module): weights with
    a flipped byte fail their CRC-32 instead of loading as other numbers."""
    path = tmp_path / "a.pt"
    agent = AlphaZeroAgent(TicTacToe(), TINY_MLP, FEW, seed=0)
    agent.save(path)
    data = bytearray(path.read_bytes())
    weight = next(iter(agent.network.state_dict().values())).numpy().tobytes()
    at = bytes(data).index(weight)
    data[at + 2] ^= 0xFF
    (tmp_path / "flipped.pt").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="CRC-32"):
        AlphaZeroAgent.load(tmp_path / "flipped.pt")


def test_network_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="tictactoe"):
        AlphaZeroAgent(TicTacToe(), PolicyValueNet((6, 7, 2), 7, TINY_RES))


def _play_pettingzoo(env, agent: AlphaZeroAgent, max_moves: int) -> int:
    env.reset(seed=0)
    moves = 0
    for name in env.agent_iter():
        _, _, term, trunc, _ = env.last()
        if term or trunc:
            env.step(None)
            continue
        mask = env.observe(name)["action_mask"]
        a = agent.act(env)
        assert mask[a] == 1
        env.step(a)
        moves += 1
        if moves >= max_moves:
            break
    return moves


@needs_adapter
def test_plays_full_pettingzoo_connect_four() -> None:
    from pettingzoo.classic import connect_four_v3

    env = connect_four_v3.env()
    agent = AlphaZeroAgent(env, TINY_RES, FEW, seed=0, temperature=1.0)
    moves = _play_pettingzoo(env, agent, 42)
    assert 7 <= moves <= 42
    assert all(env.terminations.values()) or moves == 42


@needs_adapter
def test_plays_pettingzoo_go_9x9() -> None:
    from pettingzoo.classic import go_v5

    env = go_v5.env(board_size=9)
    agent = AlphaZeroAgent(env, TINY_RES, FEW, seed=0, temperature=1.0)
    assert agent.game.num_actions == 82
    moves = _play_pettingzoo(env, agent, 30)  # a full 9x9 game is long; 30 plies suffice
    assert moves == 30


@needs_adapter
def test_plays_pettingzoo_chess() -> None:
    """The README names chess among the ``pettingzoo.classic`` games the core plays."""
    pytest.importorskip("chess")
    from pettingzoo.classic import chess_v6

    env = chess_v6.env()
    agent = AlphaZeroAgent(env, TINY_RES, FEW, seed=0, temperature=1.0)
    assert agent.game.num_actions == 4672
    assert _play_pettingzoo(env, agent, 12) == 12


def test_reseed_replays_or_varies_the_game() -> None:
    from az_gym.evaluation import play_game

    g = TicTacToe()
    agents = [AlphaZeroAgent(g, TINY_MLP, FEW, seed=0, add_noise=True, temperature=1.0)
              for _ in range(2)]  # fmt: skip
    games = {seed: [play_game(g, agents, seed=seed).moves for _ in range(2)] for seed in (1, 2)}
    assert games[1][0] == games[1][1] and games[2][0] == games[2][1]  # same seed: same game
    assert games[1][0] != games[2][0]  # another seed: another game
    # Directly: the stream restarts, trees included (noise draws depend on both).
    agent = agents[0]
    runs = []
    for seed in (5, 5, 6):
        agent.reseed(seed)
        runs.append([agent.act_state(g, play(g, m)) for m in ([], [], [4], [0, 4])])
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_with_simulations_shares_the_network() -> None:
    g = TicTacToe()
    agent = AlphaZeroAgent(g, TINY_MLP, FEW, seed=0, temperature=0.5)
    strong = agent.with_simulations(40)
    assert strong.network is agent.network and strong.params.num_iters_per_turn == 40
    assert agent.params.num_iters_per_turn == 8 and strong.temperature == 0.5
    assert strong.params.cpuct == agent.params.cpuct
    obs, masks = g.observations([g.initial_state()]), g.legal_masks([g.initial_state()])
    with torch.no_grad():  # a change to the shared weights is seen by both agents
        next(agent.network.parameters()).add_(0.5)
    np.testing.assert_array_equal(agent.evaluator(obs, masks)[1], strong.evaluator(obs, masks)[1])
    s = g.initial_state()
    strong.act_state(g, s)
    assert strong._mcts.search([s], num_simulations=0).visits.sum() == 40
    with pytest.raises(ValueError, match="with_simulations: n=0 must be an integer >= 1"):
        agent.with_simulations(0)


def test_export_onnx_matches_torch(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    from onnx.reference import ReferenceEvaluator

    g = TicTacToe()
    agent = AlphaZeroAgent(g, TINY_RES, FEW, seed=0)
    path = tmp_path / "net.onnx"
    agent.export_onnx(path)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
            for i in model.graph.input}  # fmt: skip
    assert dims == {"obs": ["batch", 3, 3, 2], "mask": ["batch", 9]}
    rng = np.random.default_rng(0)
    states = [play(g, rng.permutation(9)[: int(k)].tolist()) for k in (0, 1, 2, 3, 4)]
    obs, masks = g.observations(states), g.legal_masks(states)  # batch 5, not the dummy's 2
    policy, value = ReferenceEvaluator(model).run(None, {"obs": obs, "mask": masks})
    with torch.no_grad():
        out = agent.network.eval()(torch.from_numpy(obs), torch.from_numpy(masks))
    np.testing.assert_allclose(policy, out.log_probs.exp().numpy(), atol=1e-5)
    np.testing.assert_allclose(value, out.value.numpy(), atol=1e-5)
    assert np.all(policy[~masks] == 0)


def test_export_onnx_with_symmetry_averaging_computes_what_the_search_evaluates(
    tmp_path: Path,
) -> None:
    # ':sym' once left the ONNX file holding the network alone, so the exported model
    # answered otherwise than the agent's search evaluated.
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    from onnx.reference import ReferenceEvaluator

    from az_gym.evaluators import SymmetryAveragedEvaluator
    from az_gym.inference import eager_forward

    g = TicTacToe()
    agent = AlphaZeroAgent(g, TINY_RES, dataclasses.replace(FEW, symmetry_averaging=True), seed=0)
    agent.export_onnx(tmp_path / "sym.onnx")
    agent.export_onnx(tmp_path / "plain.onnx", symmetry_averaging=False)
    rng = np.random.default_rng(0)
    states = [play(g, rng.permutation(9)[: int(k)].tolist()) for k in (0, 1, 2, 3, 4)]
    obs, masks = g.observations(states), g.legal_masks(states)
    run = {n: ReferenceEvaluator(onnx.load(str(tmp_path / f"{n}.onnx"))) for n in ("sym", "plain")}
    policy, value = run["sym"].run(None, {"obs": obs, "mask": masks})
    want_p, want_v = SymmetryAveragedEvaluator(
        eager_forward(agent.network, torch.device("cpu")), g
    )(obs, masks)
    np.testing.assert_allclose(policy, want_p, atol=1e-5)
    np.testing.assert_allclose(value, want_v, atol=1e-5)
    plain_p, _ = run["plain"].run(None, {"obs": obs, "mask": masks})
    assert np.abs(plain_p - policy).max() > 1e-3  # an untrained net is far from equivariant
    rot = g.symmetries()[1]  # the images of a position get the same value, permuted priors
    p_rot, v_rot = run["sym"].run(None, {"obs": rot.transform_observation(obs),
                                         "mask": masks[:, rot.sigma]})  # fmt: skip
    np.testing.assert_allclose(v_rot, value, atol=1e-5)
    np.testing.assert_allclose(p_rot, policy[:, rot.sigma], atol=1e-5)


def test_symmetry_gathers_refuse_a_transform_that_changes_values() -> None:
    from az_gym.game import Symmetry
    from az_gym.inference import symmetry_gathers

    g = TicTacToe()
    ident = g.symmetries()[0]
    assert np.array_equal(symmetry_gathers([ident], g.observation_shape)[0], np.arange(18))
    negate = Symmetry("negate", np.arange(9), lambda o: -o)
    with pytest.raises(ValueError, match="symmetry 'negate' does not move observation entries"):
        symmetry_gathers([ident, negate], g.observation_shape)


def test_export_onnx_without_onnx_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the package were not installed
    agent = AlphaZeroAgent(TicTacToe(), TINY_MLP, FEW, seed=0)
    with pytest.raises(ImportError, match=r"pip install az-gym\[onnx\]"):
        agent.export_onnx(tmp_path / "net.onnx")
    assert not (tmp_path / "net.onnx").exists()


def test_built_from_envs_that_were_never_reset() -> None:
    # The agent needs the rules only; before the fix a native env raised "reset() needs to
    # be called before state."
    import gymnasium
    from pettingzoo.classic import tictactoe_v3
    from pettingzoo.utils.wrappers import OrderEnforcingWrapper

    import az_gym

    native = az_gym.make("tictactoe")
    for env in (native, OrderEnforcingWrapper(az_gym.make("tictactoe")), tictactoe_v3.env(),
                gymnasium.make("az_gym/TicTacToe-v0")):  # fmt: skip
        agent = AlphaZeroAgent(env, TINY_MLP, FEW, seed=0)
        assert agent.game.num_actions == 9
    agent = AlphaZeroAgent(native, TINY_MLP, FEW, seed=0)
    with pytest.raises(AssertionError, match="reset"):  # acting still needs a position
        agent.act(native)
    native.reset()
    assert native.game.legal_mask(native.state)[agent.act(native)]
    classic = tictactoe_v3.env()
    agent = AlphaZeroAgent(classic, TINY_MLP, FEW, seed=0)
    with pytest.raises(AssertionError, match="reset"):
        agent.act(classic)
    classic.reset(seed=0)
    assert classic.observe(classic.agent_selection)["action_mask"][agent.act(classic)]


def test_load_onto_an_env_that_was_never_reset(tmp_path: Path) -> None:
    import az_gym

    path = tmp_path / "ttt.pt"
    AlphaZeroAgent(TicTacToe(), TINY_MLP, FEW).save(path)
    assert AlphaZeroAgent.load(path, az_gym.make("tictactoe")).game.game_id == "tictactoe"


def test_simulations_keyword_sets_the_budget_and_keeps_the_rest() -> None:
    """``AlphaZeroAgent(env, simulations=n)``, as ``az_gym.pretrained(..., simulations=n)``
    takes it (once a TypeError), replaces ``num_iters_per_turn`` only."""
    g = TicTacToe()
    mcts = MctsParams(num_iters_per_turn=50, cpuct=1.5)
    agent = AlphaZeroAgent(g, TINY_MLP, mcts, simulations=7, seed=0)
    assert agent.params.num_iters_per_turn == 7 and agent.params.cpuct == 1.5
    assert agent.analyse((g, g.initial_state())).visits.sum() == 7
    assert AlphaZeroAgent(g, TINY_MLP, mcts).params.num_iters_per_turn == 50
    for bad in (0, -3, 2.5, True, "10"):
        with pytest.raises(ValueError, match=r"^simulations=.* must be an integer >= 1"):
            AlphaZeroAgent(g, TINY_MLP, simulations=bad)


def test_repr_says_what_the_agent_searches():
    import az_gym

    agent = az_gym.pretrained("tictactoe", simulations=40, symmetry_averaging=True)
    text = repr(agent)  # it was "<AlphaZeroAgent alphazero>" whatever the agent
    assert text.startswith("<AlphaZeroAgent tictactoe: PUCT 40 simulations, symmetry-averaged")


def test_save_refuses_a_directory_and_makes_parents(tmp_path: Path) -> None:
    # save("/tmp") once raised torch's "[enforce fail at inline_container.cc] ... open
    # file failed"; a missing folder raised "Parent directory ... does not exist".
    from az_gym.agents import DQNAgent

    agent = AlphaZeroAgent(az_gym.make_game("tictactoe"), simulations=4)
    with pytest.raises(IsADirectoryError, match="is a directory; give a file name"):
        agent.save(tmp_path)
    with pytest.raises(ValueError, match=r"^path '': give a file name"):  # it said '.'
        agent.save("")
    agent.save(tmp_path / "new" / "folder" / "agent.pt")
    assert AlphaZeroAgent.load(tmp_path / "new" / "folder" / "agent.pt").game.name == "tictactoe"
    dqn = DQNAgent(az_gym.make("tictactoe"))
    with pytest.raises(IsADirectoryError):
        dqn.save(tmp_path)
    dqn.save(tmp_path / "dqn" / "agent.pt")
    assert DQNAgent.load(tmp_path / "dqn" / "agent.pt").num_actions == 9
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["agent.pt", "agent.pt"]


def test_pretrained_names_simulations_as_written() -> None:
    with pytest.raises(ValueError, match=r"^simulations=0 must be an integer >= 1$"):
        az_gym.pretrained("tictactoe", simulations=0)
