"""How many threads torch uses in each az_gym process: one rule, set on purpose.

torch runs its CPU kernels on an OpenMP team of, by default, one thread per core, in
*every* process. A parallel op waits at a barrier for its slowest thread, so as soon as a
thread shares its core with another busy program (a self-play worker, an evaluation, a
browser), every op waits for that thread's next time slice, and small batches gain nothing
from more threads anyway (``python bench/contention.py`` measures both ways). Hence the rule:

* **Inference** (the search's network calls: ``AlphaZeroAgent.act`` / ``analyse``, the CLI's
  ``play`` / ``analyse`` / ``evaluate``, self-play, arena and evaluation workers, Ray actors):
  **one thread**.
* **Learning** (:class:`~az_gym.training.learning.Learner`, loss reports, memory analysis):
  ``LearningParams.num_threads``; by default every CPU this process may run on (its
  affinity) but one, at least 1 (:func:`learner_threads`): one busy program next to the
  learner then has a core of its own and costs little, at ``1 / cores`` of the idle speed.

Overrides, strongest first:

1. an explicit count: ``LearningParams.num_threads``, ``NetworkEvaluator(num_threads=)``,
   :func:`set_inference_threads` (what pools call in their workers);
2. the environment variable ``AZ_GYM_NUM_THREADS=N``: ``N`` threads in every role, in this
   process and in the workers it starts (they inherit the environment);
3. a ``torch.set_num_threads`` call made by someone else *after* az_gym last set the count:
   az_gym notices the change and from then on leaves the count alone in this process. (A
   call made before az_gym first sets it cannot be told from torch's default: use the
   environment variable, or call it after building the agent.)

``torch.set_num_threads`` is process-wide, so the rule applies to the user's own process
too: once an agent has searched, *your* torch code in that process runs on one thread as
well (call ``torch.set_num_threads`` afterwards to change that; az_gym will respect it).
The count is set where az_gym starts a phase of torch work (each network evaluation, each
learning phase), so a process that alternates (the trainer: in-process self-play, then
learning, then an arena) always runs each phase by its rule; checking costs well under a
microsecond.

Inter-op threads are left alone: eager inference and training never use torch's inter-op
pool (it serves ``torch.jit.fork``; it is created lazily, so it costs nothing unused), and
``torch.set_num_interop_threads`` may be called only once, before any parallel work.
"""

from __future__ import annotations

import os

import torch

from az_gym._procs import available_cores

ENV_VAR = "AZ_GYM_NUM_THREADS"
"""Environment variable: intra-op thread count of every az_gym role (a positive integer)."""


class _State:
    inference: int | None = None  # set_inference_threads; None: the rule
    last_set: int | None = None  # the count az_gym set last in this process
    user_owned = False  # someone else changed the count after az_gym: leave it alone


def env_threads() -> int | None:
    """``AZ_GYM_NUM_THREADS`` as a count, ``None`` when unset or empty.

    Raises:
        ValueError: the variable is set to something else than a positive integer.
    """
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{ENV_VAR}={raw!r} must be a positive integer (or unset)")
    return n


def _check_count(name: str, n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name}={n!r} must be an integer >= 1")
    return n


def inference_threads(requested: int | None = None) -> int:
    """The thread count of small-batch inference: ``requested``, else the process's
    :func:`set_inference_threads`, else ``AZ_GYM_NUM_THREADS``, else 1."""
    if requested is not None:
        return _check_count("num_threads", requested)
    if _State.inference is not None:
        return _State.inference
    return env_threads() or 1


def learner_threads(requested: int | None = None) -> int:
    """The thread count of learning: ``requested`` (``LearningParams.num_threads``), else
    ``AZ_GYM_NUM_THREADS``, else ``available_cores() - 1`` (at least 1)."""
    if requested is not None:
        return _check_count("num_threads", requested)
    return env_threads() or max(1, available_cores() - 1)


def set_inference_threads(n: int | None) -> None:
    """Choose this process's inference thread count (``None``: back to the rule).

    Pools call it in their workers (``LocalPool(threads_per_process=)``); a user may call it
    to give their own process's agents more threads on a quiet machine.
    """
    _State.inference = None if n is None else _check_count("inference threads", n)


def _apply(n: int) -> int:
    current = torch.get_num_threads()
    if _State.user_owned:
        return current
    if _State.last_set is not None and current != _State.last_set:
        # torch.set_num_threads was called by someone else since az_gym last set the
        # count: an explicit choice, respected for the rest of the process.
        _State.user_owned = True
        return current
    if current != n:
        torch.set_num_threads(n)
    _State.last_set = n
    return n


def use_inference_threads(requested: int | None = None) -> int:
    """Set torch's intra-op threads for inference (see the module docstring); return the
    count in effect."""
    return _apply(inference_threads(requested))


def use_learner_threads(requested: int | None = None) -> int:
    """Set torch's intra-op threads for learning (see the module docstring); return the count
    in effect."""
    return _apply(learner_threads(requested))
