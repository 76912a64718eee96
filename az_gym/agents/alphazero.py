"""The AlphaZero player: batched PUCT search guided by a policy-value network.

:class:`AlphaZeroAgent` plays any compliant game: a native az_gym game or env, any
PettingZoo AEC env with action masks (through the adapter), or a ``(game, state)`` pair.
It keeps its search tree between its own consecutive moves (the subtree under the position
it is asked about is reused, matched by ``game.key``).

Move choice: ``pi ∝ visits^(1/tau)``. By default ``tau = 0``: the most visited action
(lowest index on ties), the strongest play, which is what evaluation wants. With
``MctsParams.root_policy = "gumbel"`` the agent searches without Gumbel noise (unless
``add_noise``) and plays the search's selected action, or at ``tau > 0`` draws from the
improved policy (:func:`~az_gym.mcts.play_policy`). ``temperature``
fixes another ``tau``; ``temperature="schedule"`` uses the MCTS temperature schedule at the
game's ``move_number(state)`` (self-play style; for games that expose a move number).
Self-play and the arena apply the schedule themselves (:mod:`az_gym.training.simulation`).

Evaluation cache: the network's answers are kept for the last ``cache_size`` positions (by
``game.key``, :mod:`az_gym.eval_cache`), across moves and games, emptied whenever the
network's weights change; :attr:`AlphaZeroAgent.cache_stats` gives its hit rate. With
``MctsParams.symmetry_averaging`` the network is averaged over the game's symmetries under
the cache (:class:`~az_gym.evaluators.SymmetryAveragedEvaluator`).

Checkpoints (:meth:`AlphaZeroAgent.save`) are the trainer's format
(:mod:`az_gym.checkpoint_format`): one ``torch.save`` file of tensors and plain values, read
back by its one safe loader (zip and CRC-32 checks, ``weights_only=True``, weights checked
against the described network before it is built), so loading never runs code from the file.
:meth:`AlphaZeroAgent.export_onnx` writes the policy-value network as an ONNX model (the
``onnx`` extra), averaged over the symmetries inside the graph when the agent averages.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from az_gym._seeds import check_seed
from az_gym.agents.analysis import Analysis, analyse_with
from az_gym.agents.base import Agent
from az_gym.checkpoint_format import (
    CheckpointError,
    make_checkpoint,
    network_from_checkpoint,
    read_checkpoint,
)
from az_gym.envs.registry import as_game
from az_gym.eval_cache import CacheStats, cache_stats, with_cache
from az_gym.evaluators import SymmetryAveragedEvaluator
from az_gym.game import Game, GameOverError, State, Symmetry
from az_gym.inference import PriorsValue, SymmetryAveragedPriorsValue, quiet_onnx_export
from az_gym.mcts import BatchedMcts, MctsParams, play_policy
from az_gym.networks import NetworkConfig, NetworkEvaluator, PolicyValueNet, resolve_device
from az_gym.schedules import Schedule


def game_from_id(game_id: str) -> Game:
    """Rebuild a native game from its ``game_id`` (``"othello(size=6)"``).

    Raises:
        ValueError: not the id of a registered native game.
    """
    from az_gym.envs.registry import make_game

    name, _, rest = game_id.partition("(")
    kwargs: dict[str, Any] = {}
    if rest:
        for item in rest.rstrip(")").split(","):
            k, _, v = item.partition("=")
            try:
                kwargs[k] = ast.literal_eval(v)
            except (ValueError, SyntaxError):
                kwargs[k] = v
    try:
        return make_game(name, **kwargs)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"cannot rebuild game {game_id!r} from the registry ({e}); pass env_or_game"
        ) from None


def check_symmetric(game: Game) -> None:
    """Raise ``ValueError`` unless ``game`` has a symmetry besides the identity, which
    :attr:`MctsParams.symmetry_averaging` needs (on any other game it would do nothing)."""
    from az_gym.envs.registry import symmetries_of

    if len(symmetries_of(game)) < 2:
        raise ValueError(
            f"symmetry averaging (MctsParams.symmetry_averaging, the ':sym' of a spec) "
            f"needs a game with symmetries; {game.name} has none"
        )


DEFAULT_CACHE_SIZE = 100_000
"""Evaluation-cache entries of an :class:`AlphaZeroAgent` by default (a few MB for the
native games)."""


def _options_hint(game_id: object, game: Game) -> str:
    """``"; play it on othello with size=6 (az-gym: -o size=6)"`` when ``game_id`` is
    ``game``'s game with other options, else ``""``."""
    name, sep, rest = str(game_id).partition("(")
    if not sep or name != game.name or not rest.endswith(")"):
        return ""
    opts = [o.strip() for o in rest[:-1].split(",") if o.strip()]
    if not opts or not all(re.fullmatch(r"\w+=[\w.\-]+", o) for o in opts):
        return ""
    flags = " ".join(f"-o {o}" for o in opts)
    return f"; play it on {name} with {', '.join(opts)} (az-gym: {flags})"


