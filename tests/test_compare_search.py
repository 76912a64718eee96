"""bench/compare_search.py without training: a configuration this az_gym cannot run is
skipped with a message, bad arguments get one error line (the tiny real run is manual:
``python bench/compare_search.py --minutes 1 --set ...``, see its docstring)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import compare_search


def test_unknown_option_skips_the_configuration(tmp_path: Path, capsys) -> None:
    code = compare_search.main(
        ["--out", str(tmp_path), "--config", "future: self_play.mcts.no_such_option=1"]
    )
    out = capsys.readouterr().out
    assert code == 1 and "[future] skipped" in out and "no_such_option" in out
    assert "nothing to compare" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--config", "no colon here"], "must look like 'NAME: OVERRIDE; OVERRIDE'"),
        (["--set", "self_play.sim.num_games=-1"], "num_games"),
        (["--minutes", "0"], "--minutes must be > 0"),
    ],
)
def test_bad_arguments_get_one_error_line(tmp_path: Path, capsys, args, message) -> None:
    with pytest.raises(SystemExit) as exit_info:
        compare_search.main(["--out", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and "Traceback" not in err


def test_default_configurations_name_their_search_in_full() -> None:
    """Each default configuration sets its own search, whichever the tuned file uses."""
    from az_gym.training.params import apply_overrides, default_params

    for name, overrides in compare_search.CONFIGS.items():
        params = apply_overrides(default_params("connect_four"), overrides)
        for phase in ("self_play", "arena"):
            mcts = getattr(params, phase).mcts
            assert mcts.root_policy == ("puct" if name == "puct" else "gumbel"), (name, phase)
            assert mcts.solver == ("solver" in name), (name, phase)
        assert (params.self_play.mcts.gumbel_opening_moves > 0) == ("opening" in name), name


def test_only_keeps_the_named_default(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        compare_search.main(["--out", str(tmp_path), "--only", "no-such-config"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "invalid choice" in err and "Traceback" not in err
