"""Known-answer tests of the MCTS solver (``MctsParams.solver``), uniform evaluator only.

Positions are scripted move lists; boards are drawn in comments (tic-tac-toe cells are
``r * 3 + c``, Connect Four actions are columns 0-6, ``X`` moves first). Every proof is
checked against plain minimax over the game contract (no code shared with the search).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import NamedTuple

import numpy as np
import pytest

from az_gym.envs.connect_four import ConnectFour
from az_gym.envs.othello import Othello
from az_gym.envs.tictactoe import TicTacToe
from az_gym.evaluators import UniformEvaluator
from az_gym.game import Game, State
from az_gym.mcts import BatchedMcts, MctsParams, SearchResult
from az_gym.schedules import ConstSchedule

BACKENDS = ["numba", "numpy"]


def play(game: Game, moves: list[int]) -> State:
    s = game.initial_state()
    for a in moves:
        s = game.step(s, a)
    return s


def minimax(game: Game, state: State, memo: dict | None = None) -> float:
    """The game-theoretic value of ``state`` for its mover (passes: the child's mover is
    compared with the parent's, never assumed to alternate)."""
    memo = {} if memo is None else memo
    key = game.key(state)
    if key in memo:
        return memo[key]
    mover = game.to_play(state)
    best = -np.inf
    for a in game.legal_actions(state):
        child = game.next_state(state, a)
        if game.is_terminal(child):
            v = float(game.returns(child)[mover])
        else:
            v = minimax(game, child, memo)
            v = v if game.to_play(child) == mover else -v
        best = max(best, v)
    memo[key] = best
    return best


def child_values(game: Game, state: State) -> dict[int, float]:
    """``{action: minimax value of the child for the state's mover}``."""
    mover, out = game.to_play(state), {}
    for a in game.legal_actions(state):
        child = game.next_state(state, a)
        if game.is_terminal(child):
            out[a] = float(game.returns(child)[mover])
        else:
            v = minimax(game, child)
            out[a] = v if game.to_play(child) == mover else -v
    return out


def solve(game: Game, states: list[State], sims: int, backend: str = "numba") -> SearchResult:
    params = MctsParams(num_iters_per_turn=sims, solver=True)
    mcts = BatchedMcts(game, UniformEvaluator(), params, backend=backend)
    return mcts.search(states)


def check_proofs(game: Game, state: State, r: SearchResult, i: int = 0) -> None:
    """Every value the search proved at root ``i`` is the minimax value."""
    truth = child_values(game, state)
    if not np.isnan(r.proven_value[i]):
        assert r.proven_value[i] == minimax(game, state)
        assert r.root_value[i] == r.proven_value[i]
    for a, v in truth.items():
        if not np.isnan(r.proven_q[i, a]):
            assert r.proven_q[i, a] == v, (a, r.proven_q[i, a], v)


# ------------------------------------------------------------------- tic-tac-toe
TTT = TicTacToe()


@pytest.mark.parametrize("backend", BACKENDS)
def test_tictactoe_win_in_one_is_proven_at_once(backend: str) -> None:
    # X X .      X to move: 2 wins at once
    # O O .
    # . . .
    state = play(TTT, [0, 3, 1, 4])
    r = solve(TTT, [state], 400, backend)
    assert r.proven_value[0] == 1.0
    assert r.choices[0].tolist() == [a == 2 for a in range(9)]
    assert r.simulations[0] <= 5 < 400  # at most one visit per legal move
    check_proofs(TTT, state, r)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tictactoe_forced_win_in_three(backend: str) -> None:
    # X O .      X to move: 3 or 6 make two threats at once (a win in 3 plies);
    # . X .      2, 5 and 7 only draw
    # . . O
    state = play(TTT, [0, 1, 4, 8])
    r = solve(TTT, [state], 3000, backend)
    assert r.proven_value[0] == 1.0
    assert r.simulations[0] < 3000
    won = [a for a, v in child_values(TTT, state).items() if v == 1.0]
    assert set(won) == {3, 6}
    assert set(np.flatnonzero(r.choices[0]).tolist()) <= set(won)
    check_proofs(TTT, state, r)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tictactoe_only_defence(backend: str) -> None:
    # X X .      O to move must block at 2; every other move loses at once
    # . O .
    # . . .
    state = play(TTT, [0, 4, 1])
    r = solve(TTT, [state], 3000, backend)
    assert r.proven_value[0] == 0.0  # the block holds the draw
    assert np.flatnonzero(r.choices[0]).tolist() == [2]
    others = [a for a in TTT.legal_actions(state) if a != 2]
    assert (r.proven_q[0, others] == -1.0).all()
    check_proofs(TTT, state, r)


def test_tictactoe_proofs_are_minimax_values_on_random_positions() -> None:
    rng = np.random.default_rng(3)
    states = []
    while len(states) < 12:
        s = TTT.initial_state()
        for _ in range(int(rng.integers(2, 6))):
            s = TTT.next_state(s, int(rng.choice(TTT.legal_actions(s))))
            if TTT.is_terminal(s):
                break
        if not TTT.is_terminal(s):
            states.append(s)
    r = solve(TTT, states, 4000)
    assert not np.isnan(r.proven_value).any()  # small trees: every root solved
    for i, s in enumerate(states):
        check_proofs(TTT, s, r, i)


# ------------------------------------------------------------------ Connect Four
C4 = ConnectFour()


@pytest.mark.parametrize("backend", BACKENDS)
def test_connect_four_win_in_one(backend: str) -> None:
    # X . . . . . .      X to move: column 0 makes four
    # X O . . . . .
    # X O O . . . .
    state = play(C4, [0, 1, 0, 1, 0, 2])
    r = solve(C4, [state], 500, backend)
    assert r.proven_value[0] == 1.0
    assert np.flatnonzero(r.choices[0]).tolist() == [0]
    assert r.simulations[0] <= 7


@pytest.mark.parametrize("backend", BACKENDS)
def test_connect_four_only_defence(backend: str) -> None:
    # X . . . . . .      O to move must block column 0; each other move lets X win
    # X O . . . . .
    # X O . . . . .
    state = play(C4, [0, 1, 0, 1, 0])
    r = solve(C4, [state], 200, backend)
    assert np.isnan(r.proven_value[0])  # too deep to prove with 200 simulations
    assert np.flatnonzero(r.choices[0]).tolist() == [0]
    assert (r.proven_q[0, 1:] == -1.0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_connect_four_double_threat_is_a_win_in_three(backend: str) -> None:
    # . O O . . . .      X to move: 3 makes . X X X . on the bottom row, two threats
    # . X X . . . .
    state = play(C4, [1, 1, 2, 2])
    r = solve(C4, [state], 3000, backend)
    assert r.proven_value[0] == 1.0
    assert r.simulations[0] < 3000
    assert np.flatnonzero(r.choices[0]).tolist() == [3]
    assert -_c4_value_shallow(C4.next_state(state, 3), 1) == 1.0  # O loses whatever it does


def _c4_value_shallow(state: State, depth: int) -> float:
    """Minimax to ``depth`` plies (0 for an unknown leaf): exact where it says +-1."""
    if C4.is_terminal(state):
        raise AssertionError("not called on terminal states")
    mover, best = C4.to_play(state), -np.inf
    for a in C4.legal_actions(state):
        child = C4.next_state(state, a)
        if C4.is_terminal(child):
            v = float(C4.returns(child)[mover])
        elif depth == 0:
            v = 0.0
        else:
            v = -_c4_value_shallow(child, depth - 1)
        best = max(best, v)
    return best


# ------------------------------------------------------------------- both backends
def test_backends_agree_bit_for_bit_with_the_solver() -> None:
    states = [
        play(TTT, [0, 4, 1]),
        play(TTT, [0, 1, 4, 8]),
        play(TTT, [4]),
        play(TTT, [0, 3, 1, 4]),
    ]
    out = [solve(TTT, states, 700, b) for b in BACKENDS]
    for f in ("visits", "root_value", "q", "simulations", "proven_value", "proven_q", "choices"):
        np.testing.assert_array_equal(getattr(out[0], f), getattr(out[1], f), err_msg=f)
    c4 = [play(C4, [1, 1, 2, 2]), play(C4, [0, 1, 0, 1, 0]), play(C4, [3, 3, 4])]
    out = [solve(C4, c4, 600, b) for b in BACKENDS]
    for f in ("visits", "root_value", "q", "simulations", "proven_value", "proven_q", "choices"):
        np.testing.assert_array_equal(getattr(out[0], f), getattr(out[1], f), err_msg=f)


# ------------------------------------------------------------------------ Othello
def test_othello_endgames_are_solved_exactly() -> None:
    # Random 6x6 games played to 5 empty squares (Othello's pass is an explicit move).
    game = Othello(size=6)
    rng = np.random.default_rng(0)
    states = []
    while len(states) < 4:
        s = game.initial_state()
        while not game.is_terminal(s) and bin(s.mine | s.theirs).count("1") < 31:
            s = game.next_state(s, int(rng.choice(game.legal_actions(s))))
        if not game.is_terminal(s):
            states.append(s)
    for backend in BACKENDS:
        r = solve(game, states, 1500, backend)
        assert not np.isnan(r.proven_value).any()
        for i, s in enumerate(states):
            check_proofs(game, s, r, i)


# ------------------------------------------------------------- early stop, reuse
def test_proven_root_stops_early_and_reuse_keeps_the_proof() -> None:
    state = play(C4, [0, 1, 0, 1, 0, 2])  # X wins in 1 (column 0)
    mcts = BatchedMcts(C4, UniformEvaluator(), MctsParams(num_iters_per_turn=300, solver=True))
    other = play(C4, [3])  # unproven: searches its whole budget in the same batch
    r = mcts.search([state, other])
    assert r.simulations.tolist()[1] == 300 and r.simulations[0] < 10
    assert r.visits[0].sum() == r.simulations[0] and r.visits[1].sum() == 300
    again = mcts.search([state, other])  # re-rooted at the same, proven, node
    assert again.reused.all() and again.simulations[0] == 0
    assert again.proven_value[0] == 1.0
    plain = BatchedMcts(C4, UniformEvaluator(), MctsParams(num_iters_per_turn=300))
    r0 = plain.search([state])
    assert r0.simulations[0] == 300 and r0.proven_value is None and r0.choices is None


# ------------------------------------------------------------------- bad input
class NimState(NamedTuple):
    left: int
    mover: int
    last: int  # who took last, -1 at the start


class Nim(Game):
    """Take 1 or 2 from a pile; who takes the last one wins. ``double``: taking 2 from an
    even pile earns another move (a double move: the child's mover is the parent's). Other
    options make it a game the solver must refuse: ``players`` (1-3), ``chance``,
    ``payoff`` (the winner's and the others' returns)."""

    name = "nim"
    num_actions = 2
    observation_shape = (1,)

    def __init__(
        self, players: int = 2, pile: int = 7, chance: bool = False, payoff=(1.0, -1.0),
        double: bool = False,
    ) -> None:  # fmt: skip
        self.num_players, self.pile, self.chance, self.payoff = players, pile, chance, payoff
        self.double = double

    def initial_state(self) -> NimState:
        return NimState(self.pile, 0, -1)

    def to_play(self, state: NimState) -> int:
        return state.mover

    def legal_mask(self, state: NimState) -> np.ndarray:
        return np.array([state.left >= 1, state.left >= 2])

    def next_state(self, state: NimState, action: int) -> NimState:
        again = self.double and action == 1 and state.left % 2 == 0
        mover = state.mover if again else (state.mover + 1) % self.num_players
        return NimState(state.left - action - 1, mover, state.mover)

    def is_terminal(self, state: NimState) -> bool:
        return state.left == 0

    def returns(self, state: NimState) -> np.ndarray:
        if not self.is_terminal(state):
            return np.zeros(self.num_players)
        out = np.full(self.num_players, self.payoff[1])
        out[state.last] = self.payoff[0]
        return out

    def observation(self, state: NimState, player: int | None = None) -> np.ndarray:
        return np.array([state.left], np.float32)

    def key(self, state: NimState) -> Hashable:
        return state

    def render(self, state: NimState) -> str:
        return str(state.left)

    def action_to_string(self, action: int) -> str:
        return str(action + 1)


def test_nim_known_answer() -> None:
    # The mover loses exactly when the pile is a multiple of 3.
    for pile in range(1, 10):
        r = solve(Nim(pile=pile), [Nim(pile=pile).initial_state()], 500)
        assert r.proven_value[0] == (-1.0 if pile % 3 == 0 else 1.0), pile


@pytest.mark.parametrize("backend", BACKENDS)
def test_double_moves_are_backed_up_from_each_nodes_own_mover(backend: str) -> None:
    # With double moves the winner is not the pile's residue mod 3 any more; the proofs
    # must still be the minimax values (which compare movers, never alternate signs).
    games = [Nim(pile=p, double=True) for p in range(1, 13)]
    values = [minimax(g, g.initial_state()) for g in games]
    assert sorted(set(values)) == [-1.0, 1.0]
    for g, v in zip(games, values):
        r = solve(g, [g.initial_state()], 800, backend)
        assert r.proven_value[0] == v
        check_proofs(g, g.initial_state(), r)


def test_solver_refuses_games_it_cannot_prove() -> None:
    params = MctsParams(num_iters_per_turn=50, solver=True)
    with pytest.raises(ValueError, match="nim has 3 players; the solver proves games of one"):
        BatchedMcts(Nim(players=3), UniformEvaluator(), params)
    with pytest.raises(ValueError, match=r"nim has chance events \(Game.chance\)"):
        BatchedMcts(Nim(chance=True), UniformEvaluator(), params)
    mcts = BatchedMcts(Nim(payoff=(1.0, 1.0)), UniformEvaluator(), params)
    with pytest.raises(ValueError, match=r"returns \[.*\] at a terminal state, which is not zero"):
        mcts.search([Nim(payoff=(1.0, 1.0)).initial_state()])
    mcts = BatchedMcts(Nim(payoff=(2.0, -2.0)), UniformEvaluator(), params)
    with pytest.raises(ValueError, match=r"the solver needs returns in \[-1, 1\]"):
        mcts.search([Nim(payoff=(2.0, -2.0)).initial_state()])
    # Without the solver the same games still search.
    plain = MctsParams(num_iters_per_turn=50)
    for g in (Nim(players=3), Nim(chance=True), Nim(payoff=(1.0, 1.0))):
        BatchedMcts(g, UniformEvaluator(), plain).search([g.initial_state()])


def test_solver_params_are_validated_and_round_trip() -> None:
    with pytest.raises(ValueError, match=r"MctsParams.solver = 'yes'; must be True or False"):
        MctsParams(solver="yes")
    with pytest.raises(ValueError, match=r"MctsParams.gamma = 0.9; must be 1 with solver = True"):
        MctsParams(solver=True, gamma=0.9)
    p = MctsParams(solver=True, temperature=ConstSchedule(0.5))
    assert MctsParams.from_dict(p.to_dict()) == p
    d = MctsParams().to_dict()
    del d["solver"]  # files written before the field existed
    assert MctsParams.from_dict(d).solver is False


def test_one_player_games_get_plain_terminal_proofs() -> None:
    game = Nim(players=1, pile=4, payoff=(1.0, 0.0))
    r = solve(game, [game.initial_state()], 200)
    assert np.isnan(r.proven_value[0])  # nothing is backed up in a one-player game
    assert r.simulations[0] == 200


# ------------------------------------------------------------- agent, self-play
def _agent(sims: int, seed: int, solver: bool = True, temperature: float = 1.0):
    import torch

    from az_gym.agents.alphazero import AlphaZeroAgent
    from az_gym.networks import NetworkConfig

    torch.set_num_threads(1)
    params = MctsParams(num_iters_per_turn=sims, solver=solver)
    cfg = NetworkConfig(kind="mlp", hidden=(16,))
    return AlphaZeroAgent(C4, cfg, params, seed=seed, temperature=temperature)


def test_agent_plays_a_proven_win_and_avoids_proven_losses() -> None:
    # At temperature 1 an untrained network's search spreads its visits; the solver's
    # agent still always takes the win in one and always blocks.
    win = play(C4, [0, 1, 0, 1, 0, 2])  # X wins with column 0
    block = play(C4, [0, 1, 0, 1, 0])  # O must block column 0
    for seed in range(4):
        agent = _agent(60, seed)
        assert agent.act_states(C4, [win, block]) == [0, 0]
    # The move distribution at temperature 1: the plain search leaves mass on the losing
    # moves (a sampled move may lose), the solver's none.
    from az_gym.mcts import play_policy

    for solver, mass in ((False, True), (True, False)):
        mcts = BatchedMcts(C4, UniformEvaluator(), MctsParams(num_iters_per_turn=60, solver=solver))
        pi = play_policy(mcts.search([block]), np.ones(1))
        assert bool(pi[0, 1:].sum() > 0) is mass


class _Recording:
    """Wraps an MctsPlayer; remembers each searched state with its proven value."""

    def __init__(self, player) -> None:
        self.player, self.seen = player, []

    def decide(self, slots, states, move_numbers):
        d = self.player.decide(slots, states, move_numbers)
        self.seen.extend(zip(states, d.exact.tolist()))
        return d

    def reset(self, slot=None) -> None:
        self.player.reset(slot)


def test_self_play_value_targets_of_proven_positions_are_exact() -> None:
    from az_gym.training.simulation import MctsPlayer, simulate

    # Temperature-1 self-play of tic-tac-toe (uniform evaluator): many positions get
    # proven; their targets are their minimax values, even in games a later
    # exploratory move threw away.
    params = MctsParams(num_iters_per_turn=150, solver=True)
    rng = np.random.default_rng(1)
    rec = _Recording(MctsPlayer(TTT, UniformEvaluator(), params, add_noise=True, rng=rng))
    res = simulate(TTT, [rec], 6, num_concurrent=3, rng=rng)
    targets = {}
    for s, v in rec.seen:
        if not np.isnan(v):
            assert v == minimax(TTT, s)
        targets[TTT.observation(s).tobytes()] = v
    proven = 0
    for obs, z in zip(res.samples.obs, res.samples.value):
        v = targets[obs.tobytes()]
        if not np.isnan(v):
            proven += 1
            assert z == v
    assert proven >= 6


# ------------------------------------------------- with Gumbel roots, leaf parallelism
@pytest.mark.parametrize(
    "options",
    [{"root_policy": "gumbel"}, {"leaves_per_call": 4}],
    ids=["gumbel", "leaf_parallel"],
)
def test_solver_with_gumbel_roots_and_leaf_parallelism(options: dict) -> None:
    states = [play(TTT, [0, 4, 1]), play(TTT, [0, 1, 4, 8]), play(TTT, [0, 3, 1, 4])]
    params = MctsParams(num_iters_per_turn=1500, solver=True, **options)
    out = [
        BatchedMcts(TTT, UniformEvaluator(), params, backend=b, rng=np.random.default_rng(0))
        .search(states, add_noise=True)
        for b in BACKENDS
    ]  # fmt: skip
    for f in ("visits", "root_value", "simulations", "proven_value", "proven_q", "choices"):
        np.testing.assert_array_equal(getattr(out[0], f), getattr(out[1], f), err_msg=f)
    r = out[0]
    assert r.proven_value.tolist() == [0.0, 1.0, 1.0]
    assert (r.simulations < 1500).all()
    for i, s in enumerate(states):
        check_proofs(TTT, s, r, i)
    # The move played (noisy self-play: Gumbel plays its selected action) is allowed.
    from az_gym.mcts import play_policy

    pi = play_policy(r, np.ones(3))
    assert np.array_equal(pi.argmax(1), [2, r.choices[1].argmax(), 2])
    assert (pi[~r.choices] == 0).all()


def test_analysis_shows_the_proofs() -> None:
    agent = _agent(40, 0)
    text = str(agent.analyse((C4, play(C4, [0, 1, 0, 1, 0, 2]))))
    assert "proven: win" in text and "proof" in text
    lines = text.splitlines()
    table = lines[next(i for i, x in enumerate(lines) if "visits" in x) + 1 :]
    assert next(r for r in table if r.split()[0] == "1").split()[-1] == "win"  # column 1 wins
    assert "proof" not in str(_agent(40, 0, solver=False).analyse((C4, C4.initial_state())))


def test_training_params_refuse_the_solver_for_a_game_it_cannot_prove() -> None:
    import dataclasses

    from az_gym.training.params import Params, ParamsError

    p = Params()
    p = dataclasses.replace(
        p, self_play=dataclasses.replace(p.self_play, mcts=MctsParams(solver=True))
    )
    with pytest.raises(
        ParamsError, match=r"Params.self_play.mcts.solver=True: .*nim has 3 players"
    ):
        p.validate_for_game(Nim(players=3))
    with pytest.raises(ParamsError, match=r"solver=True: .*chance events"):
        p.validate_for_game(Nim(chance=True))
    p.validate_for_game(Nim())


@pytest.mark.parametrize("backend", BACKENDS)
def test_proven_subtrees_are_never_searched_again(backend: str) -> None:
    block = play(C4, [0, 1, 0, 1, 0])  # O must block column 0; columns 1-6 lose at once
    params = MctsParams(num_iters_per_turn=200, solver=True)
    mcts = BatchedMcts(C4, UniformEvaluator(), params, backend=backend)
    first = mcts.search([block])
    assert (first.proven_q[0, 1:] == -1.0).all()
    pool, root = mcts._pool, int(mcts._roots[0])
    lost = pool.C[root, 1:].astype(np.int64)
    before = [pool.N[c].copy() for c in lost]
    again = mcts.search([block])  # the same position: the tree is reused
    assert again.reused[0] and again.simulations[0] == 200
    root = int(mcts._roots[0])
    assert again.visits[0, 0] == first.visits[0, 0] + 200  # every new visit went to the block
    for c, n in zip(mcts._pool.C[root, 1:].astype(np.int64), before):
        assert np.array_equal(mcts._pool.N[c], n)
