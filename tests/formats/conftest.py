"""Helpers for the format tests: write a file, load it with input options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from memscore_core.formats import InputOptions
from memscore_core.formats.loading import LoadResult, load_conversations
from memscore_core.settings import REPO_ROOT

EXAMPLES = REPO_ROOT / "data" / "examples"


def write_jsonl(path: Path, *records: Any) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def load(path: Path, **options: Any) -> LoadResult:
    return load_conversations([path], InputOptions(**options))
