"""A human player at a text terminal (or any scripted input function), and a game of a
human against an agent (what ``az-gym play`` runs).

Games may name their players with a ``player_marks`` tuple (``("X", "O")`` in the native
games) and tell the line that won with ``winning_line(state)`` (a list of actions, or
``None``); both are optional and used when present.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from az_gym.agents.analysis import player_label
from az_gym.agents.base import Agent
from az_gym.game import Game, GameOverError, IllegalActionError, State

QUIT_WORDS = frozenset({"quit", "exit", "q"})
"""Answers that stop the game (:class:`HumanQuit` is raised)."""

LIST_WORDS = frozenset({"moves", "?"})
"""Answers that list every legal move (then ask again)."""

MAX_LISTED = 20
"""Positions with more legal moves than this show their count and a few of them each turn
(a 9x9 gomoku board has up to 81); ``moves`` lists them all."""


class HumanQuit(KeyboardInterrupt):
    """The human asked to stop (typed one of :data:`QUIT_WORDS`).

    A subclass of ``KeyboardInterrupt``, so it ends a game loop like Ctrl-C does.
    """


class HumanAgent(Agent):
    """Shows the board and the legal moves by name, and asks for a move until it gets a
    legal one: an unknown name or an illegal move is reported and asked again, never
    played. Moves are typed by name (``game.action_to_string``, e.g. ``"b2"``) or by
    action index. With more than :data:`MAX_LISTED` legal moves, each turn shows their
    count and a few of them; ``moves`` (or ``?``) lists them all.

    Args:
        input_fn: reads one answer given a prompt (default: :func:`input`).
        output_fn: shows one message (default: :func:`print`).
        max_attempts: give up with ``ValueError`` after this many bad answers
            (``None``: ask forever); protects scripted inputs from looping.
    """

    name = "human"

    def __init__(
        self,
        input_fn: Callable[[str], str] = input,
        output_fn: Callable[[str], object] = print,
        max_attempts: int | None = None,
    ) -> None:
        self.input_fn = input_fn
        self.output_fn = output_fn
        self.max_attempts = max_attempts

    def parse(self, game: Game, state: State, text: str) -> int:
        """Turn an answer into a legal action.

        Raises:
            HumanQuit: the answer is a quit word.
            IllegalActionError: no action has that name or index, or it is not legal here.
        """
        answer = text.strip()
        if answer.lower() in QUIT_WORDS:
            raise HumanQuit(f"{self.name}: quit at the player's request")
        try:
            action = text_to_action(game, answer)
        except IllegalActionError:
            raise IllegalActionError(answer, game.legal_actions(state), game.name) from None
        return game.check_action(state, action)

    def act_state(self, game: Game, state: State) -> int:
        """Show the position, then ask until the answer is a legal move."""
        if game.is_terminal(state):
            raise GameOverError(f"{self.name}: the game is over; there is no move to choose")
        legal = game.legal_actions(state)
        every = ", ".join(game.action_to_string(a) for a in legal)
        names = every if len(legal) <= MAX_LISTED else _few(game, legal)
        self.output_fn(game.render(state))
        self.output_fn(f"{player_label(game, game.to_play(state))} to move; legal moves: {names}")
        attempts = 0
        while True:
            try:
                text = self.input_fn("your move (or 'quit'): ")
            except EOFError:  # Ctrl-D, or a closed stdin: the player has left
                raise HumanQuit(f"{self.name}: quit (end of input)") from None
            if not text.strip():  # Enter alone: ask again, as a shell prompt does
                continue
            if text.strip().lower() in LIST_WORDS:
                self.output_fn(f"legal moves: {every}")
                continue
            try:
                return self.parse(game, state, text)
            except IllegalActionError:
                attempts += 1
                self.output_fn(f"{text.strip()!r} is not a legal move here; legal moves: {names}")
                if self.max_attempts is not None and attempts >= self.max_attempts:
                    raise ValueError(
                        f"{self.name}: no legal move after {attempts} answers "
                        f"(max_attempts={self.max_attempts})"
                    ) from None


def _few(game: Game, legal: list[int]) -> str:
    """``"78 of them (a9, b9, c9, ..., i1); type 'moves' to list them all"``."""
    shown = [game.action_to_string(a) for a in (*legal[:3], legal[-1])]
    head = f"{len(legal)} of them ({', '.join(shown[:3])}, ..., {shown[3]})"
    return f"{head}; type 'moves' to list them all"


def text_to_action(game: Game, text: str) -> int:
    """The action a typed move names: its name (``b2``; case and spaces ignored), else its
    index (``4``) when no action has that name. The one reading of a typed move, for
    ``play`` and ``analyse`` alike; legality is the caller's check. In a game whose moves
    are named by numbers (Connect Four's columns ``1``-``7``) a number is a name only: ``0``
    is no column, not the index of column ``1``.

    Raises:
        IllegalActionError: neither a name nor an index in ``0..num_actions - 1``.
    """
    try:
        return game.string_to_action(text)
    except IllegalActionError:
        answer = text.strip()
        if not answer.isdigit() or int(answer) >= game.num_actions:
            raise
        if any(game.action_to_string(a).strip().isdigit() for a in range(game.num_actions)):
            raise
        return int(answer)


def result_words(returns: np.ndarray, player: int) -> str:
    """``"you win"``, ``"you lose"`` or ``"draw"`` for ``player`` given the final returns."""
    others = [r for q, r in enumerate(returns) if q != player]
    if all(returns[player] > r for r in others):
        return "you win"
    if any(returns[player] < r for r in others):
        return "you lose"
    return "draw"


def play_against(
    game: Game,
    opponent: Agent,
    human_player: int = 0,
    *,
    opponent_name: str | None = None,
    seed: int | None = None,
    input_fn: Callable[[str], str] = input,
    output_fn: Callable[[str], object] = print,
) -> np.ndarray:
    """One game of a human (typing moves through ``input_fn``) against ``opponent``.

    Says which side the human plays, shows the board and legal moves before each of the
    human's moves and each move of the opponent by name, and at the end the final board,
    the winning line when the game can tell it, and the result in words.

    Args:
        game: a two-player game.
        opponent: the agent playing every other seat.
        human_player: the human's seat (0 moves first).
        opponent_name: how to call the opponent (default: ``opponent.name``).
        seed: reseeds the opponent before the game (``None``: leave its stream).

    Returns:
        ``float[num_players]``: the final returns.

    Raises:
        HumanQuit: the human typed a quit word or closed the input (Ctrl-D).
    """
    human = HumanAgent(input_fn, output_fn)
    name = opponent_name or opponent.name
    opponent.check_game(game)
    opponent.reset()
    if seed is not None:
        opponent.reseed(seed)
    order = "first" if human_player == 0 else "second"
    output_fn(f"you are {player_label(game, human_player)} ({order}), against {name}")
    state = game.initial_state()
    while not game.is_terminal(state):
        mover = game.to_play(state)
        if mover == human_player:
            action = human.act_state(game, state)
        else:
            action = opponent.act_state(game, state)
            output_fn(f"{name} ({player_label(game, mover)}) plays {game.action_to_string(action)}")
        state = game.step(state, action)
    output_fn(game.render(state))
    returns = np.asarray(game.returns(state), dtype=np.float64)
    line = getattr(game, "winning_line", lambda _: None)(state)
    if line:
        winner = int(np.argmax(returns))
        cells = " ".join(game.action_to_string(a) for a in line)
        output_fn(f"{player_label(game, winner)} wins with {cells}")
    output_fn(result_words(returns, human_player))
    return returns
