"""Lockstep simulation, self-play workers (in-process and spawned) and the arena."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest
import torch

from az_gym.envs.registry import make_game
from az_gym.evaluators import UniformEvaluator
from az_gym.game import State
from az_gym.mcts import MctsParams
from az_gym.networks import NetworkConfig, NetworkEvaluator
from az_gym.schedules import ConstSchedule
from az_gym.training.arena import run_arena
from az_gym.training.params import ArenaParams, SelfPlayParams, SimParams
from az_gym.training.selfplay import (
    GameSpec,
    NetSpec,
    WorkerJob,
    net_weights,
    run_job,
    run_self_play,
    split_games,
)
from az_gym.training.simulation import MctsPlayer, simulate
from az_gym.workers import LocalPool

torch.set_num_threads(1)
TINY = NetworkConfig(kind="mlp", hidden=(16,))


class FirstLegal:
    """A deterministic player: always the lowest legal action (a known-answer opponent)."""

    def __init__(self, game):
        self.game = game
        self.resets: list[int | None] = []

    def decide(self, slots: Sequence[int], states: Sequence[State], move_numbers):
        masks = np.stack([self.game.legal_mask(s) for s in states])
        first = masks.argmax(axis=1)
        pi = np.zeros(masks.shape)
        pi[np.arange(len(states)), first] = 1.0
        return pi, pi

    def reset(self, slot=None):
        self.resets.append(slot)


def test_known_game_returns_and_alternating_colours():
    # X=first-legal vs O=first-legal: X takes 0,2,4,6 and wins on the 2-4-6 diagonal.
    game = make_game("tictactoe")
    a, b = FirstLegal(game), FirstLegal(game)
    rng = np.random.default_rng(0)
    res = simulate(game, [a, b], 4, num_concurrent=3, rng=rng, alternate_colors=True)
    assert res.returns[:, 0].tolist() == [1.0, -1.0, 1.0, -1.0]  # a is X in games 0 and 2
    assert res.returns[:, 1].tolist() == [-1.0, 1.0, -1.0, 1.0]
    assert res.lengths.tolist() == [7, 7, 7, 7]
    s = res.samples
    assert len(s) == 28
    # z for each position's mover: X positions (even moves left from the end... ) win.
    assert s.value[:7].tolist() == [1, -1, 1, -1, 1, -1, 1]
    assert s.moves_left[:7].tolist() == [7, 6, 5, 4, 3, 2, 1]
    assert len(a.resets) == 4  # once per finished game: a new game never reuses a tree


def test_value_targets_are_discounted_by_gamma():
    # AlphaZero.jl's push_trace!: z = gamma^(moves_left - 1) * return of the mover.
    game = make_game("tictactoe")
    res = simulate(game, [FirstLegal(game)], 1, num_concurrent=1,
                   rng=np.random.default_rng(0), gamma=0.5)  # fmt: skip
    s = res.samples
    assert s.moves_left.tolist() == [7, 6, 5, 4, 3, 2, 1]
    expected = [0.5**6, -(0.5**5), 0.5**4, -(0.5**3), 0.5**2, -0.5, 1.0]
    np.testing.assert_allclose(s.value, expected)


def test_flipped_positions_are_recorded_consistently():
    game = make_game("tictactoe")
    player = MctsPlayer(
        game, UniformEvaluator(), MctsParams(num_iters_per_turn=8), add_noise=True,
        rng=np.random.default_rng(1),
    )  # fmt: skip
    res = simulate(game, [player], 6, num_concurrent=4, rng=np.random.default_rng(2),
                   flip_probability=1.0)  # fmt: skip
    s = res.samples
    assert len(s) == int(res.lengths.sum())
    # The mask of each sample is the empty cells of its (flipped) observation ...
    empty = s.obs.sum(axis=-1).reshape(len(s), 9) == 0
    assert np.array_equal(s.mask, empty)
    # ... and the recorded policy lives on those legal cells and sums to one.
    assert np.all(s.policy[~s.mask] == 0)
    np.testing.assert_allclose(s.policy.sum(axis=1), 1.0, rtol=1e-5)
    assert set(np.unique(s.value)) <= {-1.0, 0.0, 1.0}


def test_dropout_net_is_deterministic_during_self_play():
    game = make_game("tictactoe")
    spec = NetSpec(game.observation_shape, game.num_actions,
                   NetworkConfig(kind="mlp", hidden=(32,), dropout=0.5))  # fmt: skip
    trained = spec.build().train()  # a net left in train mode by the learner
    weights = net_weights(trained)
    obs = torch.from_numpy(game.observations([game.initial_state()] * 4))
    assert not torch.equal(trained(obs).value, trained(obs).value)  # dropout is live here
    net = spec.build(weights)
    assert not net.training
    ev = NetworkEvaluator(net)
    o, m = obs.numpy(), game.legal_masks([game.initial_state()] * 4)
    p1, v1 = ev(o, m)
    p2, v2 = ev(o, m)
    assert np.array_equal(p1, p2) and np.array_equal(v1, v2)
    # Whole self-play jobs with the same seed give the same samples.
    job = WorkerJob(game=GameSpec(name="tictactoe"), net=spec, weights=(weights,),
                    mcts=MctsParams(num_iters_per_turn=6), num_games=3, num_concurrent=3,
                    seed=7)  # fmt: skip
    r1, r2 = run_job(job), run_job(job)
    assert np.array_equal(r1.samples.policy, r2.samples.policy)
    assert np.array_equal(r1.samples.value, r2.samples.value)


def test_split_games():
    assert split_games(10, 3) == [4, 3, 3]
    assert split_games(2, 8) == [1, 1]
    assert sum(split_games(101, 7)) == 101


def _tiny_self_play(num_games: int, procs: int) -> SelfPlayParams:
    sim = SimParams(num_games=num_games, num_workers=4, batch_size=2, num_processes=procs)
    return SelfPlayParams(mcts=MctsParams(num_iters_per_turn=4), sim=sim)


def test_self_play_in_worker_processes():
    game = make_game("tictactoe")
    spec = NetSpec(game.observation_shape, game.num_actions, TINY)
    weights = net_weights(spec.build())
    games_seen = []
    with LocalPool(2) as pool:
        for it in range(2):  # the pool persists across iterations
            samples, rep = run_self_play(
                GameSpec(name="tictactoe"), game, spec, weights, _tiny_self_play(6, 2), pool,
                seed=it, on_game_end=games_seen.append,
            )  # fmt: skip
            assert rep.num_games == 6 and rep.num_samples == len(samples) > 0
            assert 0 < rep.network_share <= 1
    assert games_seen == [*range(1, 7), *range(1, 7)]
    assert samples.obs.shape[1:] == (3, 3, 2) and samples.mask.dtype == bool


def test_arena_promotion_rule():
    game = make_game("tictactoe")
    spec = NetSpec(game.observation_shape, game.num_actions, TINY)
    w = net_weights(spec.build())
    sim = SimParams(num_games=4, num_workers=4, batch_size=4, alternate_colors=True)
    mcts = MctsParams(num_iters_per_turn=4, dirichlet_noise_epsilon=0.0)
    with LocalPool(1) as pool:
        low = run_arena(
            GameSpec(name="tictactoe"),
            2,
            spec,
            w,
            w,
            ArenaParams(mcts=mcts, sim=sim, update_threshold=-1.0),
            pool,
            seed=0,
        )
        high = run_arena(
            GameSpec(name="tictactoe"),
            2,
            spec,
            w,
            w,
            ArenaParams(mcts=mcts, sim=sim, update_threshold=1.01),
            pool,
            seed=0,
        )
    assert low.num_games == 4 and low.promoted and not high.promoted
    assert -1 <= low.score <= 1


class _RecordingPool:
    """A real LocalPool that also keeps the jobs it was given."""

    def __init__(self, pool: LocalPool) -> None:
        self.pool, self.jobs = pool, []
        self.parallelism = pool.parallelism

    def run(self, jobs, on_game_end=None):
        self.jobs += list(jobs)
        return self.pool.run(jobs, on_game_end)


@pytest.mark.parametrize(("alternate", "procs"), [(True, None), (False, 1)])
def test_arena_honours_alternate_colors_and_num_processes(alternate: bool, procs) -> None:
    """``arena.sim.alternate_colors`` and ``arena.sim.num_processes`` used to be ignored
    (colours always alternated; every worker got a share)."""
    game = make_game("tictactoe")
    spec = NetSpec(game.observation_shape, game.num_actions, TINY)
    w = net_weights(spec.build())
    sim = SimParams(num_games=4, num_workers=2, batch_size=2, alternate_colors=alternate,
                    num_processes=procs)  # fmt: skip
    mcts = MctsParams(num_iters_per_turn=4, dirichlet_noise_epsilon=0.0,
                      temperature=ConstSchedule(0.0))  # fmt: skip
    with LocalPool(2) as local:
        pool = _RecordingPool(local)
        rep = run_arena(GameSpec(name="tictactoe"), 2, spec, w, w,
                        ArenaParams(mcts=mcts, sim=sim), pool, seed=0)  # fmt: skip
    assert rep.num_games == 4
    assert len(pool.jobs) == (2 if procs is None else 1)
    assert {j.alternate_colors for j in pool.jobs} == {alternate}
    if not alternate:  # one deterministic player per seat: the same game four times
        assert rep.candidate_reward in (-1.0, 0.0, 1.0)


def test_simulate_rejects_bad_arguments():
    game = make_game("tictactoe")
    with pytest.raises(ValueError, match="num_concurrent"):
        simulate(game, [FirstLegal(game)], 2, num_concurrent=0, rng=np.random.default_rng())
    with pytest.raises(ValueError, match="seats"):
        simulate(game, [FirstLegal(game)] * 3, 2, num_concurrent=1, rng=np.random.default_rng())


class RecordingMcts(MctsPlayer):
    """An :class:`MctsPlayer` that logs, per searched game, whether its tree was reused."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log: list[tuple[int, int, bool, float]] = []  # slot, move, reused, root visits

    def decide(self, slots, states, move_numbers):
        out = super().decide(slots, states, move_numbers)
        r = self.last_result
        for k, slot in enumerate(slots):
            self.log.append((slot, move_numbers[k], bool(r.reused[k]), r.visits[k].sum()))
        return out


