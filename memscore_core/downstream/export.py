"""Export training data: SFT, DPO or Parquet files, a manifest, and rows tracing each example to its scores.

Files are deterministic (sorted keys, rows ordered by conversation and response, no wall-clock
times), so exporting twice with the same parameters over the same scores gives byte-identical files.
The manifest dates the data (``data_as_of``: the newest score exported); when the export was made is
recorded in the ``exports`` table.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import orjson
import polars as pl
from pydantic import BaseModel, Field

from memscore_core.backends.protocol import PromptBackend
from memscore_core.downstream.examples import dpo_record, metadata, prompt_messages, sft_record, target_message
from memscore_core.errors import ConfigError
from memscore_core.store import Store
from memscore_core.store import queries as q
from memscore_core.store.downstream import (
    Candidate,
    ExportSource,
    iter_export_sources,
    record_export,
    refresh_candidates,
)

Format = Literal["sft", "dpo", "parquet"]
DEFAULT_THRESHOLD = 0.5
"""Candidates need at least this many nats per response token lost when memories are removed.

See "Fine-tuning candidates" in docs/schema.md for the measure and this value.
"""


class SelectionQuery(BaseModel):
    """``sql`` with ``parameters`` lists the exported candidates, in example order.

    ``dependence`` is the SQL expression over ``response_dependence`` stored as ``candidates.dependence``.
    """

    dependence: str
    sql: str
    parameters: list[Any]


class ExportOptions(BaseModel):
    """What to export. Everything here is recorded in the manifest's ``selection``."""

    format: Format = "sft"
    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0)
    keep_memories: bool = False
    approved_only: bool = False
    auto_approve: float | None = Field(default=None, ge=0)
    max_new_tokens: int = Field(default=128, ge=1)
    name: str | None = None

    def selection(self) -> dict[str, Any]:
        return self.model_dump(exclude={"name"}) | {
            "measure": "drop_all / tokens (all memories of the chunk removed), else column sum / tokens"}

    def query(self) -> SelectionQuery:
        """The SQL that selects the examples (whitespace collapsed) and its parameters."""
        return SelectionQuery(dependence=q.DEPENDENCE, sql=" ".join(q.SELECT_FOR_EXPORT.split()),
                              parameters=[self.threshold, self.approved_only])

    def export_name(self) -> str:
        digest = hashlib.sha256(orjson.dumps(self.selection(), option=orjson.OPT_SORT_KEYS)).hexdigest()
        return self.name or f"{self.format}-{digest[:12]}"


class Manifest(BaseModel):
    name: str
    format: Format
    selection: dict[str, Any]
    query: SelectionQuery
    n_examples: int
    cells: dict[str, int]
    source_runs: list[str]
    data_as_of: str | None
    files: dict[str, str]


async def export_dataset(store: Store, options: ExportOptions, out_root: Path,
                         backend: PromptBackend | None = None) -> tuple[Path, Manifest]:
    """Write ``out_root/<name>/`` and register the export; DPO needs ``backend`` to generate answers."""
    if options.format == "dpo" and backend is None:
        raise ConfigError("a DPO export generates the rejected answers and needs a backend")
    refresh_candidates(store, threshold=options.threshold, auto_approve=options.auto_approve)
    directory = out_root / options.export_name()
    directory.mkdir(parents=True, exist_ok=True)
    parts = iter_export_sources(store, threshold=options.threshold, approved_only=options.approved_only)
    if options.format == "sft":
        summary = _stream_sft(directory / "train.jsonl", parts, options.keep_memories)
        files = [directory / "train.jsonl"]
    else:
        sources = [source for part in parts for source in part]
        summary = _Summary()
        summary.add(sources)
        files = await _write(directory, sources, options, backend)
    as_of = summary.as_of
    manifest = Manifest(name=directory.name, format=options.format, selection=options.selection(),
                        query=options.query(), n_examples=len(summary.candidates), cells=summary.cells,
                        source_runs=sorted(summary.runs), data_as_of=as_of.isoformat() if as_of else None,
                        files={path.name: sha256_file(path) for path in files})
    (directory / "manifest.json").write_bytes(orjson.dumps(manifest.model_dump(), option=orjson.OPT_SORT_KEYS |
                                                           orjson.OPT_INDENT_2) + b"\n")
    record_export(store, export_id=uuid.uuid4().hex, name=directory.name, fmt=options.format,
                  directory=str(directory), selection=options.selection(),
                  candidates=summary.candidates)
    return directory, manifest


