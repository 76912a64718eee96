"""Parameters: validation messages, TOML round trips, overrides, shipped configs."""

from __future__ import annotations

import dataclasses
import re
import warnings
from pathlib import Path

import pytest

import az_gym
from az_gym.envs.registry import make_game
from az_gym.mcts import MctsParams
from az_gym.schedules import ConstSchedule, PLSchedule, StepSchedule
from az_gym.training.params import (
    ArenaParams,
    DuelSpec,
    LearningParams,
    MemAnalysisParams,
    OptimiserSpec,
    Params,
    ParamsError,
    SamplesWeighingPolicy,
    SelfPlayParams,
    SimParams,
    alphazero_jl_benchmark,
    apply_overrides,
    default_params,
    load_params,
    params_from_dict,
    params_to_dict,
    save_params,
)
from az_gym.training.params_io import (
    TUNED_GAME_OPTIONS,
    available_configs,
    tuned_options_mismatch,
)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (
            lambda: SimParams(num_workers=32, batch_size=64),
            "SimParams.batch_size=64 must be <= num_workers=32",
        ),
        (lambda: SimParams(num_games=0), "SimParams.num_games=0 must be an integer >= 1"),
        (
            lambda: SimParams(flip_probability=1.5),
            "SimParams.flip_probability=1.5 must be in [0, 1]",
        ),
        (lambda: SimParams(backend="mpi"), "SimParams.backend='mpi' must be 'local' or 'ray'"),
        (
            lambda: SimParams(ray_address="x:1"),
            "SimParams.ray_address='x:1' is only used with backend='ray'",
        ),
        (
            lambda: LearningParams(batch_size=-3),
            "LearningParams.batch_size=-3 must be an integer >= 1",
        ),
        (
            lambda: LearningParams(l2_regularization=-1.0),
            "LearningParams.l2_regularization=-1.0 must be >= 0",
        ),
        (
            lambda: LearningParams(rewards_renormalization=0.0),
            "rewards_renormalization=0.0 must be > 0",
        ),
        (lambda: LearningParams(num_checkpoints=1.5), "LearningParams.num_checkpoints=1.5"),
        (
            lambda: OptimiserSpec(kind="rmsprop"),
            "OptimiserSpec.kind='rmsprop' must be 'adam' or 'sgd'",
        ),
        (lambda: OptimiserSpec(lr=StepSchedule(1e-3, (5,), (-1.0,))), "takes the value -1.0"),
        (lambda: OptimiserSpec(nesterov=True), "OptimiserSpec.nesterov=True needs kind='sgd'"),
        (lambda: MemAnalysisParams(num_game_stages=0), "MemAnalysisParams.num_game_stages=0"),
        (
            lambda: params_from_dict({"self_play": {"mcts": {"num_iters_per_turn": 0}}}),
            "self_play.mcts: MctsParams.num_iters_per_turn = 0",
        ),
        (
            lambda: params_from_dict({"arena": {"mcts": {"dirichlet_noise_epsilon": 2.0}}}),
            "arena.mcts: MctsParams.dirichlet_noise_epsilon = 2.0",
        ),
        (lambda: ArenaParams(update_threshold=float("nan")), "ArenaParams.update_threshold=nan"),
        (lambda: Params(num_iters=-1), "Params.num_iters=-1 must be an integer >= 0"),
        (
            lambda: Params(mem_buffer_size=PLSchedule((0, 5), (100, 0))),
            "sizes must be integers >= 1",
        ),
        (lambda: Params(use_symmetries=1), "Params.use_symmetries=1 must be true or false"),
        (lambda: DuelSpec(opponent="stockfish"), "DuelSpec.opponent='stockfish' must be one of"),
        (lambda: DuelSpec(player="both"), "DuelSpec.player='both'"),
    ],
)
def test_errors_name_field_and_rule(make, needle):
    with pytest.raises(ParamsError) as e:
        make()
    assert needle in str(e.value)


