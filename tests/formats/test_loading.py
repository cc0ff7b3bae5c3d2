"""Loading conversation files: every bad record is named by file, line, id and field; the rest load."""

from __future__ import annotations

import json
from pathlib import Path

from memscore_core.formats.loading import load_conversations

GOOD = {"id": "ok", "system_prompt": "s", "entries": [{"role": "user", "content": "hi"}]}


def _jsonl(tmp_path: Path, *lines: str | bytes) -> Path:
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"\n".join(line.encode() if isinstance(line, str) else line for line in lines) + b"\n")
    return path


def test_a_valid_jsonl_file_loads_every_conversation_with_its_line(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, json.dumps(GOOD), "", json.dumps({**GOOD, "id": "two"}))
    result = load_conversations([path])
    assert [(c.conversation.id, c.line) for c in result.conversations] == [("ok", 1), ("two", 3)]
    assert result.errors == []


def test_an_unknown_role_names_file_line_id_and_field_and_the_rest_still_load(tmp_path: Path) -> None:
    bad = {**GOOD, "id": "bad", "entries": [{"role": "user", "content": "x"}, {"role": "robot", "content": "y"}]}
    path = _jsonl(tmp_path, json.dumps(bad), json.dumps(GOOD))
    result = load_conversations([path])
    assert [c.conversation.id for c in result.conversations] == ["ok"]
    (error,) = result.errors
    assert (error.file, error.line, error.conversation_id, error.field) == (str(path), 1, "bad", "entries[1].role")
    assert str(error).startswith(f"{path}:1: conversation 'bad': field 'entries[1].role': Input should be")


def test_truncated_json_is_reported_at_its_line(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, json.dumps(GOOD), '{"id": "cut", "entries": [')
    result = load_conversations([path])
    assert len(result.conversations) == 1
    assert result.errors[0].line == 2 and "invalid JSON" in result.errors[0].message


def test_an_empty_memory_key_is_rejected(tmp_path: Path) -> None:
    bad = {**GOOD, "entries": [{"role": "user", "content": "x", "memory_key": ""}]}
    (error,) = load_conversations([_jsonl(tmp_path, json.dumps(bad))]).errors
    assert error.field == "entries[0].memory_key"


def test_nan_is_not_valid_json(tmp_path: Path) -> None:
    (error,) = load_conversations([_jsonl(tmp_path, '{"id": "n", "entries": [], "meta": {"x": NaN}}')]).errors
    assert error.line == 1 and "invalid JSON" in error.message


def test_invalid_utf8_is_reported_without_losing_other_lines(tmp_path: Path) -> None:
    result = load_conversations([_jsonl(tmp_path, b'{"id": "\xff"}', json.dumps(GOOD))])
    assert len(result.conversations) == 1 and "invalid UTF-8" in result.errors[0].message


def test_duplicate_ids_in_one_batch_keep_the_first(tmp_path: Path) -> None:
    result = load_conversations([_jsonl(tmp_path, json.dumps(GOOD), json.dumps(GOOD))])
    assert len(result.conversations) == 1
    assert result.errors[0].line == 2 and result.errors[0].field == "id" and "duplicate" in result.errors[0].message


def test_a_json_list_reports_the_line_where_each_bad_element_starts(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text('[\n  {"id": "a", "entries": [{"role": "user", "content": "x"}]},\n'
                    '  {"id": "b", "entries": []}\n]\n')
    result = load_conversations([path])
    assert [c.conversation.id for c in result.conversations] == ["a"]
    assert (result.errors[0].line, result.errors[0].field) == (3, "entries")


def test_a_directory_loads_its_jsonl_and_json_files(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(json.dumps(GOOD) + "\n")
    (tmp_path / "b.json").write_text(json.dumps({**GOOD, "id": "b"}))
    (tmp_path / "notes.txt").write_text("ignored")
    assert [c.conversation.id for c in load_conversations([tmp_path]).conversations] == ["ok", "b"]
