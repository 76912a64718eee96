"""Many games played in lockstep: the runner shared by self-play, the arena and benchmarks.

``num_concurrent`` game slots stay alive at once. Each simulation step asks every seat's
player to search, in one batch, all the live games where that seat is to move (so one
:class:`~az_gym.mcts.BatchedMcts` makes one evaluator call per simulation step over up to
``num_concurrent`` leaves). When a game ends, a new one starts in its slot until
``num_games`` are done.

Every position played becomes a sample (except the fast searches of playout-cap
randomisation, which the player marks in :attr:`Decision.record`): the observation from
the mover's view, the legal mask, the search policy ``pi``
(:attr:`~az_gym.mcts.SearchResult.policy_target`: the normalised visit counts, or the Gumbel
search's improved policy), the mover, its key; when the game ends each sample gets ``z``
(the final return for *that position's mover*) and the number of
moves left. Nothing here touches autograd: players only call evaluators. With ``q_weight =
w > 0`` (``SelfPlayParams.value_target_q_weight``) the value target is ``(1 - w) * z + w *
q`` instead, ``q`` the root value of the search that chose the move (a player that reports
none, such as a baseline, leaves ``z``).

Value targets of proven positions (``MctsParams.solver``): a position whose search proved
its value gets that exact value as ``z`` instead of the game's outcome. AlphaZero's ``z`` is
an unbiased but noisy sample of the position's value under self-play (an exploratory move
later can throw a won game away); the proof is the game-theoretic value itself, the quantity
the value head is meant to approach, without the noise. The two agree whenever the rest of
the game is played without a blunder, so the exact value is never the worse target (as
Leela's "exact win" targets).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from az_gym.game import Game, State, random_moves
from az_gym.mcts import BatchedMcts, Evaluator, MctsParams, SearchResult
from az_gym.training.samples import TrainingData


class Decision(tuple):
    """What a :class:`Player` decided for ``B`` game slots: the pair ``(pi, play)`` (it
    unpacks as one, so callers of :meth:`Player.decide` that take two values keep working)
    with the proven values and the root values alongside.

    Attributes:
        pi: ``float[B, A]`` the search policy to record.
        play: ``float[B, A]`` the distribution to draw the move from.
        exact: ``float[B]`` each position's proven value for its mover (NaN where
            unproven), its value target instead of the outcome (module docstring);
            ``None``: nothing proven.
        root_value: ``float[B]`` each search's root value for the mover (``None``: no
            search value, e.g. a baseline player).
        record: ``bool[B]`` which positions become samples (``None``: all); false for a
            fast search under playout-cap randomisation (:class:`MctsPlayer`).
    """

    pi: np.ndarray
    play: np.ndarray
    exact: np.ndarray | None
    root_value: np.ndarray | None
    record: np.ndarray | None

    def __new__(
        cls,
        pi: np.ndarray,
        play: np.ndarray,
        exact: np.ndarray | None = None,
        root_value: np.ndarray | None = None,
        record: np.ndarray | None = None,
    ):
        self = super().__new__(cls, (pi, play))
        self.pi, self.play, self.exact, self.root_value = pi, play, exact, root_value
        self.record = record
        return self


class Player(Protocol):
    """A seat's decision maker over many game slots at once."""

    def decide(
        self, slots: Sequence[int], states: Sequence[State], move_numbers: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(pi float[B, A], play_dist float[B, A])`` for the ``B`` given slots: the
        search policy to record and the distribution to draw the move from (a
        :class:`Decision` adds proven values)."""
        ...

    def reset(self, slot: int | None = None) -> None:
        """Forget the search tree of ``slot`` (all slots if ``None``)."""
        ...


class MctsPlayer:
    """A :class:`BatchedMcts` over an evaluator, one tree per game slot.

    Args:
        game: the rules.
        evaluator: scores leaf batches (``NetworkEvaluator``, ``UniformEvaluator``...).
        params: search parameters (simulations per move, temperature schedule...).
        add_noise: root exploration noise (self-play: yes, arena: as params): Dirichlet
            noise in the priors, or with ``root_policy = "gumbel"`` Gumbel noise (and the
            move played is then the search's selected action).
        rng: randomness of the search.
        full_fraction: playout-cap randomisation (``SelfPlayParams.full_search_fraction``):
            each position is searched in full with this probability, else with
            ``fast_simulations``, and only full searches are marked for recording
            (:attr:`Decision.record`). ``1``: every search is full.
        fast_simulations: simulations of a fast search.
    """

    def __init__(
        self,
        game: Game,
        evaluator: Evaluator,
        params: MctsParams,
        *,
        add_noise: bool,
        rng: np.random.Generator,
        full_fraction: float = 1.0,
        fast_simulations: int = 0,
    ) -> None:
        if not 0.0 < full_fraction <= 1.0:
            raise ValueError(f"MctsPlayer: full_fraction = {full_fraction}; must be in (0, 1]")
        if full_fraction < 1.0 and not 1 <= fast_simulations <= params.num_iters_per_turn:
            raise ValueError(
                f"MctsPlayer: fast_simulations = {fast_simulations}; must be in "
                f"[1, num_iters_per_turn={params.num_iters_per_turn}]"
            )
        self.game = game
        self.params = params
        self.add_noise = add_noise
        self.full_fraction = full_fraction
        self.fast_simulations = fast_simulations
        self.rng = rng
        self.mcts = BatchedMcts(game, evaluator, params, rng=rng)
        self.last_result: SearchResult | None = None
        """The search behind the latest :meth:`decide` (for inspection)."""

    def decide(
        self, slots: Sequence[int], states: Sequence[State], move_numbers: Sequence[int]
    ) -> Decision:
        """Search the states of ``slots`` in one batch (see :class:`Player`).

        Each game slot is its own tree slot of the search, so a game keeps its tree even
        when the set of games this player is asked about changes from call to call. With
        the solver, positions it proved carry their exact value. With ``full_fraction <
        1`` the full and the fast searches are two batched calls, and the decision marks
        the full ones for recording."""
        if self.full_fraction >= 1.0:
            return self._decide(slots, states, move_numbers, None)
        full = self.rng.random(len(states)) < self.full_fraction
        parts = [
            (np.flatnonzero(full), None),
            (np.flatnonzero(~full), self.fast_simulations),
        ]
        b, a = len(states), self.game.num_actions
        pi, play = np.zeros((b, a)), np.zeros((b, a))
        exact, root_value = np.full(b, np.nan), np.zeros(b)
        for idx, sims in parts:
            if not idx.size:
                continue
            d = self._decide(
                [slots[i] for i in idx], [states[i] for i in idx],
                [move_numbers[i] for i in idx], sims,
            )  # fmt: skip
            pi[idx], play[idx], root_value[idx] = d.pi, d.play, d.root_value
            if d.exact is not None:
                exact[idx] = d.exact
        return Decision(pi, play, exact, root_value, full)

    def _decide(
        self,
        slots: Sequence[int],
        states: Sequence[State],
        move_numbers: Sequence[int],
        num_simulations: int | None,
    ) -> Decision:
        """One batched search of ``states`` (``num_simulations=None``: the full budget)."""
        result = self.mcts.search(
            list(states), add_noise=self.add_noise, trees=list(slots),
            num_simulations=num_simulations,
        )  # fmt: skip
        self.last_result = result
        pi = np.asarray(result.policy_target, dtype=np.float64)
        play = np.asarray(self.mcts.policy(result, list(move_numbers)), dtype=np.float64)
        return Decision(pi, play, result.proven_value, np.asarray(result.root_value, np.float64))

    def reset(self, slot: int | None = None) -> None:
        """Empty the tree of game ``slot`` (all trees if ``None``)."""
        self.mcts.reset(slot)


@dataclass
class _Slot:
    """One live game: its state, its history, the seat order of its players."""

    game_index: int
    state: State
    swap: bool
    moves: int = 0
    obs: list[np.ndarray] = field(default_factory=list)
    pis: list[np.ndarray] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)
    movers: list[int] = field(default_factory=list)
    exact: list[float] = field(default_factory=list)
    qs: list[float] = field(default_factory=list)
    plies: list[int] = field(default_factory=list)
    """Move number of each recorded position (all of them unless the player marked some
    as not to record, see :attr:`Decision.record`)."""


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate` played.

    Attributes:
        samples: the positions played (empty if not recorded).
        returns: ``float[num_games, num_players_in_list]``; ``returns[g, i]`` is the return
            of ``players[i]`` (not of the seat) in game ``g``.
        lengths: ``int[num_games]`` moves per game.
        seconds: wall time.
    """

    samples: TrainingData
    returns: np.ndarray
    lengths: np.ndarray
    seconds: float


def simulate(
    game: Game,
    players: Sequence[Player],
    num_games: int,
    *,
    num_concurrent: int,
    rng: np.random.Generator,
    record: bool = True,
    alternate_colors: bool = False,
    flip_probability: float = 0.0,
    gamma: float = 1.0,
    q_weight: float = 0.0,
    opening_plies: int = 0,
    on_game_end: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Play ``num_games`` games, ``num_concurrent`` at a time, and collect samples.

    Args:
        game: the rules.
        players: one :class:`Player` per seat (``len == game.num_players``), or a single
            player that plays every seat (self-play).
        num_games: games to finish.
        num_concurrent: games alive at once (``SimParams.num_workers``).
        rng: draws moves, flips and symmetries.
        record: keep the positions as :class:`~az_gym.training.samples.TrainingData`.
        alternate_colors: swap the two players' seats in every other game.
        flip_probability: before each turn, replace the state by a random symmetric one
            with this probability (the recorded observation and policy are the flipped ones).
        gamma: discount of the value targets, as in the search (AlphaZero.jl's
            ``push_trace!``): a position ``k`` moves from the end gets
            ``z = gamma ** (k - 1) * return``.
        q_weight: ``w`` in ``[0, 1]``: value targets ``(1 - w) * z + w * q`` (module
            docstring); proven positions keep their exact value.
        opening_plies: ``n``: each game starts after ``k`` uniformly random legal moves,
            ``k`` uniform in ``0..n`` (``SelfPlayParams.random_opening_plies``; see
            :func:`random_start`); the moves are not recorded.
        on_game_end: called with the number of finished games after each one ends.
    """
    if num_games < 0 or num_concurrent < 1:
        raise ValueError(
            f"simulate: num_games must be >= 0 and num_concurrent >= 1 "
            f"(got {num_games} and {num_concurrent})"
        )
    if not 0.0 <= q_weight <= 1.0:
        raise ValueError(f"simulate: q_weight must be in [0, 1], got {q_weight}")
    if len(players) not in (1, game.num_players):
        raise ValueError(
            f"simulate: {game.name} has {game.num_players} seats; got {len(players)} players"
        )
    seats = list(players) * (game.num_players if len(players) == 1 else 1)
    symmetries = game.symmetries()[1:] if flip_probability > 0 else []
    start = time.perf_counter()
    returns = np.zeros((num_games, len(players)))
    lengths = np.zeros(num_games, dtype=np.int64)
    parts: list[TrainingData] = []
    started = finished = 0
    per_slot_games = [0] * num_concurrent
    slots: list[_Slot | None] = [None] * min(num_concurrent, max(num_games, 1))

    def new_slot() -> _Slot | None:
        nonlocal started
        if started >= num_games:
            return None
        swap = alternate_colors and len(players) == 2 and started % 2 == 1
        state, plies = (
            random_start(game, opening_plies, rng) if opening_plies else (game.initial_state(), 0)
        )
        slot = _Slot(started, state, swap, plies)
        started += 1
        return slot

    for i in range(len(slots)):
        slots[i] = new_slot()
    while any(s is not None for s in slots):
        live = [(i, s) for i, s in enumerate(slots) if s is not None]
        if symmetries:
            for _, s in live:
                if rng.random() < flip_probability:
                    sym = symmetries[int(rng.integers(len(symmetries)))]
                    s.state = game.apply_symmetry(s.state, sym)
        # Group the live games by the player object to move, one batched decision each.
        groups: dict[int, list[tuple[int, _Slot]]] = {}
        for i, s in live:
            seat = game.to_play(s.state)
            if s.swap:
                seat = 1 - seat
            groups.setdefault(id(seats[seat]), []).append((i, s))
        for members in groups.values():
            s0 = members[0][1]
            seat0 = game.to_play(s0.state)
            player = seats[1 - seat0 if s0.swap else seat0]
            states = [s.state for _, s in members]
            decision = player.decide([i for i, _ in members], states, [s.moves for _, s in members])
            pi, play = decision
            exact = getattr(decision, "exact", None)
            root_value = getattr(decision, "root_value", None)
            keep = getattr(decision, "record", None)
            masks = np.asarray(game.legal_masks(states), dtype=bool)  # one batched call each
            obs = game.observations(states) if record else None
            for k, (_, s) in enumerate(members):
                mask = masks[k]
                action = _choose(play[k], mask, rng)
                if record and (keep is None or keep[k]):
                    s.obs.append(obs[k])
                    s.pis.append(pi[k].astype(np.float32))
                    s.masks.append(mask)
                    s.movers.append(game.to_play(s.state))
                    s.exact.append(np.nan if exact is None else float(exact[k]))
                    s.qs.append(np.nan if root_value is None else float(root_value[k]))
                    s.plies.append(s.moves)
                s.state = game.next_state(s.state, action)
                s.moves += 1
        for i, s in live:
            if not game.is_terminal(s.state):
                continue
            final = np.asarray(game.returns(s.state), dtype=np.float64)
            order = [1, 0] if s.swap else list(range(len(players)))
            returns[s.game_index] = final[order] if len(players) > 1 else final[:1]
            lengths[s.game_index] = s.moves
            if record and s.obs:
                parts.append(_to_samples(s, final, gamma, q_weight))
            finished += 1
            per_slot_games[i] += 1
            for p in players:  # a new game never reuses the old tree: free it now
                p.reset(i)
            if on_game_end is not None:
                on_game_end(finished)
            slots[i] = new_slot()
    samples = (
        TrainingData.concat(parts)
        if parts
        else TrainingData.empty(game.observation_shape, game.num_actions)
    )
    return SimulationResult(samples, returns, lengths, time.perf_counter() - start)


def random_start(
    game: Game, max_plies: int, rng: np.random.Generator, tries: int = 100
) -> tuple[State, int]:
    """A running position after ``k`` uniformly random legal moves from the initial one,
    ``k`` uniform in ``0..max_plies``, and ``k``. A draw that ends the game is made again
    (``k`` too), up to ``tries`` times; then the initial position and 0."""
    for _ in range(tries):
        s, moves = random_moves(game, int(rng.integers(max_plies + 1)), rng)
        if not game.is_terminal(s):
            return s, len(moves)
    return game.initial_state(), 0


def _choose(dist: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> int:
    """Draw a legal action from ``dist float[A]`` (the temperature policy: a one-hot
    distribution plays the argmax); uniform over the legal actions if ``dist`` is empty."""
    p = np.where(mask, np.maximum(dist, 0.0), 0.0)
    total = p.sum()
    if total <= 0:
        p, total = mask.astype(np.float64), float(mask.sum())
    return int(rng.choice(p.size, p=p / total))


def _to_samples(
    slot: _Slot, final: np.ndarray, gamma: float = 1.0, q_weight: float = 0.0
) -> TrainingData:
    """Turn a finished game's history into samples with ``z`` for each mover (discounted
    by ``gamma`` per move to the end; mixed with the root values by ``q_weight`` where
    the player reported them; a proven position's exact value where it has one)."""
    moves_left = (slot.moves - np.asarray(slot.plies, np.int64)).astype(np.float32)
    z = final[np.asarray(slot.movers)] * gamma ** (moves_left - 1)
    if q_weight > 0:
        q = np.asarray(slot.qs, np.float64)
        z = np.where(np.isnan(q), z, (1.0 - q_weight) * z + q_weight * q)
    exact = np.asarray(slot.exact, np.float64)
    return TrainingData.from_arrays(
        np.stack(slot.obs),
        np.stack(slot.pis),
        np.where(np.isnan(exact), z, exact),
        np.stack(slot.masks),
        moves_left,
    )