def test_validate_for_game_needs_symmetries():
    class NoSyms:
        name = "nosyms"
        num_players = 2

        def symmetries(self):
            return [object()]

    p = Params(self_play=SelfPlayParams(sim=SimParams(flip_probability=0.3)))
    with pytest.raises(ParamsError, match=r"flip_probability=0.3 > 0 needs a game with symmetries"):
        p.validate_for_game(NoSyms())
    with pytest.raises(ParamsError, match=r"use_symmetries=True needs a game with symmetries"):
        Params(use_symmetries=True).validate_for_game(NoSyms())
    p.validate_for_game(make_game("tictactoe"))  # tic-tac-toe has 8 symmetries


def full_params() -> Params:
    return Params(
        self_play=SelfPlayParams(
            mcts=MctsParams(num_iters_per_turn=7, temperature=PLSchedule((0, 10), (1.0, 0.2))),
            sim=SimParams(
                num_games=11,
                num_workers=8,
                batch_size=4,
                backend="ray",
                ray_address="10.0.0.1:6379",
                num_processes=3,
            ),
        ),
        learning=LearningParams(
            samples_weighing_policy=SamplesWeighingPolicy.LINEAR,
            optimiser=OptimiserSpec(
                kind="sgd",
                lr=StepSchedule(0.1, (3, 6), (0.01, 0.001)),
                nesterov=True,
                weight_decay=1e-5,
            ),
        ),
        arena=None,
        memory_analysis=MemAnalysisParams(num_game_stages=3),
        mem_buffer_size=PLSchedule((0, 10), (1000, 5000)),
        benchmark=alphazero_jl_benchmark(num_games=10),
        seed=42,
    )


def test_toml_round_trip(tmp_path):
    for p in (Params(), full_params()):
        assert params_from_dict(params_to_dict(p)) == p
        path = tmp_path / "p.toml"
        save_params(p, path)
        q = load_params(path)
        assert q == p
        assert isinstance(q.learning.optimiser.lr, type(p.learning.optimiser.lr))
        assert q.mem_buffer_size[5] == p.mem_buffer_size[5]
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write leaves no temp file


def test_unknown_key_is_named():
    d = params_to_dict(Params())
    d["learning"]["batchsize"] = 3
    with pytest.raises(
        ParamsError,
        match=r"unknown key 'batchsize' in learning \(did you mean 'batch_size'\?\); "
        r"allowed keys: \[.*'batch_size'",
    ):
        params_from_dict(d)


def test_bad_toml_file_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("num_iters = [")
    with pytest.raises(ParamsError, match=r"bad\.toml"):
        load_params(path)


def test_overrides():
    p = apply_overrides(
        Params(),
        [
            "self_play.sim.num_games=10",
            "learning.optimiser.lr=0.001",
            "arena=none",
            "learning.samples_weighing_policy=linear",
            "self_play.sim.backend=ray",
            "mem_buffer_size={xs = [0, 4], ys = [10, 20]}",
            "network.hidden=[8, 8]",
        ],
    )
    assert p.self_play.sim.num_games == 10
    assert p.learning.optimiser.lr == ConstSchedule(0.001)
    assert p.arena is None
    assert p.learning.samples_weighing_policy is SamplesWeighingPolicy.LINEAR
    assert p.self_play.sim.backend == "ray"
    assert p.mem_buffer_size[2] == 15
    assert p.network.hidden == (8, 8)
    # back from none to defaults, then a field
    q = apply_overrides(p, ["arena={}", "arena.sim.num_games=12"])
    assert q.arena == dataclasses.replace(
        ArenaParams(), sim=SimParams(num_games=12, alternate_colors=True)
    )


