"""Helpers for worker processes (self-play pools, parallel evaluation)."""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(poll_seconds: float = 1.0) -> None:
    """Make this worker process exit when its parent dies, even by ``kill -9``.

    Pool workers otherwise outlive a killed trainer, blocked forever on their task queue.
    A daemon thread polls ``os.getppid()`` (portable, whatever thread made the worker).
    """
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
