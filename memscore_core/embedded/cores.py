"""The cores this process may run on: the embedded model's default lanes, known without importing torch."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def embedded_concurrency(concurrency: int, lanes: int | None) -> int:
    """Requests to keep in flight to the embedded server: ``concurrency``, and at least twice its lanes (default
    the usable cores), so every lane has work while others wait for a prefix being computed."""
    return max(concurrency, 2 * (lanes or usable_cores()))