def _recording(game, sims: int, seed: int) -> RecordingMcts:
    params = MctsParams(num_iters_per_turn=sims, temperature=ConstSchedule(0.0))
    return RecordingMcts(game, UniformEvaluator(), params, add_noise=True,
                         rng=np.random.default_rng(seed))  # fmt: skip


def test_each_game_keeps_its_own_tree_in_simulate():
    # Self-play: the next root is the played child (the most visited one), so every search
    # after a game's first move must re-root in that game's tree, even while the set of live
    # slots shrinks at the end and games of different lengths restart at different times.
    game = make_game("tictactoe")
    player = _recording(game, 30, 1)
    res = simulate(game, [player], 9, num_concurrent=4, rng=np.random.default_rng(2))
    assert len(set(res.lengths.tolist())) > 1  # games did end at different times
    assert len(player.log) == int(res.lengths.sum())
    for slot, move, reused, visits in player.log:
        assert reused == (move > 0), (slot, move)
        assert visits > 30 if move > 0 else visits == 30  # statistics carried over
    # Two players, seats swapped every other game: each player searches a varying subset of
    # the slots, and each game still finds its position (a grandchild) in its own tree.
    a, b = _recording(game, 200, 3), _recording(game, 200, 4)
    simulate(game, [a, b], 6, num_concurrent=4, rng=np.random.default_rng(5),
             alternate_colors=True)  # fmt: skip
    for p in (a, b):
        later = [reused for _, move, reused, _ in p.log if move >= 2]
        assert later and all(later)
        assert not any(reused for _, move, reused, _ in p.log if move < 2)


