"""memscore_core's public surface: a curated, sorted ``__all__`` whose every name resolves, loaded lazily."""

from __future__ import annotations

import subprocess
import sys

import memscore_core


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert memscore_core.__all__ == sorted(memscore_core.__all__) == sorted(memscore_core._HOMES)
    assert all(getattr(memscore_core, name) is not None for name in memscore_core.__all__)


def test_the_public_names_are_the_documented_ones() -> None:
    assert memscore_core.__all__ == [
        "Conversation", "ConversationScore", "Entry", "InputOptions", "LoadResult", "MemscoreError", "RunSummary",
        "STRATEGIES", "Scorer", "ScoringConfig", "Settings", "Store", "load_conversations", "open_scorer",
        "run_scoring", "score_conversation"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        memscore_core.engine  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no attribute 'engine'" in str(exc)
    else:
        raise AssertionError("memscore_core.engine resolved")


def test_importing_the_package_loads_none_of_its_modules() -> None:
    code = "import sys, memscore_core; print(sorted(m for m in sys.modules if m.startswith('memscore_core.')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