def test_overrides_are_validated_together_in_any_order():
    # num_workers=4 alone breaks batch_size <= num_workers (default batch_size 32) ...
    for order in (1, -1):
        items = ["self_play.sim.num_workers=4", "self_play.sim.batch_size=4"][::order]
        p = apply_overrides(Params(), items)
        assert (p.self_play.sim.num_workers, p.self_play.sim.batch_size) == (4, 4)
    # ... and when nothing repairs it, the error names the override, the field and the rule.
    with pytest.raises(ParamsError) as e:
        apply_overrides(Params(), ["self_play.sim.num_workers=4", "learning.batch_size=64"])
    msg = str(e.value)
    assert "override 'self_play.sim.num_workers=4'" in msg
    assert "SimParams.batch_size=32 must be <= num_workers=4" in msg
    with pytest.raises(ParamsError, match=r"override 'learning.batch_size=1.5'.*integer"):
        apply_overrides(Params(), ["learning.batch_size=1.5", "self_play.sim.num_games=3"])
    # A temporarily broken rule does not stop ``{}`` from filling in defaults afterwards.
    q = apply_overrides(
        Params(),
        ["self_play.sim.num_workers=2", "arena={}", "arena.sim.num_games=6",
         "self_play.sim.batch_size=2"],
    )  # fmt: skip
    assert q.arena is not None and q.arena.sim.num_games == 6


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("learning.nope=1", "override path 'learning.nope' does not exist"),
        ("self_play.sim.batch_size=64", "SimParams.batch_size=64 must be <= num_workers=32"),
        ("learning.batch_size=1.5", "learning.batch_size=1.5 must be an integer"),
        ("num_iters", "must look like dotted.path=value"),
        ("memory_analysis.num_game_stages=3", "memory_analysis is 'none', not a table"),
    ],
)
def test_override_errors(override, needle):
    with pytest.raises(ParamsError) as e:
        apply_overrides(Params(), [override])
    assert needle in str(e.value)


@pytest.mark.parametrize("name", ["tictactoe", "connect_four", "othello", "gomoku"])
def test_shipped_configs_load_and_validate(name):
    assert name in available_configs()
    p = default_params(name)
    p.validate_for_game(make_game(name, **TUNED_GAME_OPTIONS.get(name, {})))
    assert params_from_dict(params_to_dict(p)) == p


def test_the_othello_6x6_file_loads_and_validates_for_6x6():
    p = default_params("othello", {"size": 6})
    p.validate_for_game(make_game("othello", size=6))
    assert p.num_iters == 15 and p.self_play.mcts.num_iters_per_turn == 100
    assert default_params("othello", {"size": 8}) == default_params("othello")
    assert "othello@size=6" not in available_configs()


def test_training_other_options_picks_their_tuned_file_or_warns(tmp_path):
    """othello.toml is tuned for the default 8x8; ``-o size=6`` once trained with it (and a
    warning naming ``examples/othello_6x6.toml``, which a pip install does not have): now
    the packaged 6x6 file is the default there. A size with no file still warns."""
    import warnings

    from az_gym.training.trainer import Trainer

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        six = Trainer("othello", None, tmp_path / "six", game_options={"size": 6})
        assert six.params == default_params("othello", {"size": 6}) != default_params("othello")
        Trainer("othello", None, tmp_path / "b")
        Trainer("othello", None, tmp_path / "e", game_options={"size": 8})
        Trainer("connect_four", None, tmp_path / "c")
        # An explicit parameter file is the user's choice: no warning.
        Trainer("gomoku", default_params("gomoku"), tmp_path / "d", game_options={"size": 15})
    with pytest.warns(
        UserWarning,
        match=r"tuned for size=9, but this game has size=15.*; for the tuned options: "
        r"az-gym train gomoku -o size=9$",
    ):
        Trainer("gomoku", None, tmp_path / "a", game_options={"size": 15})
    assert tuned_options_mismatch("othello", {"size": 6}) is None


def test_unknown_config():
    with pytest.raises(ParamsError, match="no default parameters for game 'chess'; available"):
        default_params("chess")


