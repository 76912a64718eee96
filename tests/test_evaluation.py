"""Duels, Wilson intervals, Hoeffding sample sizes, Bradley-Terry Elo and tournaments."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from az_gym.agents import AlphaBetaAgent, OneStepLookaheadAgent, RandomAgent
from az_gym.agents.base import Agent
from az_gym.elo import fit_bradley_terry
from az_gym.envs.registry import make, make_game
from az_gym.evaluation import (
    evaluate,
    necessary_samples,
    play_game,
    tournament,
    wilson_interval,
)


def test_necessary_samples():
    assert necessary_samples(0.05, 0.05) == math.ceil(math.log(20) / (2 * 0.05**2)) == 600
    assert necessary_samples(0.1, 0.01) == 231
    for eps, beta in [(0.0, 0.1), (0.1, 0.0), (0.1, 1.0), (1.5, 0.1)]:
        with pytest.raises(ValueError):
            necessary_samples(eps, beta)


def test_wilson_interval():
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo2, hi2 = wilson_interval(10, 10)
    assert (lo2, hi2) == pytest.approx((1 - hi, 1.0))
    lo, hi = wilson_interval(30, 100)
    assert lo < 0.3 < hi and hi - lo < 0.2
    lo_big, hi_big = wilson_interval(3000, 10000)
    assert hi_big - lo_big < (hi - lo) / 5
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_play_game_replays():
    game = make_game("tictactoe")
    returns, moves = play_game(game, [RandomAgent(), RandomAgent()], seed=7)
    s = game.initial_state()
    for a in moves:
        s = game.step(s, a)
    assert game.is_terminal(s) and np.array_equal(game.returns(s), returns)
    again = play_game(game, [RandomAgent(), RandomAgent()], seed=7)
    assert again.moves == moves
    shown: list[str] = []
    play_game(game, [RandomAgent(), RandomAgent()], seed=7, verbose=True, output_fn=shown.append)
    assert len(shown) == len(moves) + 2 and shown[0].startswith("player 0 (random) plays ")
    with pytest.raises(ValueError, match="needs 2 agents"):
        play_game(game, [RandomAgent()])


def test_evaluate_alternates_colours_and_counts_add_up():
    res = evaluate(RandomAgent(seed=1), RandomAgent(seed=2), "tictactoe", 40, seed=0)
    assert res.wins + res.draws + res.losses == res.num_games == 40
    assert sum(res.per_color[0]) == sum(res.per_color[1]) == 20
    assert res.wins == res.per_color[0].wins + res.per_color[1].wins
    assert res.score == pytest.approx((res.wins + res.draws / 2) / 40)
    lo, hi = res.interval
    assert lo < res.score < hi
    # X (player 0) has the edge at random play: A wins more as player 0
    assert res.per_color[0].wins > res.per_color[1].wins
    fixed = evaluate(RandomAgent(), RandomAgent(), "tictactoe", 10, alternate_colors=False, seed=0)
    assert sum(fixed.per_color[0]) == 10 and sum(fixed.per_color[1]) == 0
    d = res.to_dict()
    assert d["num_games"] == 40 and d["per_color"]["a_as_player_1"]["wins"] == res.per_color[1].wins
    json.dumps(d)
    assert "random vs random" in str(res)


def test_evaluate_is_reproducible_and_env_forms_agree():
    game = make_game("tictactoe")
    forms = ["tictactoe", game, make("tictactoe")]
    results = [
        evaluate(OneStepLookaheadAgent(), RandomAgent(), env, 12, seed=42).to_dict()
        for env in forms
    ]
    assert results[0] == results[1] == results[2]


def test_evaluate_on_a_pettingzoo_env():
    classic = pytest.importorskip("pettingzoo.classic")
    res = evaluate(OneStepLookaheadAgent(seed=0), RandomAgent(seed=1),
                   classic.tictactoe_v3.env(), 4, seed=0)  # fmt: skip
    assert res.num_games == 4 and res.losses <= 1


def test_parallel_matches_serial(capsys, monkeypatch):
    monkeypatch.setenv("AZ_GYM_PROGRESS_SECONDS", "0")  # stderr is no terminal: log lines
    args = (OneStepLookaheadAgent(), RandomAgent(), "tictactoe", 16)
    serial = evaluate(*args, seed=5, num_processes=1)
    assert "games" not in capsys.readouterr().err  # no bar unless asked
    parallel = evaluate(*args, seed=5, num_processes=2, progress=True)
    assert "/16" in capsys.readouterr().err
    assert serial.to_dict() == parallel.to_dict()
    with pytest.raises(ValueError, match="num_processes"):
        evaluate(*args, num_processes=0)


def test_more_processes_than_the_cores_can_use_are_refused_before_any_starts():
    # `az-gym evaluate ... --processes 1000` once started one process per game (100, each
    # loading torch: ~25 GB on a 24 GB machine). Asking for many with few games is harmless.
    from az_gym._procs import max_processes

    bound = max_processes()
    agents = (OneStepLookaheadAgent(), RandomAgent(), "tictactoe")
    with pytest.raises(
        ValueError, match=rf"would start {bound + 1} for {bound + 1} games, more than {bound}"
    ):
        evaluate(*agents, bound + 1, num_processes=1000)
    assert evaluate(*agents, 2, num_processes=1000).num_games == 2


def test_evaluate_refuses_agents_of_another_game():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from az_gym.agents import AlphaZeroAgent, NetworkOnlyAgent

    az = AlphaZeroAgent(make_game("tictactoe"), seed=0)
    with pytest.raises(ValueError, match="connect_four"):
        evaluate(az, RandomAgent(), "connect_four", 2)
    with pytest.raises(ValueError, match="connect_four"):
        evaluate(RandomAgent(), NetworkOnlyAgent(az), "connect_four", 2)
    with pytest.raises(ValueError, match="num_games"):
        evaluate(RandomAgent(), RandomAgent(), "tictactoe", 0)


# ---------------------------------------------------------------- Elo / BT
def _expected_scores(elo: np.ndarray, games: float) -> tuple[np.ndarray, np.ndarray]:
    """Scores a Bradley-Terry population with these Elo ratings makes on average."""
    n = len(elo)
    p = 1.0 / (1.0 + 10.0 ** (-(elo[:, None] - elo[None, :]) / 400.0))
    g = np.full((n, n), games) - np.diag(np.full(n, games))
    return p * g, g


def test_bradley_terry_recovers_known_ratings():
    truth = np.array([-300.0, -50.0, 0.0, 150.0, 200.0])
    truth -= truth.mean()
    scores, games = _expected_scores(truth, 20000.0)
    fit = fit_bradley_terry(scores, games)
    assert np.allclose(fit.elo, truth, atol=1.0)
    assert np.all(fit.stderr > 0) and np.all(fit.stderr < 10)
    # with few games the same data are much less certain
    few = fit_bradley_terry(*_expected_scores(truth, 20.0))
    assert np.all(few.stderr > 5 * fit.stderr)
    assert np.argsort(few.elo).tolist() == np.argsort(truth).tolist()
    # anchored: player 2 at 0
    anchored = fit_bradley_terry(scores, games, anchor=2)
    assert anchored.elo[2] == 0.0 and anchored.stderr[2] == pytest.approx(0.0, abs=1e-9)
    assert np.allclose(anchored.elo, truth - truth[2], atol=1.0)


def test_bradley_terry_stays_finite_when_someone_wins_everything():
    scores = np.array([[0.0, 10.0, 10.0], [0.0, 0.0, 5.0], [0.0, 5.0, 0.0]])
    games = scores + scores.T
    fit = fit_bradley_terry(scores, games)
    assert np.all(np.isfinite(fit.elo)) and np.all(np.isfinite(fit.stderr))
    assert fit.elo[0] > fit.elo[1] + 200 and fit.elo[1] == pytest.approx(fit.elo[2])
    with pytest.raises(ValueError, match="scores"):
        fit_bradley_terry(scores, games + 1)
    with pytest.raises(ValueError, match="prior_games"):
        fit_bradley_terry(scores, games, prior_games=0.0)


def test_tournament_orders_real_agents(tmp_path):
    agents = {
        "random": RandomAgent(),
        "one_step": OneStepLookaheadAgent(),
        "alphabeta": AlphaBetaAgent(),
    }
    result = tournament(agents, "tictactoe", games_per_pair=20, seed=0)
    assert result.ranking() == ["alphabeta", "one_step", "random"]
    assert result.elo.mean() == pytest.approx(0.0, abs=1e-6)
    assert np.all(result.games[~np.eye(3, dtype=bool)] == 20)
    assert result.duels[("random", "one_step")].num_games == 20
    text = str(result)
    assert all(name in text for name in agents)
    result.to_json(tmp_path / "t.json")
    data = json.loads((tmp_path / "t.json").read_text())
    assert [p["name"] for p in data["players"]] == list(agents)
    result.to_csv(tmp_path / "t.csv")
    rows = (tmp_path / "t.csv").read_text().splitlines()
    assert rows[0].startswith("name,elo") and rows[1].startswith("alphabeta")
    result.plot(tmp_path / "t.png")
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    anchored = tournament(list(agents.values()), "tictactoe", 4, seed=0, anchor="random")
    assert anchored.elo[anchored.names.index("random")] == 0.0
    with pytest.raises(ValueError, match="anchor"):
        tournament(agents, "tictactoe", 2, anchor="nobody")


# ------------------------------------------------------------------ openings
class _FirstLegal(Agent):
    """A deterministic player: always the lowest legal action."""

    name = "first_legal"

    def act_state(self, game, state) -> int:
        return int(np.flatnonzero(game.legal_mask(state))[0])


def test_openings_make_deterministic_agents_play_different_games():
    """Deterministic players repeat one game from the start; with random openings each pair
    of games (colours swapped) starts from its own position, the same for both games."""
    from az_gym.evaluation import _openings
    from az_gym.play import Task, run_games

    game = make_game("connect_four")
    root = np.random.SeedSequence(3)
    seeds = root.spawn(8)
    openings = _openings(game, 4, 8, root)
    assert all(len(o) == 4 for o in openings)
    assert [openings[2 * k] == openings[2 * k + 1] for k in range(4)] == [True] * 4
    assert len(set(openings)) == 4  # distinct pairs
    tasks = [Task((0, 1) if i % 2 == 0 else (1, 0), s, o) for i, (s, o) in
             enumerate(zip(seeds, openings))]  # fmt: skip
    agents = [_FirstLegal(), _FirstLegal()]
    records = run_games(game, agents, tasks, 1)
    assert all(tuple(r.moves[:4]) == o for r, o in zip(records, openings))
    assert len({tuple(r.moves) for r in records}) == 4
    plain = run_games(game, agents, [(t.seats, t.seed) for t in tasks], 1)
    assert len({tuple(r.moves) for r in plain}) == 1  # one game, eight times
    duel = evaluate(_FirstLegal(), _FirstLegal(), game, 8, seed=3)
    assert duel.distinct_games == 1 and duel.to_dict()["distinct_games"] == 1
    assert (
        evaluate(_FirstLegal(), _FirstLegal(), game, 8, seed=3, opening_plies=4).distinct_games == 4
    )
    # evaluate draws the same openings, and from the same seeds: on any number of processes
    a, b = AlphaBetaAgent(depth=2, seed=0), OneStepLookaheadAgent(seed=1)
    opened = evaluate(a, b, game, 8, seed=3, opening_plies=4)
    assert "from 4-ply random openings" in str(opened) and opened.opening_plies == 4
    assert opened == evaluate(a, b, game, 8, seed=3, opening_plies=4, num_processes=2)
    assert evaluate(a, b, game, 8, seed=3).to_dict()["opening_plies"] == 0


def test_openings_refuse_what_cannot_be_played():
    args = (RandomAgent(), RandomAgent(), "tictactoe", 4)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="opening_plies"):
            evaluate(*args, opening_plies=bad)
    with pytest.raises(ValueError, match="no running position after 9 random moves"):
        evaluate(*args, opening_plies=9)
    with pytest.raises(ValueError, match="opening_plies"):
        tournament([RandomAgent(), OneStepLookaheadAgent()], "tictactoe", 2, opening_plies=-2)
    result = tournament(
        [RandomAgent(), OneStepLookaheadAgent()], "tictactoe", 4, seed=0, opening_plies=2
    )
    assert all(d.opening_plies == 2 and d.num_games == 4 for d in result.duels.values())


def test_a_spec_string_as_agent_says_how_to_build_the_agent():
    with pytest.raises(TypeError, match=r"got str \(a spec such as 'alphabeta:3' is built by"):
        evaluate("alphabeta:3", RandomAgent(), "tictactoe", 2)
    one = evaluate(RandomAgent(), RandomAgent(), "tictactoe", 1, seed=0)
    assert str(one).endswith(", 1 game)")  # not "1 games"


@pytest.mark.parametrize("seed", [-1, "x", 1.5, True])
def test_a_bad_seed_is_named_as_written(seed) -> None:
    # numpy's own words were "expected non-negative integer" or "SeedSequence expects int"
    import az_gym

    with pytest.raises(ValueError, match=rf"^seed={seed!r} must be an integer >= 0"):
        evaluate(RandomAgent(), RandomAgent(), "tictactoe", 2, seed=seed)
    with pytest.raises(ValueError, match=rf"^seed={seed!r} must be an integer >= 0"):
        RandomAgent(seed=seed)
    with pytest.raises(ValueError, match=rf"^seed={seed!r} must be an integer >= 0"):
        az_gym.pretrained("tictactoe", seed=seed)


def test_alternate_colors_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match=r"alternate_colors='no' must be True or False"):
        evaluate(RandomAgent(), RandomAgent(), "tictactoe", 2, alternate_colors="no")
