"""At most one event per interval: progress updates that would otherwise cost an API call each."""

from __future__ import annotations

import time


class Throttle:
    """``due()`` is true at the first call and then at most once every ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: float | None = None

    def due(self) -> bool:
        now = time.monotonic()
        if self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        return True
