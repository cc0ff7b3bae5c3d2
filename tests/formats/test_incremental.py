"""Reading only what is new: each file against the mark an earlier read left (``read_sources``)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from memscore_core.formats import InputOptions
from memscore_core.formats.incremental import WINDOW, IncrementalLoad, read_sources, source_key
from memscore_core.model.source_mark import SourceMark
from tests.formats.conftest import EXAMPLES


def record(conversation_id: str, words: int = 3) -> str:
    entries = [{"role": "user", "content": " ".join(["hello"] * words)}, {"role": "assistant", "content": "hi"}]
    return json.dumps({"id": conversation_id, "entries": entries}) + "\n"


def read(source: Path, marks: dict[str, SourceMark] | None = None, **options: object) -> IncrementalLoad:
    return read_sources([source], InputOptions(**options), marks or {})  # type: ignore[arg-type]


def marks_of(load: IncrementalLoad) -> dict[str, SourceMark]:
    """What a run that stored everything it read records."""
    return {read.mark.path: read.mark for read in load.reads}


def ids(load: IncrementalLoad) -> list[str]:
    return [item.conversation.id for item in load.loaded.conversations]


def test_a_new_file_is_read_whole_and_marked_consumed_to_its_end(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(record("one") + record("two"))
    load = read(tmp_path)
    (only,) = load.reads
    assert (ids(load), only.kind, only.bytes_read) == (["one", "two"], "new", path.stat().st_size)
    assert (only.mark.path, only.mark.consumed, only.mark.lines) == (source_key(path), path.stat().st_size, 2)


def test_an_unchanged_file_is_not_opened_again(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(record("one"))
    again = read(tmp_path, marks_of(read(tmp_path)))
    assert (ids(again), [r.kind for r in again.reads], again.bytes_read) == ([], ["unchanged"], 0)


def test_an_appended_tail_is_read_alone_with_its_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(record("one", words=2000) + record("two"))
    marks = marks_of(read(tmp_path))
    before = path.stat().st_size
    with path.open("a") as handle:
        handle.write(record("three") + '{"id": "broken"\n')
    load = read(tmp_path, marks)
    (tail,) = load.reads
    appended = path.stat().st_size - before
    assert (ids(load), tail.kind) == (["three"], "appended")
    assert tail.bytes_read == appended + 2 * WINDOW  # the tail, and the two windows that prove the prefix unchanged
    assert [(error.line, error.message.startswith("invalid JSON")) for error in load.loaded.errors] == [(4, True)]
    assert [item.line for item in load.loaded.conversations] == [3]
    assert (tail.mark.consumed, tail.mark.lines) == (path.stat().st_size, 4)


def test_a_tail_appended_after_a_read_tail_continues_from_the_new_offset(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(record("one"))
    marks = marks_of(read(tmp_path))
    with path.open("a") as handle:
        handle.write(record("two"))
    marks = marks_of(read(tmp_path, marks))
    with path.open("a") as handle:
        handle.write(record("three"))
    load = read(tmp_path, marks)
    assert ids(load) == ["three"] and load.reads[0].kind == "appended"


def test_a_shrunk_file_is_read_again_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(record("one") + record("two"))
    marks = marks_of(read(tmp_path))
    path.write_text(record("uno"))
    load = read(tmp_path, marks)
    assert (ids(load), load.reads[0].kind, load.reads[0].bytes_read) == (["uno"], "rewritten", path.stat().st_size)


def test_a_file_whose_consumed_prefix_changed_is_read_again_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(record("one") + record("two"))
    marks = marks_of(read(tmp_path))
    path.write_text(record("one") + record("TWO") + record("three"))
    load = read(tmp_path, marks)
    assert (ids(load), load.reads[0].kind) == (["one", "TWO", "three"], "rewritten")


def test_an_unterminated_last_line_is_read_but_not_consumed_until_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(record("one") + record("two").rstrip("\n"))
    first = read(tmp_path)
    assert ids(first) == ["one", "two"] and first.reads[0].mark.consumed == len(record("one"))
    assert [first.reads[0].consumes(line) for line in (1, 2)] == [True, False]
    with path.open("a") as handle:
        handle.write("\n" + record("three"))
    assert ids(read(tmp_path, marks_of(first))) == ["two", "three"]


def test_a_changed_json_file_is_read_whole_and_a_touched_one_is_not_parsed(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[" + record("one") + "]")
    marks = marks_of(read(tmp_path))
    os.utime(path, ns=(1, 1))
    touched = read(tmp_path, marks)
    assert (ids(touched), touched.reads[0].kind) == ([], "touched")
    path.write_text("[" + record("one") + "," + record("two") + "]")
    changed = read(tmp_path, marks_of(touched))
    assert (ids(changed), changed.reads[0].kind) == (["one", "two"], "changed")


def test_a_letta_agent_file_is_read_once_until_it_changes(tmp_path: Path) -> None:
    agent = tmp_path / "agent.af"
    shutil.copy(EXAMPLES / "letta-agent.af", agent)
    first = read(tmp_path)
    assert first.loaded.conversations and first.reads[0].kind == "new"
    again = read(tmp_path, marks_of(first))
    assert (ids(again), again.reads[0].kind) == ([], "unchanged")
    agent.write_text(agent.read_text().replace("}", "} ", 1))
    assert ids(read(tmp_path, marks_of(first))) == ids(first)


def test_a_vanished_file_is_reported_once_and_a_new_one_beside_it_read(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(record("one"))
    marks = marks_of(read(tmp_path))
    (tmp_path / "a.jsonl").unlink()
    (tmp_path / "b.jsonl").write_text(record("two"))
    load = read(tmp_path, marks)
    assert (ids(load), load.vanished) == (["two"], [source_key(tmp_path / "a.jsonl")])
    noted = {key: replace(mark, vanished_at=datetime.now(UTC)) for key, mark in marks.items()}
    assert read(tmp_path, noted).vanished == []


def test_files_outside_the_sources_are_never_reported_vanished(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "a.jsonl").write_text(record("one"))
    marks = marks_of(read(tmp_path / "one"))
    (tmp_path / "two").mkdir()
    assert read(tmp_path / "two", marks).vanished == []


def test_a_full_scan_reads_every_file_whole(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(record("one"))
    marks = marks_of(read(tmp_path))
    load = read_sources([tmp_path], InputOptions(), marks, full_scan=True)
    assert (ids(load), load.reads[0].kind, load.loaded.unread) == (["one"], "new", 0)


def test_conversations_consumed_before_count_as_unread(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(record("one") + record("two"))
    marks = {key: replace(mark, conversations=2) for key, mark in marks_of(read(tmp_path)).items()}
    with path.open("a") as handle:
        handle.write(record("three"))
    load = read(tmp_path, marks)
    assert (ids(load), load.loaded.unread) == (["three"], 2)