class _Summary:
    """What the manifest and the exports table need of the examples written, gathered part by part."""

    def __init__(self) -> None:
        self.candidates: list[Candidate] = []
        self.runs: set[str] = set()
        self.as_of: datetime | None = None
        self.cells = {"exact": 0, "screened": 0, "examples_with_screened_cells": 0}

    def add(self, sources: list[ExportSource]) -> None:
        self.candidates.extend(source.candidate for source in sources)
        self.runs.update(source.run_id for source in sources)
        self.as_of = max([source.scored_at for source in sources] + ([self.as_of] if self.as_of else []), default=None)
        for name, count in cells_summary(sources).items():
            self.cells[name] += count


def _stream_sft(path: Path, parts: Iterator[list[ExportSource]], keep_memories: bool) -> _Summary:
    """SFT records written part by part (an export holds one part of conversations at a time)."""
    summary = _Summary()
    with path.open("wb") as out:
        for part in parts:
            out.write(b"".join(orjson.dumps(sft_record(source, keep_memories=keep_memories),
                                            option=orjson.OPT_SORT_KEYS) + b"\n" for source in part))
            summary.add(part)
    return summary


def cells_summary(sources: list[ExportSource]) -> dict[str, int]:
    """The exported responses' exact and screened cells, and how many examples have a screened cell."""
    return {"exact": sum(s.exact_cells for s in sources), "screened": sum(s.screened_cells for s in sources),
            "examples_with_screened_cells": sum(1 for s in sources if s.screened_cells)}


async def _write(directory: Path, sources: list[ExportSource], options: ExportOptions,
                 backend: PromptBackend | None) -> list[Path]:
    keep = options.keep_memories
    if options.format == "parquet":
        path = directory / "train.parquet"
        _parquet_frame(sources, keep).write_parquet(path)
        return [path]
    if options.format == "sft":
        records = [sft_record(source, keep_memories=keep) for source in sources]
    else:
        assert backend is not None
        records = []
        for source in sources:
            rejected = await backend.generate(prompt_messages(source, keep_memories=False),
                                              max_tokens=options.max_new_tokens)
            records.append(dpo_record(source, rejected, keep_memories=keep))
    path = directory / "train.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) + b"\n" for r in records))
    return [path]


TOOL_CALL = pl.Struct({"id": pl.String, "type": pl.String,
                       "function": pl.Struct({"name": pl.String, "arguments": pl.String})})
MESSAGE = pl.Struct({"role": pl.String, "content": pl.String, "tool_calls": pl.List(TOOL_CALL),
                     "tool_call_id": pl.String, "name": pl.String})
SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "messages": pl.List(MESSAGE), "prompt": pl.List(MESSAGE), "completion": pl.String, "tools": pl.String,
    "candidate_id": pl.Int64, "conversation_id": pl.String, "response_entry_idx": pl.Int32,
    "dependence": pl.Float64, "model": pl.String, "content_hash": pl.String, "config_hash": pl.String,
    "top_memories": pl.List(pl.Struct({"memory_key": pl.String, "divergence": pl.Float64})),
    "exact_cells": pl.Int64, "screened_cells": pl.Int64,
}


def _parquet_frame(sources: list[ExportSource], keep_memories: bool) -> pl.DataFrame:
    rows = []
    for source in sources:
        prompt = [_message_row(m) for m in prompt_messages(source, keep_memories=keep_memories)]
        target = target_message(source)
        declared = source.conversation.tools
        tools = None if declared is None else orjson.dumps(declared, option=orjson.OPT_SORT_KEYS).decode()
        rows.append({"messages": prompt + [_message_row(target)], "prompt": prompt, "completion": target["content"],
                     "tools": tools, **metadata(source)})
    return pl.DataFrame(rows, schema=SCHEMA)


def _message_row(message: dict[str, Any]) -> dict[str, Any]:
    """A chat message with every field of :data:`MESSAGE` (absent ones null)."""
    return {name: message.get(name) for name in MESSAGE.to_schema()}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
