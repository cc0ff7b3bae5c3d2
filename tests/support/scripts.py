"""The repository's scripts (``scripts/*.py``, not a package) as modules tests can call into."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from memscore_core.settings import REPO_ROOT


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` imported as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
