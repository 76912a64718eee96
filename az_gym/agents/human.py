"""A human player at a text terminal (or any scripted input function)."""

from __future__ import annotations

from collections.abc import Callable

from az_gym.agents.base import Agent
from az_gym.game import Game, GameOverError, IllegalActionError, State

QUIT_WORDS = frozenset({"quit", "exit", "q"})
"""Answers that stop the game (:class:`HumanQuit` is raised)."""


class HumanQuit(KeyboardInterrupt):
    """The human asked to stop (typed one of :data:`QUIT_WORDS`).

    A subclass of ``KeyboardInterrupt``, so it ends a game loop like Ctrl-C does.
    """


class HumanAgent(Agent):
    """Shows the board and the legal moves by name, and asks for a move until it gets a
    legal one: an unknown name or an illegal move is reported and asked again, never
    played. Moves are typed by name (``game.action_to_string``, e.g. ``"b2"``) or by
    action index.

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
        legal = game.legal_actions(state)
        try:
            action = game.string_to_action(answer)
        except IllegalActionError:
            if not answer.isdigit():
                raise IllegalActionError(answer, legal, game.name) from None
            action = int(answer)
        return game.check_action(state, action)

    def act_state(self, game: Game, state: State) -> int:
        """Show the position, then ask until the answer is a legal move."""
        if game.is_terminal(state):
            raise GameOverError(f"{self.name}: the game is over; there is no move to choose")
        legal = game.legal_actions(state)
        names = ", ".join(game.action_to_string(a) for a in legal)
        self.output_fn(game.render(state))
        self.output_fn(f"player {game.to_play(state)} to move; legal moves: {names}")
        attempts = 0
        while True:
            try:
                text = self.input_fn("your move (or 'quit'): ")
            except EOFError:  # Ctrl-D, or a closed stdin: the player has left
                raise HumanQuit(f"{self.name}: quit (end of input)") from None
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
