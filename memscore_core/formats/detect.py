"""Tell a record's format by its content: a Letta agent file, an OpenAI chat record, or memscore's own."""

from __future__ import annotations

from typing import Any

from memscore_core.formats.letta import is_letta
from memscore_core.formats.options import InputFormat

ConcreteFormat = str


def detect_format(raw: dict[str, Any], suffix: str, forced: InputFormat = "auto") -> ConcreteFormat:
    """``forced`` unless ``auto``; else ``.af`` files and records with ``agents`` (or the older layout's
    ``core_memory``) are Letta, records with ``messages`` but no ``entries`` OpenAI, everything else memscore."""
    if forced != "auto":
        return forced
    if suffix == ".af" or is_letta(raw):
        return "letta"
    if "messages" in raw and "entries" not in raw:
        return "openai"
    return "memscore"
