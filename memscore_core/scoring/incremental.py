"""Incremental runs: read only what is new in the sources, and record what was consumed once it is stored.

A run opens a :class:`SourceReading` under its scope (model, configuration, input options, shard), reads
with it (:mod:`memscore_core.formats.incremental`), scores as any run does, then :meth:`SourceReading.settle`
records each file's new mark in the store's manifest: after the results of every conversation it covers
are stored, never before, and not at all for a file one of whose conversations failed (the next run reads
it again, skipping what is scored). A run that dies before settling leaves the files to be read again.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from memscore_core.config import ScoringConfig
from memscore_core.formats import InputOptions
from memscore_core.formats.incremental import IncrementalLoad, read_sources
from memscore_core.formats.loading import LoadResult
from memscore_core.model.result import canonical_json
from memscore_core.scoring.run import RunSummary
from memscore_core.store import Store
from memscore_core.store.manifest import SourceManifest


def reading_scope(model: str, config: ScoringConfig, options: InputOptions, shard: int = 0, shards: int = 1) -> str:
    """What a file's consumed bytes are recorded under: everything that changes what its bytes give."""
    payload = {"model": model, "config_hash": config.hash(), "input": options.model_dump(mode="json"),
               "shard": [shard, shards]}
    return hashlib.sha256(canonical_json(payload)).hexdigest()


@dataclass(frozen=True)
class SourceReading:
    """How one run reads its sources: against the manifest under its scope, or every file whole (``full_scan``)."""

    manifest: SourceManifest
    model: str
    config_hash: str
    full_scan: bool = False

    @classmethod
    def open(cls, store: Store, *, model: str, config: ScoringConfig, options: InputOptions, full_scan: bool = False,
             shard: int = 0, shards: int = 1) -> SourceReading:
        scope = reading_scope(model, config, options, shard, shards)
        return cls(SourceManifest(store, scope), model, config.hash(), full_scan)

    def read(self, paths: Iterable[str | Path], options: InputOptions) -> IncrementalLoad:
        """What is new in ``paths`` (everything, on a full scan); vanished files are found either way."""
        return read_sources(paths, options, self.manifest.marks(), full_scan=self.full_scan)

    def settle(self, read: IncrementalLoad, loaded: LoadResult, summary: RunSummary) -> None:
        """Record the files whose conversations (``loaded``, what this run scored of ``read``) are all stored, and
        note the vanished ones. Call it once ``summary``'s run has stored every result."""
        reads = {item.name: item for item in read.reads}
        consumed = Counter(item.file for item in loaded.conversations
                           if item.file in reads and reads[item.file].consumes(item.line))
        failed = {outcome.loaded.file for outcome in summary.failed}
        marks = [replace(item.mark, conversations=item.kept + consumed[item.name]) for item in read.reads
                 if item.to_record and item.name not in failed]
        self.manifest.record(marks, model=self.model, config_hash=self.config_hash, run_id=summary.run_id)
        self.manifest.note_vanished(read.vanished)