def test_batches_per_checkpoint_and_weights():
    lp = LearningParams(batch_size=10, min_checkpoints_per_epoch=2, max_batches_per_checkpoint=7)
    assert lp.batches_per_checkpoint(100) == 5  # 10 batches / 2 checkpoints
    assert lp.batches_per_checkpoint(1000) == 7  # capped
    assert lp.batches_per_checkpoint(3) == 1  # at least one
    assert dataclasses.replace(lp, min_checkpoints_per_epoch=0).batches_per_checkpoint(100) == 7
    w = SamplesWeighingPolicy
    assert list(w.CONSTANT.weight([1, 4])) == [1, 1]
    assert list(w.LOG.weight([1, 4])) == [1, 3]
    assert list(w.LINEAR.weight([1, 4])) == [1, 4]


def test_schedules():
    s = PLSchedule((0, 10), (100, 200))
    assert (s[0], s[5], s[10], s[99]) == (100, 150, 200, 200)
    t = StepSchedule(1.0, (2, 4), (0.5, 0.1))
    assert (t[0], t[2], t[3], t[4]) == (1.0, 0.5, 0.5, 0.1)


# ---------------------------------------------------------------- honest settings
PARAM_CLASSES = (Params, SelfPlayParams, SimParams, ArenaParams, LearningParams, OptimiserSpec,
                 MemAnalysisParams, DuelSpec, MctsParams)  # fmt: skip
DEFINITIONS = {
    "training/params.py",
    "training/params_checks.py",
    "training/params_io.py",
    "training/params_learning.py",
    "training/params_play.py",
    "mcts_params.py",
}
INFORMATIONAL: dict[str, str] = {}
"""Fields kept although no code reads them, with the reason (none today)."""
READ_THROUGH = {
    "min_checkpoints_per_epoch": "batches_per_checkpoint",
    "max_batches_per_checkpoint": "batches_per_checkpoint",
}
"""Fields read by a derived property/method of their class, and that method's name."""


def _source_outside_definitions() -> str:
    root = Path(az_gym.__file__).parent
    files = [p for p in root.rglob("*.py") if p.relative_to(root).as_posix() not in DEFINITIONS]
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


def test_every_parameter_field_is_read_by_the_code():
    """A field that no code outside its definition reads is a setting that does nothing
    (``fill_batches``, ``ternary_rewards`` and ``reset_every`` were such fields)."""
    source = _source_outside_definitions()
    dead = [
        f"{cls.__name__}.{f.name}"
        for cls in PARAM_CLASSES
        for f in dataclasses.fields(cls)
        if f.name not in INFORMATIONAL
        and not re.search(rf"\.{READ_THROUGH.get(f.name, f.name)}\b", source)
    ]
    assert dead == []


