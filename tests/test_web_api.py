"""The web app's JSON API through FastAPI's TestClient: real games, real agents, real runs.

Whole games to the end, every kind of refused request (which must change nothing),
per-tab sessions, the bound on games in memory, the search off the event loop, the
analysis overlay, the run page's curves of a real tiny run, and the ``serve`` command's
own errors as real processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx2", reason="FastAPI's TestClient needs httpx2 (the dev extra)")

from fastapi.testclient import TestClient
from run_dir_helpers import assert_one_line_error, cli
from test_cli import TINY, _sets

from az_gym.agents import RandomAgent
from az_gym.cli import main
from az_gym.web.app import ServerConfig, create_app
from az_gym.web.players import Offer
from az_gym.web.serve import _games

ROOT = Path(__file__).resolve().parent.parent
SPECS = ["alphabeta", "random", "mcts:50"]


@pytest.fixture(scope="module")
def offer() -> Offer:
    return Offer(_games(["tictactoe", "connect_four"]), SPECS, seed=0)


def _client(offer: Offer, **kw) -> TestClient:
    return TestClient(create_app(ServerConfig(offer=offer, **kw)))


def _play_out(c: TestClient, view: dict) -> dict:
    """Play the game to its end, the human always taking the first legal move."""
    sid = view["id"]
    while not view["over"]:
        if view["agent_to_move"]:
            r = c.post(f"/api/games/{sid}/agent")
        else:
            r = c.post(f"/api/games/{sid}/move", json={"action": view["legal"][0]["action"]})
        assert r.status_code == 200, r.text
        view = r.json()
    return view


def test_a_whole_tictactoe_game_against_alphabeta(offer: Offer) -> None:
    c = _client(offer)
    config = c.get("/api/config").json()
    assert [g["label"] for g in config["games"]] == ["tictactoe", "connect_four"]
    assert [a["label"] for a in config["games"][0]["agents"]] == SPECS
    view = c.post("/api/games", json={"game": 0, "agent": 0, "seat": 0}).json()
    assert view["you_are"] == "You are X, you move first, against alphabeta."
    assert view["layout"]["kind"] == "tictactoe" and not view["agent_to_move"]
    assert [m["name"] for m in view["legal"]][:3] == ["a3", "b3", "c3"]
    end = _play_out(c, view)
    # a3 b3 c3... in order against perfect play: alpha-beta wins along a line it names
    assert end["result"].startswith("You lose: O has 3 in a row ("), end["result"]
    assert len(end["winning"]) == 3 and end["last"] in end["winning"]
    assert [m["label"] for m in end["moves"]][:4] == ["X", "O", "X", "O"]
    assert end["thinking_seconds"] is not None and end["thinking_seconds"] >= 0
    assert end["to_play"] is None and end["legal"] == []
    # nothing more is accepted, and nothing changes
    for path, body in (("move", {"action": 8}), ("agent", None)):
        r = c.post(f"/api/games/{end['id']}/{path}", json=body)
        assert r.status_code == 409 and "over" in r.json()["error"]
    assert c.get(f"/api/games/{end['id']}").json() == end


def test_the_agent_opens_when_the_human_plays_second_and_undo_takes_back_a_turn(
    offer: Offer,
) -> None:
    c = _client(offer)
    view = c.post("/api/games", json={"game": 1, "agent": 1, "seat": 1}).json()
    sid = view["id"]
    assert view["agent_to_move"] and view["you_are"].startswith(
        "You are O (yellow), you move second"
    )
    assert c.post(f"/api/games/{sid}/undo").status_code == 409  # nothing of the human's yet
    opened = c.post(f"/api/games/{sid}/agent").json()
    assert not opened["agent_to_move"] and len(opened["moves"]) == 1
    col = opened["moves"][0]["name"]
    assert opened["last"] == [5, int(col) - 1]  # the disc landed at the bottom (row 5)
    after = c.post(f"/api/games/{sid}/move", json={"action": 3}).json()
    after = c.post(f"/api/games/{sid}/agent").json()
    assert len(after["moves"]) == 3 and after["can_undo"]
    back = c.post(f"/api/games/{sid}/undo").json()
    assert back["moves"] == opened["moves"] and back["grid"] == opened["grid"]
    assert not back["agent_to_move"] and not back["can_undo"]


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("move", {"action": 99}, 400, "illegal move 99; legal moves: a3 b3"),
        ("move", {"action": -1}, 400, "illegal move -1"),
        ("move", {"action": "4"}, 400, "malformed request: action"),
        ("move", {"action": True}, 400, "malformed request: action"),
        ("move", {"action": 4.0}, 400, "malformed request: action"),
        ("move", {}, 400, "malformed request: action: Field required"),
        ("move", {"action": 4, "extra": 1}, 400, "malformed request: extra"),
        ("move", [4], 400, "malformed request"),
        ("analyse", {"agent": 7}, 400, "no agent 7"),
        ("analyse", {"agent": 2, "simulations": 0}, 400, "simulations must be"),
        ("analyse", {"agent": 2, "simulations": 10**9}, 400, "simulations must be"),
        ("agent", None, 409, "not the agent's turn"),
    ],
)
def test_refused_requests_answer_4xx_and_change_nothing(
    offer: Offer, path: str, body: object, status: int, needle: str
) -> None:
    c = _client(offer)
    view = c.post("/api/games", json={"game": 0, "agent": 0, "seat": 0}).json()
    c.post(f"/api/games/{view['id']}/move", json={"action": 4})
    view = c.post(f"/api/games/{view['id']}/agent").json()
    if path == "move" and body == {"action": 99}:  # the illegal move is an occupied cell
        body = {"action": 4}
        needle = "illegal move 4 (b2); legal moves: a3 b3"
    r = c.post(f"/api/games/{view['id']}/{path}", json=body)
    assert r.status_code == status and needle in r.json()["error"], r.text
    assert c.get(f"/api/games/{view['id']}").json() == view


def test_bad_new_games_unknown_ids_and_raw_junk_are_refused(offer: Offer) -> None:
    c = _client(offer)
    bad = [
        (
            {"game": 5, "agent": 0},
            "no game 5: this server offers games 0..1 (tictactoe, connect_four)",
        ),
        ({"game": 0, "agent": 3}, "no agent 3: this server offers agents 0..2 (alphabeta, random"),
        ({"game": 0, "agent": 0, "seat": 2}, "seat must be 0 (move first) or 1"),
        ({"game": "tictactoe", "agent": 0}, "malformed request: game"),
        ({"game": 0, "agent": "/etc/passwd"}, "malformed request: agent"),
        ({"game": 0, "agent": "az_gym.cli:main"}, "malformed request: agent"),
    ]
    for body, needle in bad:
        r = c.post("/api/games", json=body)
        assert r.status_code == 400 and needle in r.json()["error"], (body, r.text)
    r = c.post("/api/games", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"].startswith("malformed request")
    assert len(c.app.state.store) == 0  # nothing was created
    for method, path in (("get", "/api/games/nope"), ("post", "/api/games/nope/undo")):
        r = getattr(c, method)(path)
        assert r.status_code == 404 and "no game 'nope'" in r.json()["error"]
    assert c.get("/api/nothing").status_code == 404
    assert c.put("/api/games").status_code == 405
    assert c.get("/api/run").status_code == 404  # started without --run
    assert c.get("/").status_code == 200 and "<svg" not in c.get("/").text  # drawn by JS
    assert c.get("/static/board.js").status_code == 200


def test_each_tab_has_its_own_game_and_concurrent_games_do_not_mix(offer: Offer) -> None:
    c = _client(offer)

    def play(seat: int) -> dict:
        view = c.post("/api/games", json={"game": 0, "agent": 2, "seat": seat}).json()
        return _play_out(c, view)

    with ThreadPoolExecutor(4) as pool:
        ends = list(pool.map(play, [0, 1, 0, 1]))
    assert len({e["id"] for e in ends}) == 4
    for end in ends:
        assert end["over"] and end["result"]
        again = c.get(f"/api/games/{end['id']}").json()
        assert again == end  # each game kept its own moves
        movers = [m["label"] for m in end["moves"]]
        assert movers[0] == "X" and len(movers) >= 5


def test_games_in_memory_are_bounded_the_least_recently_used_go_first(offer: Offer) -> None:
    c = _client(offer, max_sessions=2)
    ids = [c.post("/api/games", json={"game": 0, "agent": 1}).json()["id"] for _ in range(2)]
    c.get(f"/api/games/{ids[0]}")  # the first game is now the most recently used
    third = c.post("/api/games", json={"game": 0, "agent": 1}).json()["id"]
    assert c.get(f"/api/games/{ids[0]}").status_code == 200
    r = c.get(f"/api/games/{ids[1]}")
    assert r.status_code == 404 and "the 2 most recently used games" in r.json()["error"]
    assert c.get(f"/api/games/{third}").status_code == 200
    assert len(c.app.state.store) == 2
    assert c.delete(f"/api/games/{third}").status_code == 200
    assert c.get(f"/api/games/{third}").status_code == 404


class GatedAgent(RandomAgent):
    """A random player that waits for ``gate`` before it answers (a slow search)."""

    def __init__(self) -> None:
        super().__init__(seed=0)
        self.started, self.gate = threading.Event(), threading.Event()

    def act_state(self, game, state):
        self.started.set()
        assert self.gate.wait(30)
        return super().act_state(game, state)


def test_the_search_runs_off_the_event_loop_and_a_second_request_is_refused() -> None:
    offer = Offer(_games(["connect_four"]), ["random", "mcts:20"], seed=0)
    gated = GatedAgent()
    offer._pool[0, 0].agent = gated  # the offered "random" now thinks until released
    with _client(offer) as c, ThreadPoolExecutor(1) as pool:
        view = c.post("/api/games", json={"game": 0, "agent": 0, "seat": 1}).json()
        sid = view["id"]
        pending = pool.submit(c.post, f"/api/games/{sid}/agent")
        assert gated.started.wait(30)
        # while the agent "thinks": the server answers, other agents analyse, and the
        # game refuses a second change
        assert c.get("/api/config").status_code == 200
        r = c.post(f"/api/games/{sid}/undo")
        assert r.status_code == 409 and "still thinking" in r.json()["error"]
        a = c.post(f"/api/games/{sid}/analyse", json={"agent": 1, "simulations": 10})
        assert a.status_code == 200 and a.json()["simulations"] == 10
        other = c.post("/api/games", json={"game": 0, "agent": 1, "seat": 0}).json()
        assert c.post(f"/api/games/{other['id']}/move", json={"action": 3}).status_code == 200
        assert not pending.done()
        gated.gate.set()
        done = pending.result(30)
    assert done.status_code == 200 and len(done.json()["moves"]) == 1


def test_quick_requests_answer_while_every_worker_thread_waits_for_a_search() -> None:
    offer = Offer(_games(["connect_four"]), ["random"], seed=0)
    gated = GatedAgent()
    offer._pool[0, 0].agent = gated
    waiting = 45  # more searches than the framework's 40 worker threads
    with _client(offer) as c, ThreadPoolExecutor(waiting) as pool:
        ids = [
            c.post("/api/games", json={"game": 0, "agent": 0, "seat": 1}).json()["id"]
            for _ in range(waiting + 1)
        ]
        pending = [pool.submit(c.post, f"/api/games/{i}/agent") for i in ids[:waiting]]
        free = ids[-1]

        def quick() -> list[int]:
            return [
                c.get(f"/api/games/{free}").status_code,
                c.post(f"/api/games/{free}/move", json={"action": 0}).status_code,  # refused
                c.get("/api/config").status_code,
            ]

        other = ThreadPoolExecutor(1)
        try:
            assert gated.started.wait(30)
            time.sleep(0.5)  # let every request take its thread (or queue for one)
            # a hang here (a handler queued for a thread: the bug this test caught) fails
            # after 20 s instead of stopping the suite
            assert other.submit(quick).result(timeout=20) == [200, 409, 200]
            assert not any(p.done() for p in pending)
        finally:
            gated.gate.set()  # frees the threads, so a stuck request ends too
            other.shutdown(wait=True)
        assert all(p.result(60).status_code == 200 for p in pending)


def test_the_analysis_overlay_reports_visits_q_priors_and_values(offer: Offer) -> None:
    c = _client(offer, max_simulations=200)
    view = c.post("/api/games", json={"game": 1, "agent": 0}).json()
    a = c.post(f"/api/games/{view['id']}/analyse", json={"agent": 2, "simulations": 40}).json()
    assert a["kind"] == "search" and a["simulations"] == 40 and a["to_play_label"] == "X"
    assert [m["action"] for m in sorted(a["moves"], key=lambda m: m["action"])] == list(range(7))
    assert abs(sum(m["share"] for m in a["moves"]) - 1) < 1e-9
    assert a["moves"][0]["visits"] == max(m["visits"] for m in a["moves"])
    assert all(-1 <= m["q"] <= 1 and abs(m["prior"] - 1 / 7) < 1e-6 for m in a["moves"])
    assert -1 <= a["value"] <= 1 and a["network_value_label"] == "rollout value"
    r = c.post(f"/api/games/{view['id']}/analyse", json={"agent": 2, "simulations": 201})
    assert r.status_code == 400 and "1..200" in r.json()["error"]
    table = c.post(f"/api/games/{view['id']}/analyse", json={"agent": 0}).json()
    assert table["kind"] == "table" and table["columns"] == ["value"]
    assert "alphabeta" in table["summary"] and len(table["moves"]) == 7
    # a budget for a search without simulations was ignored: it is refused
    r = c.post(f"/api/games/{view['id']}/analyse", json={"agent": 0, "simulations": 50})
    assert r.status_code == 400 and "runs no simulations" in r.json()["error"]


def test_a_foreign_pettingzoo_env_gets_the_generic_view() -> None:
    pytest.importorskip("pettingzoo.classic")
    offer = Offer(_games(["pettingzoo.classic.tictactoe_v3:env"]), ["random"], seed=0)
    c = _client(offer)
    view = c.post("/api/games", json={"game": 0, "agent": 0}).json()
    assert view["layout"]["kind"] == "generic" and "grid" not in view
    assert view["text"] and len(view["legal"]) == 9
    end = _play_out(c, view)
    assert end["over"] and end["result"] in ("You win.", "You lose.", "Draw.")


def test_the_run_page_follows_a_real_run_and_its_best_network_plays(tmp_path: Path) -> None:
    from az_gym.web.serve import _run_game

    run = tmp_path / "run"
    base = ["train", "tictactoe", "--run-dir", str(run), "--quiet", *_sets(TINY)]
    assert main(base) == 0
    games = _games(["connect_four"])
    g = _run_game(run, games)
    assert [c.label for c in games] == ["connect_four", "tictactoe"] and g == 1
    offer = Offer(games, ["random", str(run)], seed=0)
    c = _client(offer, run_dir=run, run_game=g, run_agent=1)
    assert c.get("/api/config").json()["run"] == {"path": str(run), "game": 1, "agent": 1}
    assert c.get("/run").status_code == 200
    curves = c.get("/api/run").json()
    assert curves["iteration"] == 1 and curves["notes"] == []
    losses = {s["label"]: s for s in curves["charts"]["losses"]["series"]}
    assert losses["total loss"]["x"] == [1] and "policy cross-entropy L_p" in losses
    arena = curves["charts"]["arena"]
    assert len(arena["points"]) == 1 and 0 <= arena["points"][0][1] <= 1
    assert curves["charts"]["selfplay"]["series"][0]["x"] == [1]
    view = c.post("/api/games", json={"game": 1, "agent": 1, "seat": 1}).json()
    assert len(c.post(f"/api/games/{view['id']}/agent").json()["moves"]) == 1
    # the run goes on: the page and the agent follow it
    longer = [a.replace("num_iters=1", "num_iters=2") for a in base]  # --set once per key
    assert main([*longer, "--resume"]) == 0
    assert c.get("/api/run").json()["charts"]["losses"]["series"][0]["x"] == [1, 2]
    now = c.get(f"/api/games/{view['id']}").json()
    r = c.post(f"/api/games/{view['id']}/move", json={"action": now["legal"][0]["action"]})
    assert r.status_code == 200
    assert len(c.post(f"/api/games/{view['id']}/agent").json()["moves"]) == 3
    assert offer._pool[1, 1].iteration == 2
    # the connect four game cannot be played by a tic-tac-toe network
    r = c.post("/api/games", json={"game": 0, "agent": 1})
    assert r.status_code == 400 and "cannot play connect_four" in r.json()["error"]
    # a damaged run: one line, 503, and the game is still there as it was
    (run / "state.json").write_text("{not json")
    r = c.get("/api/run")
    assert r.status_code == 503 and "state.json" in r.json()["error"]
    before = c.get(f"/api/games/{view['id']}").json()
    c.post(f"/api/games/{view['id']}/move", json={"action": before["legal"][0]["action"]})
    r = c.post(f"/api/games/{view['id']}/agent")
    assert r.status_code == 503 and "cannot be read now" in r.json()["error"], r.text
    assert len(c.get(f"/api/games/{view['id']}").json()["moves"]) == 4


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["tictactoe", "--agent", "no_such_agent"], "unknown agent 'no_such_agent'"),
        (["tictactoe", "--agent", "human"], "agent 'human': you are the human here"),
        (
            ["tictactoe", "pettingzoo.classic.tictactoe_v3:env", "--agent", "pretrained"],
            "no agent offered plays pettingzoo.classic.tictactoe_v3:env (pretrained: no pre",
        ),
        (["no_such_game"], "no_such_game"),
        (["othello,size=5"], "othello"),
        (["--run", "/no/such/run"], "no such run directory"),
        (["tictactoe", "--agent", "random", "--port", "70000"], "--port 70000"),
    ],
)
def test_serve_refuses_bad_arguments_in_one_line(args: list[str], needle: str) -> None:
    assert_one_line_error(cli("serve", *args), needle)  # main() in this process


def test_a_bad_spec_for_every_game_is_said_once() -> None:
    # The same "unknown agent" reason was once repeated for each of the four games (1231
    # characters on one line).
    err = cli("serve", "--agent", "alphabet").stderr
    assert_one_line_error(cli("serve", "--agent", "alphabet"), "did you mean 'alphabeta'?")
    assert err.count("unknown agent") == 1 and len(err) < 400


def test_serve_without_fastapi_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)  # what `import fastapi` meets uninstalled
    assert_one_line_error(cli("serve", "tictactoe"), "pip install 'az-gym[web]'")


def test_serve_prints_its_url_and_warns_off_the_loopback_address() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    args = ["serve", "tictactoe", "--agent", "random", "--host", "0.0.0.0", "--port", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "az_gym.cli", *args], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        warning = proc.stderr.readline()
        url = proc.stdout.readline()
        port = url.split(":")[-1].split("/")[0]
        # it listens once the URL is out; a request at once is answered
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/config", timeout=30) as r:
            assert r.status == 200 and json.load(r)["games"][0]["label"] == "tictactoe"
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the normal way to stop a server
        out, err = proc.communicate(timeout=30)
    assert warning.startswith("az-gym: warning: serving on 0.0.0.0, not the loopback address")
    assert url.startswith("az-gym serve: http://0.0.0.0:") and "(Ctrl-C to stop)" in url
    assert proc.returncode == 0 and "stopped" in out and "Traceback" not in err, err


def test_othello_passes_are_moves_of_their_own_and_undo_takes_them_back() -> None:
    offer = Offer(_games(["othello,size=6"]), ["random"], seed=3)
    c = _client(offer)
    for k in range(40):  # random games until the human must pass (most games have one)
        view = c.post("/api/games", json={"game": 0, "agent": 0, "seat": k % 2}).json()
        sid = view["id"]
        while not view["over"]:
            if view["agent_to_move"]:
                view = c.post(f"/api/games/{sid}/agent").json()
                continue
            if [m["name"] for m in view["legal"]] == ["pass"]:
                break
            legal = view["legal"]
            view = c.post(
                f"/api/games/{sid}/move", json={"action": legal[k % len(legal)]["action"]}
            )
            view = view.json()
        else:
            continue
        assert view["to_play"] == view["human"] and view["last"] is not None
        after = c.post(f"/api/games/{sid}/move", json={"action": 36}).json()
        assert after["moves"][len(view["moves"])] == {
            "player": view["human"],
            "label": view["human_label"],
            "name": "pass",
        }
        back = c.post(f"/api/games/{sid}/undo").json()
        assert back["moves"] == view["moves"] and back["grid"] == view["grid"]
        return
    pytest.fail("no game of 40 made the human pass")


def test_an_agent_file_plays_and_analyses_with_its_own_game_only(tmp_path: Path) -> None:
    from az_gym.agents import AlphaZeroAgent

    path = tmp_path / "agent.pt"
    AlphaZeroAgent("tictactoe", seed=0).save(path)
    offer = Offer(_games(["tictactoe", "connect_four"]), [f"{path}:8", "random"], seed=0)
    c = _client(offer)
    agents = c.get("/api/config").json()["games"]
    assert agents[0]["agents"][0]["available"] and agents[0]["agents"][0]["simulations"]
    refused = agents[1]["agents"][0]
    assert not refused["available"] and "tictactoe" in refused["reason"]
    view = c.post("/api/games", json={"game": 0, "agent": 0, "seat": 1}).json()
    view = c.post(f"/api/games/{view['id']}/agent").json()
    assert len(view["moves"]) == 1 and view["thinking_seconds"] > 0
    a = c.post(f"/api/games/{view['id']}/analyse", json={"agent": 0, "simulations": 5}).json()
    assert a["simulations"] == 5 and a["network_value_label"] == "network value"