def check_simulations(n: Any, name: str = "simulations") -> int:
    """``n`` as a simulation count: an integer ``>= 1`` (a ``bool`` is not one).

    Raises:
        ValueError: anything else, naming ``name``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name}={n!r} must be an integer >= 1")
    return int(n)


class AlphaZeroAgent(Agent):
    """Batched MCTS + :class:`PolicyValueNet` player.

    Args:
        env_or_game: the game, in any form :func:`~az_gym.envs.registry.as_game` accepts
            (a registry name, a Game, an env of any kind, a ``(game, state)`` pair, a
            factory).
        network: a network, a :class:`NetworkConfig` to build one, or ``None`` (default
            config). A fresh network is initialised from ``seed`` when given.
        mcts: search parameters (default :class:`MctsParams`).
        simulations: simulations per move, replacing ``mcts.num_iters_per_turn`` (``None``:
            keep it), as in :func:`az_gym.pretrained`.
        use_gpu: run the network on CUDA when available.
        seed: seeds move sampling, Dirichlet noise and a fresh network's weights.
        add_noise: root exploration noise (self-play): Dirichlet noise in the priors, or
            Gumbel noise with ``root_policy = "gumbel"``.
        temperature: fixed move temperature; ``None`` uses the rule in the module docstring.
        cache_size: entries of the evaluation cache (0: none; see the module docstring).
        inference: the network's engine (:mod:`az_gym.inference`): ``"auto"`` (ONNX Runtime
            on the CPU when installed, else eager), ``"eager"``, ``"onnx"``, ``"compile"``.
    """

    name = "alphazero"

    def __init__(
        self,
        env_or_game: Any,
        network: PolicyValueNet | NetworkConfig | None = None,
        mcts: MctsParams | None = None,
        *,
        simulations: int | None = None,
        use_gpu: bool = False,
        seed: int | None = None,
        add_noise: bool = False,
        temperature: float | str | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
        inference: str = "auto",
    ) -> None:
        self.game = as_game(env_or_game)
        if network is None or isinstance(network, NetworkConfig):
            with torch.random.fork_rng(devices=[]):
                if seed is not None:
                    torch.manual_seed(seed)
                network = PolicyValueNet(
                    self.game.observation_shape, self.game.num_actions, network
                )
        if not isinstance(network, PolicyValueNet):
            raise TypeError(
                f"network must be a PolicyValueNet, a NetworkConfig or None, "
                f"not {type(network).__name__}"
            )
        if (network.observation_shape, network.num_actions) != (
            tuple(self.game.observation_shape),
            self.game.num_actions,
        ):
            raise ValueError(
                f"network made for observations {network.observation_shape} and "
                f"{network.num_actions} actions; {self.game.game_id} has "
                f"{tuple(self.game.observation_shape)} and {self.game.num_actions}"
            )
        self.params = mcts if mcts is not None else MctsParams()
        if simulations is not None:
            check_simulations(simulations)
            self.params = dataclasses.replace(self.params, num_iters_per_turn=int(simulations))
        if self.params.symmetry_averaging:
            check_symmetric(self.game)
        self.network = network
        self.device = resolve_device(use_gpu)
        self.evaluator = NetworkEvaluator(network, self.device, inference=inference)
        self.add_noise = add_noise
        if not (temperature is None or temperature == "schedule" or (
            isinstance(temperature, (int, float)) and temperature >= 0
        )):  # fmt: skip
            raise ValueError(
                f"temperature={temperature!r} must be None, a number >= 0 or 'schedule'"
            )
        self.temperature = temperature
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ValueError(f"cache_size={cache_size!r} must be an integer >= 0 (0: no cache)")
        self.cache_size = cache_size
        self._cached = self._search_evaluator(self.game)
        check_seed(seed)
        self.rng = np.random.default_rng(seed)
        self._mcts = BatchedMcts(self.game, self._cached, self.params, rng=self.rng)

    @property
    def cache_stats(self) -> CacheStats | None:
        """Lookups and hits of the evaluation cache so far (``None``: ``cache_size=0``)."""
        return cache_stats(self._cached)

    def _search_evaluator(self, game: Game) -> object:
        """The network as the search of ``game`` calls it: averaged over the symmetries when
        ``params.symmetry_averaging``, then behind the evaluation cache."""
        ev: object = self.evaluator
        if self.params.symmetry_averaging:
            ev = SymmetryAveragedEvaluator(ev, game)
        return with_cache(ev, game, self.cache_size, network=self.network)

    def _evaluator_for(self, game: Game) -> object:
        """The (cached) evaluator for searching ``game``: the cache's keys and observations
        are those of the game searched, so another game object gets a cache of its own."""
        if getattr(self._cached, "game", game) is not game:
            self._cached = self._search_evaluator(game)
        return self._cached

    # ----------------------------------------------------------------- playing
    def check_game(self, game: Game) -> None:
        """Raise ``ValueError`` if ``game`` is not the game this agent was built for.

        A ``pettingzoo.classic`` env declared identical to a native game
        (:data:`~az_gym.envs.registry.CLASSIC_EQUIVALENTS`) counts as that game.
        """
        from az_gym.envs.registry import canonical_game_id

        if canonical_game_id(game) != canonical_game_id(self.game):
            raise ValueError(
                f"{self.name}: built for game {self.game.game_id!r}, asked to play {game.game_id!r}"
            )

    def _tau(self, game: Game, state: State) -> float:
        if self.temperature is None:
            return 0.0
        if self.temperature != "schedule":
            return float(self.temperature)
        move = game.move_number(state)
        if move is None:
            raise ValueError(
                f"{self.name}: temperature='schedule' needs a move number, and "
                f"{game.game_id} does not give one (Game.move_number)"
            )
        sched: Schedule = self.params.temperature
        return float(sched[int(move)])

    def act_state(self, game: Game, state: State) -> int:
        """Return the chosen legal action for the player to move in ``state``."""
        return self.act_states(game, [state])[0]

    def act_states(self, game: Game, states: Sequence[State]) -> list[int]:
        """Return one action per state, all searched by ONE batched search."""
        self.check_game(game)
        if not states:
            return []
        for i, s in enumerate(states):
            if game.is_terminal(s):
                raise GameOverError(f"{self.name}: states[{i}] is terminal; no move to choose")
        if game is not self._mcts.game:  # e.g. another adapter object of the same env kind
            self._mcts = BatchedMcts(game, self._evaluator_for(game), self.params, rng=self.rng)
        res = self._mcts.search(list(states), add_noise=self.add_noise)
        taus = np.array([self._tau(game, s) for s in states])
        pi = play_policy(res, taus)
        actions = []
        for i, s in enumerate(states):
            a = int(self.rng.choice(pi.shape[1], p=pi[i] / pi[i].sum()))
            if not game.legal_mask(s)[a]:  # cannot happen; never hand back an illegal move
                raise RuntimeError(f"search chose illegal action {a} in states[{i}]")
            actions.append(a)
        return actions

    def reset(self) -> None:
        """Forget the search trees (start of a new game)."""
        self._mcts.reset()

    def reseed(self, seed: int | np.random.SeedSequence | None) -> None:
        """Restart move sampling and Dirichlet noise from ``seed`` and drop the search trees,
        so that the same seed replays the same game against the same opponent."""
        self.rng = np.random.default_rng(seed)
        self._mcts.rng = self.rng
        self._mcts.reset()

    def __repr__(self) -> str:
        p = self.params
        extras = [
            f"{p.num_iters_per_turn} simulations",
            *(["symmetry-averaged"] if p.symmetry_averaging else []),
            *(["solver"] if p.solver else []),
            str(self.device),
        ]
        what = ", ".join(e for e in extras if e)
        return f"<AlphaZeroAgent {self.game.game_id[:60]}: {p.root_policy.upper()} {what}>"

    def with_simulations(self, n: int) -> AlphaZeroAgent:
        """A copy searching ``n`` simulations per move (``num_iters_per_turn = n``).

        The copy shares this agent's network (and device) but has its own search trees and
        its own random stream (spawned from this agent's, which is not advanced).

        Raises:
            ValueError: ``n`` is not an integer ``>= 1``.
        """
        check_simulations(n, "with_simulations: n")
        other = AlphaZeroAgent(
            self.game, self.network, self.params, simulations=n, use_gpu=self.device.type != "cpu",
            add_noise=self.add_noise, temperature=self.temperature, cache_size=self.cache_size,
            inference=self.evaluator.inference,
        )  # fmt: skip
        other.reseed(self.rng.spawn(1)[0])
        return other

    def analyse(self, env_or_state: Any, num_simulations: int | None = None) -> Analysis:
        """Search a position (an env, a ``(game, state)`` pair or a state of this game)
        without noise, in a separate tree, and report the statistics."""
        try:
            from az_gym.envs.registry import game_and_state

            game, state = game_and_state(env_or_state)
        except TypeError:
            game, state = self.game, env_or_state
        self.check_game(game)
        evaluator = self._evaluator_for(game)
        mcts = BatchedMcts(game, evaluator, self.params, rng=np.random.default_rng(0))
        return analyse_with(mcts, game, state, num_simulations)

    # ------------------------------------------------------------- checkpoints
    def export_onnx(self, path: str | Path, symmetry_averaging: bool | None = None) -> None:
        """Write the policy-value network as one self-contained ONNX file.

        The model takes ``obs float32[batch, *observation_shape]`` (mover's view) and
        ``mask bool[batch, num_actions]``, and returns ``policy float32[batch, num_actions]``
        (probabilities, zero on illegal actions) and ``value float32[batch]`` (for the
        player to move, in ``[-1, 1]``); the batch axis is dynamic. Eval mode (no dropout,
        batch-norm running statistics).

        Args:
            path: the file to write.
            symmetry_averaging: write the network averaged over the game's symmetries, as
                the search evaluates it with :attr:`MctsParams.symmetry_averaging` (each
                row scored in every image inside the graph: that many times the work);
                ``None``: as this agent's parameters say.

        Raises:
            ImportError: ``onnx``/``onnxscript`` missing (``pip install az-gym[onnx]``).
            ValueError: averaging asked for a game whose observation transforms are not
                gathers of entries (:func:`~az_gym.inference.symmetry_gathers`).
        """
        from az_gym.envs.registry import symmetries_of

        if symmetry_averaging is None:
            symmetry_averaging = self.params.symmetry_averaging
        syms = symmetries_of(self.game) if symmetry_averaging else None
        export_onnx(self.network, path, symmetries=syms)

    def save(self, path: str | Path) -> None:
        """Write weights, network config, game id and search parameters to one file.

        The write is atomic (a crash leaves the old file or the new one, never half of
        one) and makes missing parent directories.

        Raises:
            IsADirectoryError: ``path`` is a directory.
        """
        from az_gym._atomic import atomic_torch_save

        atomic_torch_save(make_checkpoint(self.network, self.game.game_id, self.params), path)

    @classmethod
    def load(cls, path: str | Path, env_or_game: Any = None, **kwargs: Any) -> AlphaZeroAgent:
        """Read a checkpoint written by :meth:`save`.

        Args:
            path: the file.
            env_or_game: the game to play (rebuilt from the stored ``game_id`` if ``None``).
            **kwargs: ``use_gpu``, ``seed``, ``add_noise``, ``temperature``, ``inference`` as
                in the constructor; ``leaves_per_call`` replaces the stored
                :attr:`MctsParams.leaves_per_call` (``None``: keep it; ``az_gym.pretrained``
                and the CLI's agent specs pass
                :data:`~az_gym.mcts_params.PLAY_LEAVES_PER_CALL`), and
                ``symmetry_averaging`` the stored :attr:`MctsParams.symmetry_averaging`
                (``None``: keep it).

        Raises:
            ValueError: the file is not a safe az_gym checkpoint (it would run code), is
                corrupt or truncated, or was made for another game (a declared-equivalent
                ``pettingzoo.classic`` env counts as its native game).
        """
        if Path(path).is_dir():
            raise ValueError(
                f"{str(path)!r} is a directory (a training run?): load one of its checkpoint "
                "files (best.pt), or use Trainer.from_run_dir(DIR).best_agent()"
            )
        return cls.from_checkpoint(read_checkpoint(path), path, env_or_game, **kwargs)

    @classmethod
    def from_checkpoint(
        cls, ckpt: dict[str, Any], where: str | Path, env_or_game: Any = None, **kwargs: Any
    ) -> AlphaZeroAgent:
        """The agent of a checkpoint dict already read by
        :func:`~az_gym.checkpoint_format.read_checkpoint` (a run's ``best.pt``, found by the
        run directory's reader); ``where`` names it in errors. Arguments and errors as
        :meth:`load`."""
        from az_gym.envs.registry import same_game

        game = game_from_id(ckpt["game_id"]) if env_or_game is None else as_game(env_or_game)
        if not same_game(ckpt["game_id"], game):
            raise ValueError(
                f"checkpoint {str(where)!r} was made for game {ckpt['game_id'][:80]!r}, "
                f"not for {game.game_id!r}" + _options_hint(ckpt["game_id"], game)
            )
        shape, num_actions = ckpt["observation_shape"], ckpt["num_actions"]
        if list(shape) != list(game.observation_shape) or num_actions != game.num_actions:
            raise ValueError(
                f"checkpoint {str(where)!r}: observation shape {shape} and {num_actions} "
                f"actions are not the game's {list(game.observation_shape)} and "
                f"{game.num_actions}"
            )
        try:
            mcts = MctsParams.from_dict(ckpt["mcts"])
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"checkpoint {str(where)!r}: bad mcts: {e}") from None
        for name in ("leaves_per_call", "symmetry_averaging"):
            value = kwargs.pop(name, None)
            if value is not None:
                mcts = dataclasses.replace(mcts, **{name: value})
        net = network_from_checkpoint(ckpt, where)
        return cls(game, net, mcts, **kwargs)


def export_onnx(
    net: PolicyValueNet, path: str | Path, symmetries: Sequence[Symmetry] | None = None
) -> None:
    """Write ``net`` as an ONNX model (see :meth:`AlphaZeroAgent.export_onnx`), averaged
    over ``symmetries`` when given (:class:`~az_gym.inference.SymmetryAveragedPriorsValue`;
    the identity alone, or ``None``: the network as it is)."""
    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(
            f"export_onnx needs the packages {missing} (torch's ONNX exporter): "
            "pip install az-gym[onnx]"
        )
    device = next(net.parameters()).device
    batch = torch.export.Dim("batch")  # the dummy has 2 rows: 0 and 1 would be specialised
    dummy = (
        torch.zeros((2, *net.observation_shape), dtype=torch.float32, device=device),
        torch.ones((2, net.num_actions), dtype=torch.bool, device=device),
    )
    averaged = symmetries is not None and len(symmetries) > 1
    module = SymmetryAveragedPriorsValue(net, symmetries) if averaged else PriorsValue(net)
    module = module.to(device)
    was_training = net.training
    net.eval()
    try:
        with quiet_onnx_export():
            torch.onnx.export(
                module.eval(),  # the wrapper too, or the exporter warns of train mode
                dummy,
                str(path),
                input_names=["obs", "mask"],
                output_names=["policy", "value"],
                dynamic_shapes={"obs": {0: batch}, "mask": {0: batch}},
                dynamo=True,
                external_data=False,
                verbose=False,
            )
    finally:
        net.train(was_training)
