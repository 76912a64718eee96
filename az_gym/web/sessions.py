"""The games in progress: one :class:`Session` per browser tab, a bounded :class:`SessionStore`.

A session is one game of a human against one of the offered agents. It holds the moves
played (every state is kept, so undo is a pop) and refuses, changing nothing, any request
that does not fit the position: a move out of turn or after the end, an illegal move, an
undo with no move of the human's to take back, a second request while the agent thinks.

The store keeps at most ``max_sessions`` games and forgets the one used least recently
when a new one would pass that bound, so a server left open for days holds a fixed amount
of memory; a request for a forgotten game answers 404 with a message saying why.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from typing import Any

from az_gym.agents.analysis import player_label
from az_gym.game import State
from az_gym.web.boards import board_layout, position_view, seat_label
from az_gym.web.players import Offer, RequestError, timed_move


class Session:
    """One game: the human in seat ``human`` against agent ``agent`` of ``offer``.

    Args:
        offer: the games and agents of the server.
        game: index of the game in ``offer``.
        agent: index of the opponent in ``offer``.
        human: the human's seat (0 moves first).
    """

    def __init__(self, offer: Offer, game: int, agent: int, human: int) -> None:
        choice = offer.game(game)
        offer.check_agent(game, agent)
        if isinstance(human, bool) or human not in range(choice.game.num_players):
            raise RequestError(f"seat must be 0 (move first) or 1 (move second), not {human!r}")
        self.id = secrets.token_urlsafe(12)
        self.offer, self.game_index, self.agent_index, self.human = offer, game, agent, human
        self.game = choice.game
        self.states: list[State] = [self.game.initial_state()]
        self.actions: list[int] = []
        self.movers: list[int] = []
        self.thinking: list[float | None] = []
        """Seconds the agent thought for each move (``None`` for the human's)."""
        self.busy = threading.Lock()
        """Held while a request changes the game (the agent's search included)."""

    # ---------------------------------------------------------------- queries
    @property
    def state(self) -> State:
        """The current position."""
        return self.states[-1]

    def agent_to_move(self) -> bool:
        """Whether the game is running and the agent is to move."""
        g, s = self.game, self.state
        return not g.is_terminal(s) and g.to_play(s) != self.human

    def view(self) -> dict[str, Any]:
        """The JSON the page draws (see :func:`~az_gym.web.boards.position_view`), plus who
        plays what and the agent's thinking time for its last move."""
        game, human = self.game, self.human
        label = player_label(game, human)
        order = "first" if human == 0 else "second"
        seat = seat_label(game, human)
        spec = self.offer.specs[self.agent_index]
        last_think = next((t for t in reversed(self.thinking) if t is not None), None)
        return {
            "id": self.id,
            "game": self.game_index,
            "game_label": self.offer.games[self.game_index].label,
            "agent": self.agent_index,
            "agent_label": spec,
            "human": human,
            "human_label": label,
            "you_are": f"You are {seat}, you move {order}, against {spec}.",
            "agent_to_move": self.agent_to_move(),
            "thinking_seconds": last_think,
            "can_undo": human in self.movers,
            "layout": board_layout(game),
            **position_view(game, self.state, self.actions, self.movers, human),
        }

    # ---------------------------------------------------------------- changes
    def _claim(self) -> None:
        if not self.busy.acquire(blocking=False):
            raise RequestError("the agent is still thinking; wait for its move", 409)

    def _push(self, action: int, thinking: float | None) -> None:
        self.movers.append(int(self.game.to_play(self.state)))
        self.states.append(self.game.next_state(self.state, action))
        self.actions.append(action)
        self.thinking.append(thinking)

    def play(self, action: Any) -> None:
        """Play the human's ``action`` (an index); refused (changing nothing) when it is not
        the human's turn or not a legal move."""
        self._claim()
        try:
            game, state = self.game, self.state
            if game.is_terminal(state):
                raise RequestError("the game is over; start a new game or undo", 409)
            if game.to_play(state) != self.human:
                raise RequestError("it is the agent's turn, not yours", 409)
            legal = game.legal_actions(state)
            if isinstance(action, bool) or not isinstance(action, int) or action not in legal:
                names = " ".join(game.action_to_string(a) for a in legal)
                shown = game.action_to_string(action) if action in range(game.num_actions) else ""
                what = f"{action!r}" + (f" ({shown})" if shown else "")
                raise RequestError(f"illegal move {what}; legal moves: {names}")
            self._push(action, None)
        finally:
            self.busy.release()

    def agent_move(self) -> None:
        """Let the agent choose and play its move (the search runs in the calling thread,
        never on the event loop); refused when it is not the agent's turn."""
        self._claim()
        try:
            if not self.agent_to_move():
                why = "the game is over" if self.game.is_terminal(self.state) else "it is yours"
                raise RequestError(f"it is not the agent's turn: {why}", 409)
            action, seconds = timed_move(self.offer, self.game_index, self.agent_index, self.state)
            self._push(action, seconds)
        finally:
            self.busy.release()

    def undo(self) -> None:
        """Take back the human's last move and every agent move after it."""
        self._claim()
        try:
            if self.human not in self.movers:
                raise RequestError("nothing to undo: you have not moved yet", 409)
            while True:
                mover = self.movers.pop()
                self.states.pop(), self.actions.pop(), self.thinking.pop()
                if mover == self.human:
                    break
        finally:
            self.busy.release()


class SessionStore:
    """At most ``max_sessions`` sessions by id, the least recently used forgotten first.

    Thread-safe: the web framework calls it from its worker threads.
    """

    def __init__(self, max_sessions: int) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions = {max_sessions}; must be >= 1")
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def add(self, session: Session) -> None:
        """Keep ``session``, forgetting the least recently used ones past the bound."""
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)

    def get(self, session_id: str) -> Session:
        """The session of ``session_id`` (now the most recently used); 404 when unknown."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise RequestError(
                    f"no game {session_id[:40]!r}: unknown, or forgotten (this server keeps "
                    f"the {self.max_sessions} most recently used games); start a new game",
                    404,
                )
            self._sessions.move_to_end(session_id)
            return session

    def remove(self, session_id: str) -> None:
        """Forget a session (404 when unknown)."""
        self.get(session_id)
        with self._lock:
            self._sessions.pop(session_id, None)