def test_pool_workers_exit_when_their_parent_is_killed(tmp_path) -> None:
    """A ``kill -9`` of the trainer must not leave self-play workers behind."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import os, sys, time\n"
        "from az_gym.workers import LocalPool\n"
        "if __name__ == '__main__':\n"
        "    pool = LocalPool(num_processes=2)\n"
        "    ex = pool._ensure(False)\n"
        "    pids = [ex.submit(os.getpid).result() for _ in range(4)]\n"
        "    print(' '.join(map(str, sorted(set(pids)))), flush=True)\n"
        "    time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert pids, "the pool ran no worker"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        alive = pids
        while alive and time.monotonic() < deadline:
            time.sleep(0.2)
            alive = [p for p in alive if _alive(p)]
        assert not alive, f"workers {alive} outlived their killed parent"
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of init is as good as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class _LoggingPlayer(MctsPlayer):
    """An :class:`MctsPlayer` that keeps the root value of each of its searches."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.root_values: list[float] = []

    def decide(self, slots, states, move_numbers):
        decision = super().decide(slots, states, move_numbers)
        self.root_values.extend(decision.root_value.tolist())
        return decision


def _net_player(game, seed: int, logging: bool = False) -> MctsPlayer:
    torch.manual_seed(0)
    spec = NetSpec(game.observation_shape, game.num_actions, TINY)
    evaluator = NetworkEvaluator(spec.build().eval(), torch.device("cpu"))
    params = MctsParams(num_iters_per_turn=16, temperature=ConstSchedule(1.0))
    cls = _LoggingPlayer if logging else MctsPlayer
    return cls(game, evaluator, params, add_noise=True, rng=np.random.default_rng(seed))


