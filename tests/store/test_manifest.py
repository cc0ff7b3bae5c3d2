"""The source manifest on every kind of store: one row per (scope, file), replaced, never lost when a file goes."""

from __future__ import annotations

from dataclasses import replace

from memscore_core.model.source_mark import SourceMark
from memscore_core.store import Store
from memscore_core.store.manifest import SourceManifest
from tests.store.conftest import rows

MARK = SourceMark(path="/corpus/a.jsonl", size=120, mtime_ns=1_733_000_000_123_456_789, consumed=100, lines=2,
                  conversations=2, head_hash="h" * 64, tail_hash="t" * 64, content_hash="c" * 64)


def record(manifest: SourceManifest, *marks: SourceMark) -> None:
    manifest.record(marks, model="m", config_hash="k", run_id="run")


def test_recorded_marks_read_back_as_written(any_store: Store) -> None:
    manifest = SourceManifest(any_store, "scope")
    other = replace(MARK, path="/corpus/b.json", consumed=120)
    record(manifest, MARK, other)
    assert manifest.marks() == {MARK.path: MARK, other.path: other}


def test_recording_a_file_again_replaces_its_row(any_store: Store) -> None:
    manifest = SourceManifest(any_store, "scope")
    record(manifest, MARK)
    record(manifest, replace(MARK, consumed=120, lines=3, conversations=3))
    assert manifest.marks()[MARK.path].consumed == 120
    assert rows(any_store, "SELECT count(*) FROM source_files") == [(1,)]


def test_each_scope_has_its_own_marks(any_store: Store) -> None:
    record(SourceManifest(any_store, "model-a"), MARK)
    assert SourceManifest(any_store, "model-b").marks() == {}


def test_a_vanished_file_keeps_its_row_marked_with_when(store: Store) -> None:
    manifest = SourceManifest(store, "scope")
    record(manifest, MARK)
    manifest.note_vanished([MARK.path])
    kept = manifest.marks()[MARK.path]
    assert kept.vanished_at is not None and replace(kept, vanished_at=None) == MARK
    manifest.note_vanished([MARK.path])
    assert manifest.marks()[MARK.path].vanished_at == kept.vanished_at
