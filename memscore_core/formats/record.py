"""A record converted to memscore's schema, and where each of its fields came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from memscore_core.formats.source import FieldPath, RecordSource


@dataclass(frozen=True)
class Converted:
    """``record`` in memscore's schema; ``origins`` maps a field of it (a path prefix) to the source field it
    came from, so a validation error names the field the user wrote."""

    record: dict[str, Any]
    source: RecordSource
    origins: dict[FieldPath, FieldPath] = field(default_factory=dict)
    line: int | None = None

    def source_path(self, path: FieldPath) -> FieldPath:
        """The source field of memscore field ``path``: its longest mapped prefix replaced."""
        for cut in range(len(path), 0, -1):
            origin = self.origins.get(path[:cut])
            if origin is not None:
                return origin + path[cut:]
        return path