def _leaf_keys(cls, data, prefix=""):
    hints = __import__("typing").get_type_hints(cls)
    for key, value in data.items():
        tp = hints[key]
        opts = [t for t in (getattr(tp, "__args__", None) or (tp,)) if dataclasses.is_dataclass(t)]
        if opts and isinstance(value, dict):
            yield from _leaf_keys(opts[0], value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


@pytest.mark.parametrize("name", available_configs())
def test_every_key_of_a_shipped_config_changes_the_params(name):
    """Each key a shipped file sets is a live field: the file loads without a warning (no
    removed key), and setting the key to another value gives other parameters."""
    import tomllib

    from az_gym.training.params_io import _encode

    root = Path(az_gym.__file__).parent / "configs"
    data = tomllib.loads((root / f"{name}.toml").read_text(encoding="utf-8"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        base = default_params(name)
    for key, value in _leaf_keys(Params, data):
        assert key.split(".")[-1] not in INFORMATIONAL, key
        current = _encode(value) if not isinstance(value, (dict, list)) else value
        other = {True: "false", False: "true"}.get(current) if isinstance(current, bool) else None
        if other is None:
            continue  # numbers, schedules, tables: mapped to a field by the load itself
        assert apply_overrides(base, [f"{key}={other}"]) != base, key


def test_removed_settings_warn_in_files_and_are_refused_as_overrides(tmp_path):
    old = tmp_path / "params.toml"
    old.write_text(
        "ternary_rewards = true\nnum_iters = 3\n"
        "[self_play.sim]\nfill_batches = true\nreset_every = 2\nnum_games = 5\n"
    )
    with pytest.warns(UserWarning, match="self_play.sim.fill_batches was removed and is ignored"):
        p = load_params(old)  # an older run directory's file still resumes
    assert p.num_iters == 3 and p.self_play.sim.num_games == 5
    for key in ("ternary_rewards", "self_play.sim.fill_batches", "arena.sim.reset_every"):
        with pytest.raises(ParamsError, match=f"{re.escape(key)} was removed"):
            apply_overrides(Params(), [f"{key}=true"])
    with pytest.raises(TypeError):
        SimParams(fill_batches=True)


def test_settings_that_cannot_act_are_refused():
    with pytest.raises(ParamsError, match="alternate_colors=True changes nothing in self-play"):
        SelfPlayParams(sim=SimParams(alternate_colors=True))
    ray = SimParams(backend="ray")
    with pytest.raises(ParamsError, match=r"arena\.sim\.backend=.ray. differs from self_play"):
        Params(arena=ArenaParams(sim=ray))
    with pytest.raises(ParamsError, match=r"arena\.sim\.ray_address=.a:1. differs"):
        Params(self_play=SelfPlayParams(sim=ray),
               arena=ArenaParams(sim=SimParams(backend="ray", ray_address="a:1")))  # fmt: skip
    # The arena plays on the self-play workers: leaving its backend alone is fine.
    Params(self_play=SelfPlayParams(sim=SimParams(backend="ray", ray_address="auto")))


def test_flipping_needs_symmetries_that_transform_states():
    """Symmetries of observations only (an adapter without ``state_transform``) used to
    pass validation, then fail in the middle of self-play when the first flip came."""
    from pettingzoo.classic import connect_four_v3

    from az_gym.envs.adapter import PettingZooGame
    from az_gym.game import Symmetry, mirror_symmetry

    identity = Symmetry("identity", __import__("numpy").arange(7), lambda a: a)
    game = PettingZooGame(connect_four_v3.env, symmetries=[identity, mirror_symmetry(7, 6)])
    p = Params(self_play=SelfPlayParams(sim=SimParams(flip_probability=0.5)))
    with pytest.raises(ParamsError, match=r"self_play\.sim\.flip_probability=0\.5 > 0 needs "
                       r"symmetries that transform states; .* cannot apply 'mirror'"):  # fmt: skip
        p.validate_for_game(game)
    Params(use_symmetries=True).validate_for_game(game)  # augmentation needs no state transform
    p.validate_for_game(make_game("connect_four"))  # native games transform their states


def test_an_older_run_directory_with_removed_settings_resumes(tmp_path):
    """Every params.toml written before the removal lists fill_batches, reset_every and
    ternary_rewards: such a run resumes (with a warning) and trains on."""
    from az_gym.mcts import MctsParams
    from az_gym.networks import NetworkConfig
    from az_gym.training.params import LearningParams, Params, SelfPlayParams, SimParams
    from az_gym.training.trainer import Trainer

    sim = SimParams(num_games=2, num_workers=2, batch_size=2, num_processes=1)
    params = Params(
        self_play=SelfPlayParams(mcts=MctsParams(num_iters_per_turn=2), sim=sim),
        learning=LearningParams(batch_size=8, max_batches_per_checkpoint=1),
        arena=None,
        num_iters=1,
        network=NetworkConfig(kind="mlp", hidden=(8,), value_hidden=4),
    )
    Trainer("tictactoe", params, tmp_path, quiet=True).train()
    path = tmp_path / "params.toml"
    text = path.read_text().replace("num_iters = 1", "num_iters = 2\nternary_rewards = true")
    path.write_text(
        text.replace("[self_play.sim]", "[self_play.sim]\nfill_batches = true\nreset_every = 1")
    )
    with pytest.warns(UserWarning, match="ternary_rewards was removed"):
        trainer = Trainer.from_run_dir(tmp_path, quiet=True)
    assert [r.iteration for r in trainer.resume()] == [2]