@pytest.mark.parametrize("game_name", ["tictactoe", "connect_four"])
def test_value_targets_mix_the_outcome_with_the_root_value(game_name):
    # w = 0 is AlphaZero's z; w = 1 is the root value of the search behind each move, in
    # the order of the moves; and the mix is linear. The games are the same whatever w:
    # the weight changes the targets, never the play.
    game = make_game(game_name)
    runs = {}
    for w in (0.0, 0.25, 1.0):
        player = _net_player(game, seed=3, logging=True)
        res = simulate(game, [player], 1, num_concurrent=1, rng=np.random.default_rng(7),
                       q_weight=w)  # fmt: skip
        runs[w] = (res.samples, player.root_values)
    (z, q0), (mixed, _), (s1, q1) = runs[0.0], runs[0.25], runs[1.0]
    np.testing.assert_array_equal(z.obs, s1.obs)
    assert q0 == q1 and len(q1) == len(s1)
    assert set(np.abs(z.value).tolist()) <= {0.0, 1.0}
    np.testing.assert_allclose(s1.value, np.float32(q1), atol=1e-6)
    assert not np.allclose(s1.value, z.value)
    np.testing.assert_allclose(mixed.value, 0.75 * z.value + 0.25 * s1.value, atol=1e-6)
    default = simulate(game, [_net_player(game, seed=3)], 1, num_concurrent=1,
                       rng=np.random.default_rng(7)).samples  # fmt: skip
    np.testing.assert_array_equal(default.value, z.value)


def test_value_targets_without_root_values_stay_z_and_bad_weights_are_refused():
    game = make_game("tictactoe")
    res = simulate(game, [FirstLegal(game)], 1, num_concurrent=1,
                   rng=np.random.default_rng(0), q_weight=0.5)  # fmt: skip
    assert res.samples.value.tolist() == [1, -1, 1, -1, 1, -1, 1]
    with pytest.raises(ValueError, match="q_weight"):
        simulate(game, [FirstLegal(game)], 1, num_concurrent=1,
                 rng=np.random.default_rng(0), q_weight=1.5)  # fmt: skip
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="value_target_q_weight"):
            SelfPlayParams(value_target_q_weight=bad)


