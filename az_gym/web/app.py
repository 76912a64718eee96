"""The FastAPI app of ``az-gym serve``: the JSON API and the static page.

Routes (every error answers ``{"error": "one line"}`` with a 4xx status and changes nothing):

* ``GET /`` the play page, ``GET /run`` the run page (with ``--run``), ``/static/...``;
* ``GET /api/config``: the games, and per game the agents (index, label, whether it plays
  the game, whether it analyses), the limits, the run's path;
* ``POST /api/games`` ``{"game": i, "agent": j, "seat": 0|1}``: a new game (its id is
  the tab's: the page keeps it in ``sessionStorage``); ``GET /api/games/{id}``,
  ``DELETE /api/games/{id}``;
* ``POST /api/games/{id}/move`` ``{"action": a}``: the human's move;
  ``POST /api/games/{id}/agent``: the agent's move (its search runs in a worker thread,
  so the page and other tabs stay served); ``POST /api/games/{id}/undo``;
* ``POST /api/games/{id}/analyse`` ``{"agent": j, "simulations": n}``: the overlay;
* ``GET /api/run``: the run's curves (``--run`` only).

Request bodies are checked strictly (unknown fields, wrong types, out-of-range numbers:
400). Endpoints that search (``agent``, ``analyse``) or may load a network (a new game
against a run's best) are plain ``def`` functions, which the framework runs in its thread
pool, never on the event loop; the quick ones are ``async``, so they answer even while every
pool thread waits for a search.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, StrictInt

from az_gym.web.overlay import analyse_position
from az_gym.web.players import Offer, RequestError
from az_gym.web.runs import run_curves
from az_gym.web.sessions import Session, SessionStore

STATIC = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """What ``az-gym serve`` was started with."""

    offer: Offer
    """The games and agents offered."""
    max_sessions: int = 200
    """Games kept in memory; the least recently used is forgotten past it."""
    max_simulations: int = 5000
    """The largest simulation count the analysis slider may ask for."""
    run_dir: Path | None = None
    """The training run of the run page (``--run``), if any."""
    run_game: int | None = None
    """Index of the run's game in ``offer.games``."""
    run_agent: int | None = None
    """Index of the agent that plays the run's current best network."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewGame(_Body):
    """A new game: indices into ``/api/config``'s lists, and the human's seat."""

    game: StrictInt
    agent: StrictInt
    seat: StrictInt = 0


class Move(_Body):
    """The human's move, an action index (``legal[k].action`` of the game's view)."""

    action: StrictInt


class Analyse(_Body):
    """The analysing agent and the simulations of its search (``None``: its own)."""

    agent: StrictInt
    simulations: StrictInt | None = None


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "malformed request: " + "; ".join(parts)


def create_app(config: ServerConfig) -> FastAPI:
    """The web app over ``config`` (a fresh session store per app)."""
    app = FastAPI(title="az_gym", docs_url=None, redoc_url=None, openapi_url=None)
    # Handlers and quick routes are ``async``: Starlette runs a plain ``def`` handler in the
    # thread pool, where it would queue behind searches that hold every thread.
    store = SessionStore(config.max_sessions)
    offer = config.offer
    app.state.store = store  # the games in memory (read by tests and by nothing else)

    @app.exception_handler(RequestError)
    async def _refused(_request: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _malformed(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(exc)}, status_code=400)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/run", include_in_schema=False)
    async def run_page() -> FileResponse:
        if config.run_dir is None:
            raise RequestError("this server was started without --run RUN_DIR", 404)
        return FileResponse(STATIC / "run.html")

    @app.get("/api/config")
    async def get_config() -> dict[str, Any]:
        return {
            "games": offer.describe(),
            "max_simulations": config.max_simulations,
            "max_sessions": config.max_sessions,
            "run": None
            if config.run_dir is None
            else {"path": str(config.run_dir), "game": config.run_game, "agent": config.run_agent},
        }

    @app.post("/api/games")
    def new_game(body: NewGame) -> dict[str, Any]:
        session = Session(offer, body.game, body.agent, body.seat)
        store.add(session)
        return session.view()

    @app.get("/api/games/{session_id}")
    async def get_game(session_id: str) -> dict[str, Any]:
        return store.get(session_id).view()

    @app.delete("/api/games/{session_id}")
    async def delete_game(session_id: str) -> dict[str, Any]:
        store.remove(session_id)
        return {"deleted": session_id}

    @app.post("/api/games/{session_id}/move")
    async def move(session_id: str, body: Move) -> dict[str, Any]:
        session = store.get(session_id)
        session.play(body.action)
        return session.view()

    @app.post("/api/games/{session_id}/agent")
    def agent_move(session_id: str) -> dict[str, Any]:
        session = store.get(session_id)
        session.agent_move()
        return session.view()

    @app.post("/api/games/{session_id}/undo")
    async def undo(session_id: str) -> dict[str, Any]:
        session = store.get(session_id)
        session.undo()
        return session.view()

    @app.post("/api/games/{session_id}/analyse")
    def analyse(session_id: str, body: Analyse) -> dict[str, Any]:
        session = store.get(session_id)
        return analyse_position(
            offer, session.game_index, body.agent, session.state, body.simulations,
            config.max_simulations,
        )  # fmt: skip

    @app.get("/api/run")
    def run() -> dict[str, Any]:
        if config.run_dir is None:
            raise RequestError("this server was started without --run RUN_DIR", 404)
        try:
            return run_curves(config.run_dir)
        except ValueError as e:  # RunDirError: a damaged state.json
            raise RequestError(str(e).splitlines()[0], 503) from None

    @app.exception_handler(404)
    async def _not_found(request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"no page or API route {request.url.path}"}, status_code=404)

    @app.exception_handler(405)
    async def _bad_method(request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"error": f"{request.method} is not allowed on {request.url.path}"}, status_code=405
        )

    return app
