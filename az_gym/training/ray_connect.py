"""Joining a Ray cluster for :class:`~az_gym.training.ray_backend.RayPool`: bounded in time,
and every failure one sentence that says what to do.

``ray.init(address)`` on an address where no Ray answers does not fail: it retries for
ever, printing a warning every few seconds. So before it is called, :func:`connect` opens
a plain TCP connection to the address (at most ``timeout`` seconds: a refused port fails
at once, an unroutable host at the timeout), then runs ``ray.init`` itself under the same
bound (a port that accepts connections but is no Ray cluster). Once actors are to be
started, :func:`check_free_cpus` refuses a cluster without the CPUs they need, which Ray
would otherwise wait on for ever.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

CONNECT_TIMEOUT_S = 30.0
"""Default bound on joining a cluster (TCP check, then ``ray.init``), in seconds."""


def import_ray() -> Any:
    """Import ``ray``, or raise an ``ImportError`` that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ImportError(
            "SimParams.backend='ray' needs Ray, an optional extra: pip install 'az-gym[ray]' "
            "(or pip install 'ray[default]')"
        ) from None
    return ray


class RayUnavailableError(ConnectionError, RuntimeError):
    """Ray could not start, join a cluster at the given address, or place the actors (the
    message says how to start one, which setting to change, or what the cluster lacks).

    A ``ConnectionError`` (an ``OSError``: an environment problem, one ``az-gym: error:``
    line in the CLI) and, as before, a ``RuntimeError``."""


def _where(address: str | None) -> str:
    env = os.environ.get("RAY_ADDRESS")
    return f"RAY_ADDRESS={env!r}" if address is None else f"address {address!r}"


def _fix(address: str | None) -> str:
    if address is None:
        return "start that cluster, or unset RAY_ADDRESS to let az_gym start a local Ray instance"
    return (
        "start one first (`ray start --head` on the head node), or unset "
        "self_play.sim.ray_address to let az_gym start a local Ray instance"
    )


def _tcp_target(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``"host:port"`` or ``"ray://host:port"``; ``None`` for
    ``"auto"``/``"local"`` or anything else (left to ``ray.init``, which refuses it at once)."""
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _check_reachable(address: str, timeout: float) -> None:
    target = _tcp_target(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout):
            pass
    except OSError as e:
        reason = f"no answer in {timeout:g} s" if isinstance(e, TimeoutError) else e.strerror
        raise RayUnavailableError(
            f"no Ray cluster at {_where(address)}: cannot reach {target[0]}:{target[1]} "
            f"({(reason or str(e)).lower()}); {_fix(address)}"
        ) from None


def connect(address: str | None, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Make sure this process is connected to Ray: already initialised, a local instance
    started (``address`` ``None`` and no ``RAY_ADDRESS``), or the cluster at ``address``
    (or ``RAY_ADDRESS``) joined, within ``timeout`` seconds.

    Returns:
        Whether this call initialised Ray (its caller then shuts it down when done).

    Raises:
        RayUnavailableError: nothing answers at the address within ``timeout``, what answers
            is no Ray cluster, or ``ray.init`` refused (the message names the address).
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    target = address if address is not None else os.environ.get("RAY_ADDRESS")
    kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False}
    if target is None:
        ray.init(include_dashboard=False, **kwargs)  # a local instance: nothing to wait for
        return True
    _check_reachable(target, timeout)
    outcome: dict[str, BaseException | None] = {}

    def init() -> None:
        try:
            ray.init(address=address, **kwargs)
            outcome["error"] = None
        except BaseException as e:  # reported in the caller's thread
            outcome["error"] = e

    # A daemon thread: when Ray never answers, the caller gets its error and the process
    # can still exit (the stuck call is abandoned, not joined).
    thread = threading.Thread(target=init, name="ray-init", daemon=True)
    thread.start()
    thread.join(timeout)
    if "error" not in outcome:
        raise RayUnavailableError(
            f"no Ray cluster answered at {_where(address)} within {timeout:g} s (something "
            "listens there, but not a Ray head: its GCS port is 6379 by default, its client "
            f"port ray://host:10001); {_fix(address)}"
        )
    error = outcome["error"]
    if error is not None:
        text = "; ".join(str(error).split("\n")[:2]).strip() or type(error).__name__
        if isinstance(error, ConnectionError):
            raise RayUnavailableError(f"no Ray cluster at {_where(address)}: {_fix(address)}")
        raise RayUnavailableError(f"could not join Ray at {_where(address)}: {text}") from error
    return True


def check_free_cpus(ray: Any, needed: int, wait: float = 10.0) -> None:
    """Return once the cluster has ``needed`` CPUs free (polling for up to ``wait``
    seconds: a pool just closed frees its CPUs a moment later).

    Raises:
        RayUnavailableError: fewer are free; the message gives the cluster's free and total
            CPUs and what to change.
    """
    deadline = time.monotonic() + wait
    while True:
        free = float(ray.available_resources().get("CPU", 0.0))
        if free >= needed:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    total = float(ray.cluster_resources().get("CPU", 0.0))
    raise RayUnavailableError(
        f"the Ray cluster has {free:g} free CPU(s) of {total:g}, but {needed} self-play "
        f"actor(s) need 1 each (other programs hold the rest): lower "
        "self_play.sim.num_processes, add nodes, or stop what holds them"
    )