def _in_workers(settings: list[dict], num_games: int = 8) -> list:
    """``(samples, report)`` of a tic-tac-toe self-play phase on 2 worker processes for
    each ``SelfPlayParams`` change in ``settings``, one pool for all."""
    game = make_game("tictactoe")
    spec = NetSpec(game.observation_shape, game.num_actions, TINY)
    weights = net_weights(spec.build())
    with LocalPool(2) as pool:
        return [
            run_self_play(GameSpec(name="tictactoe"), game, spec, weights,
                          dataclasses.replace(_tiny_self_play(num_games, 2), **kw), pool, seed=1)
            for kw in settings
        ]  # fmt: skip


def test_value_target_weight_reaches_the_worker_processes():
    runs = _in_workers([{"value_target_q_weight": w} for w in (0.0, 1.0)], num_games=4)
    values = {w: samples.value for w, (samples, _) in zip((0.0, 1.0), runs)}
    assert set(np.abs(values[0.0]).tolist()) <= {0.0, 1.0}
    assert not set(np.abs(values[1.0]).tolist()) <= {0.0, 1.0}


class _BudgetLog(MctsPlayer):
    """An :class:`MctsPlayer` that logs each position it searched and the simulations
    the search ran there."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log: list[tuple[np.ndarray, int]] = []

    def _decide(self, slots, states, move_numbers, num_simulations):
        decision = super()._decide(slots, states, move_numbers, num_simulations)
        obs = self.game.observations(list(states))
        for k, n in enumerate(self.last_result.simulations.tolist()):
            self.log.append((np.asarray(obs[k]), int(n)))
        return decision


@pytest.mark.parametrize("root_policy", ["puct", "gumbel"])
def test_playout_cap_records_only_the_full_searches(root_policy):
    # Playout-cap randomisation: about half the moves get the full 16 simulations and
    # become samples; the others get 4 and are played, not recorded. The samples are
    # exactly the full searches' positions, in order, with the true moves left and z.
    game = make_game("connect_four")
    torch.manual_seed(0)
    spec = NetSpec(game.observation_shape, game.num_actions, TINY)
    evaluator = NetworkEvaluator(spec.build().eval(), torch.device("cpu"))
    params = MctsParams(num_iters_per_turn=16, root_policy=root_policy,
                        temperature=ConstSchedule(1.0))  # fmt: skip
    player = _BudgetLog(game, evaluator, params, add_noise=True, rng=np.random.default_rng(5),
                        full_fraction=0.5, fast_simulations=4)  # fmt: skip
    res = simulate(game, [player], 1, num_concurrent=1, rng=np.random.default_rng(7))
    budgets = [n for _, n in player.log]
    assert set(budgets) == {4, 16}, budgets
    length = int(res.lengths[0])
    assert len(budgets) == length
    full = [i for i, n in enumerate(budgets) if n == 16]
    samples = res.samples
    assert len(samples) == len(full) < length
    np.testing.assert_array_equal(samples.obs, np.stack([player.log[i][0] for i in full]))
    np.testing.assert_array_equal(samples.moves_left, [length - i for i in full])
    first_mover_return = res.returns[0, 0]  # one player plays both seats: seat 0's return
    np.testing.assert_array_equal(
        samples.value, [first_mover_return * (1 if i % 2 == 0 else -1) for i in full]
    )


def test_playout_cap_off_is_the_default_search_and_bad_values_are_refused():
    game = make_game("tictactoe")
    runs = []
    for fraction in (None, 1.0):
        player = _net_player(game, seed=3)
        if fraction is not None:
            player = MctsPlayer(game, player.mcts.evaluator, player.params, add_noise=True,
                                rng=np.random.default_rng(3), full_fraction=fraction,
                                fast_simulations=4)  # fmt: skip
        runs.append(simulate(game, [player], 2, num_concurrent=2,
                             rng=np.random.default_rng(7)).samples)  # fmt: skip
    np.testing.assert_array_equal(runs[0].obs, runs[1].obs)
    np.testing.assert_array_equal(runs[0].policy, runs[1].policy)
    for bad in (0, -0.5, 1.5, float("nan")):
        with pytest.raises(ValueError, match="full_search_fraction"):
            SelfPlayParams(full_search_fraction=bad)
    for bad in (0, 101, 2.5):
        with pytest.raises(ValueError, match="fast_search_simulations"):
            SelfPlayParams(full_search_fraction=0.5, fast_search_simulations=bad)
    SelfPlayParams(mcts=MctsParams(num_iters_per_turn=8))  # off: the fast budget is unused
    with pytest.raises(ValueError, match="fast_simulations"):
        MctsPlayer(game, UniformEvaluator(), MctsParams(num_iters_per_turn=8), add_noise=True,
                   rng=np.random.default_rng(0), full_fraction=0.5, fast_simulations=9)  # fmt: skip


def test_playout_cap_reaches_the_worker_processes():
    fractions = (1.0, 0.25)
    runs = _in_workers([{"full_search_fraction": f, "fast_search_simulations": 2}
                        for f in fractions])  # fmt: skip
    counts = {f: (len(sa), rep.num_games * rep.average_length)
              for f, (sa, rep) in zip(fractions, runs)}  # fmt: skip
    assert counts[1.0][0] == counts[1.0][1]
    assert 0 < counts[0.25][0] < 0.6 * counts[0.25][1]


def test_random_openings_start_games_after_unrecorded_random_moves():
    # Each game starts after k uniformly random legal moves, k in 0..3; the random moves
    # leave no samples, and the recorded ones carry ply numbers from the initial position.
    game = make_game("tictactoe")
    player = _net_player(game, seed=2)
    res = simulate(game, [player], 60, num_concurrent=6, rng=np.random.default_rng(11),
                   opening_plies=3)  # fmt: skip
    samples = res.samples
    stones = np.abs(samples.obs).reshape(len(samples), -1).sum(axis=1)
    ends = np.flatnonzero(samples.moves_left == 1)  # each game's samples: n, n-1, ..., 1
    starts, lengths, lo = [], [], 0
    for end in ends.tolist():
        n = end - lo + 1
        assert np.array_equal(samples.moves_left[lo : end + 1], np.arange(n, 0, -1))
        k = int(stones[lo])  # the stones of the first searched position: the random moves
        starts.append(k)
        lengths.append(k + n)
        lo = end + 1
    assert lo == len(samples) and len(starts) == 60
    assert sorted(lengths) == sorted(res.lengths.tolist())
    assert set(starts) == {0, 1, 2, 3}  # every k drawn, the initial position among them


def test_random_openings_off_is_the_initial_position_and_bad_values_are_refused():
    game = make_game("tictactoe")
    samples = simulate(game, [_net_player(game, seed=3)], 6, num_concurrent=2,
                       rng=np.random.default_rng(7), opening_plies=0).samples  # fmt: skip
    firsts = np.r_[0, np.flatnonzero(samples.moves_left == 1)[:-1] + 1]  # each game's first
    assert len(firsts) == 6 and not np.abs(samples.obs[firsts]).any()  # the empty board
    assert SelfPlayParams().random_opening_plies == 0
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="random_opening_plies"):
            SelfPlayParams(random_opening_plies=bad)


def test_random_opening_never_starts_a_finished_game():
    # Tic-tac-toe ends after 5 moves at the earliest: starts after up to 9 random moves
    # that would end the game are drawn again, so every start is running.
    from az_gym.training.simulation import random_start

    game = make_game("tictactoe")
    rng = np.random.default_rng(0)
    ks = []
    for _ in range(300):
        s, k = random_start(game, 9, rng)
        assert not game.is_terminal(s)
        assert int(np.abs(game.observation(s)).sum()) == k
        ks.append(k)
    assert max(ks) >= 6 and min(ks) == 0


def test_random_openings_reach_the_worker_processes():
    runs = _in_workers([{"random_opening_plies": n} for n in (0, 4)])
    counts = {n: (len(sa), rep.num_games * rep.average_length)
              for n, (sa, rep) in zip((0, 4), runs)}  # fmt: skip
    assert counts[0][0] == counts[0][1]
    assert counts[4][0] < counts[4][1]  # the random moves count as played, not recorded
