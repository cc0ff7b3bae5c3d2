"""The embedded model's lanes: computations running at once, each in its own thread on its own torch threads.

torch releases the GIL inside its operations, so lanes in Python threads share the cores; each lane runs on one
torch thread by default, since the short passes of a prefix-reusing server gain little from splitting their
matrix products (the per-operation Python and the attention's per-block products stay serial).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

TORCH_THREADS = torch.get_num_threads()


def lanes_and_threads(wide: bool, cores: int, lanes: int | None, threads: int | None) -> tuple[int, int]:
    """The lanes and the torch threads of each: as given, else for a ``wide`` model the ``cores`` ÷ ``threads``
    lanes of one thread each (one lane: torch's own threads, within ``cores``), and one of one for a narrow one."""
    count = lanes or (max(1, cores // (threads or 1)) if wide else 1)
    return count, threads or (min(TORCH_THREADS, cores) if wide and count == 1 else 1)


class Lanes:
    """Up to ``count`` computations at once on ``threads`` torch threads each; counts those computing
    (``busy``, most at once ``peak``) and their seconds (``seconds``)."""

    def __init__(self, count: int, threads: int) -> None:
        self.seconds = 0.0
        self.busy = 0
        self._counting = threading.Lock()
        self.configure(count, threads)

    def configure(self, count: int, threads: int) -> None:
        """Compute up to ``count`` at once on ``threads`` each (call it while nothing computes); resets ``peak``."""
        self.count, self.threads, self.peak = count, threads, 0
        self._free = threading.BoundedSemaphore(count)
        torch.set_num_threads(threads)

    @contextmanager
    def lane(self) -> Iterator[None]:
        """Hold a lane for one computation, on the lanes' torch threads (each thread keeps its own count)."""
        with self._free:
            if torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)
            with self._counting:
                self.busy += 1
                self.peak = max(self.peak, self.busy)
            began = time.perf_counter()
            try:
                yield
            finally:
                elapsed = time.perf_counter() - began
                with self._counting:
                    self.busy -= 1
                    self.seconds += elapsed
