"""Keep the cyclic garbage collector off the objects that outlive a scoring run."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def long_lived_objects_frozen() -> Iterator[None]:
    """Exempt every object alive on entry (modules, settings, loaded conversations) from collection until exit.

    Parsing a response allocates thousands of containers, and each such burst sets off collections; without
    this, every full collection would walk the whole long-lived heap again (``gc.freeze``).
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
