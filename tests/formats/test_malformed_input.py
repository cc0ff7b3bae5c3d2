"""Hostile input: every malformed conversation is named by file, line and field; its neighbours still load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memscore_core.errors import InputError
from memscore_core.formats.loading import load_conversations

GOOD = json.dumps({"id": "good", "entries": [{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "hello"}]})


def entry(**fields: object) -> dict[str, object]:
    return {"role": "user", "content": "x", **fields}


CASES: dict[str, tuple[bytes, str | None, str | None]] = {
    # name: (the bad line, the field the error must name, the conversation id it must name)
    "truncated-json": (b'{"id": "t", "entries": [{"role": "user"', None, None),
    "content-not-a-string": (json.dumps({"id": "c", "entries": [entry(content=7)]}).encode(),
                             "entries[0].content", "c"),
    "entries-not-a-list": (json.dumps({"id": "l", "entries": "hello"}).encode(), "entries", "l"),
    "unknown-role": (json.dumps({"id": "r", "entries": [entry(role="robot")]}).encode(), "entries[0].role", "r"),
    "empty-memory-key": (json.dumps({"id": "m", "entries": [entry(memory_key="")]}).encode(),
                         "entries[0].memory_key", "m"),
    "memory-key-not-a-string": (json.dumps({"id": "n", "entries": [entry(memory_key=42)]}).encode(),
                                "entries[0].memory_key", "n"),
    "no-entries": (json.dumps({"id": "e", "entries": []}).encode(), "entries", "e"),
    "missing-entries": (json.dumps({"id": "f"}).encode(), "entries", "f"),
    "missing-id": (json.dumps({"entries": [entry()]}).encode(), "id", None),
    "empty-id": (json.dumps({"id": "", "entries": [entry()]}).encode(), "id", None),
    "unknown-field": (json.dumps({"id": "u", "entries": [entry(colour="red")]}).encode(), "entries[0].colour", "u"),
    "nan-literal": (b'{"id": "nan", "entries": [{"role": "user", "content": "x"}], "meta": {"score": NaN}}',
                    None, None),
    "infinity-literal": (b'{"id": "inf", "entries": [{"role": "user", "content": "x"}], "meta": {"s": Infinity}}',
                         None, None),
    "not-an-object": (b'"just a string"', None, None),
    "a-number": (b"42", None, None),
    "invalid-utf8": (b'{"id": "bytes", "entries": [{"role": "user", "content": "\xff\xfe"}]}', None, None),
    "tool-call-id-not-a-string": (json.dumps({"id": "tc", "entries": [entry(role="tool", tool_call_id=3)]}).encode(),
                                  "entries[0].tool_call_id", "tc"),
}


def only_the_second_record_fails(path: Path, field: str | None, conversation_id: str | None) -> InputError:
    """Both good records load; the one error names the file, record 2, and the field and id when given."""
    result = load_conversations([path])
    assert [c.conversation.id for c in result.conversations] == ["good", "good-2"]
    [error] = result.errors
    assert (error.file, error.line) == (str(path), 2)
    if field is not None:
        assert error.field == field
    if conversation_id is not None:
        assert error.conversation_id == conversation_id
    return error


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_malformed_line_is_named_by_file_line_and_field_and_the_good_line_loads(tmp_path: Path, case: str) -> None:
    bad, field, conversation_id = CASES[case]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(GOOD.encode() + b"\n" + bad + b"\n" + GOOD.replace('"good"', '"good-2"').encode() + b"\n")
    error = only_the_second_record_fails(path, field, conversation_id)
    assert str(path) in str(error) and ":2" in str(error)


@pytest.mark.parametrize("case", sorted(set(CASES) - {"truncated-json"}))
def test_a_malformed_element_of_a_json_list_fails_alone_and_the_elements_after_it_load(
        tmp_path: Path, case: str) -> None:
    bad, field, conversation_id = CASES[case]
    path = tmp_path / "mixed.json"
    path.write_bytes(b"[" + GOOD.encode() + b",\n" + bad + b",\n" + GOOD.replace('"good"', '"good-2"').encode() + b"]")
    only_the_second_record_fails(path, field, conversation_id)


def test_a_truncated_json_list_reports_the_unterminated_element_after_the_complete_ones(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text("[" + GOOD + ",\n" + GOOD.replace('"good"', '"good-2"')[:-9])
    result = load_conversations([path])
    [error] = result.errors
    assert ([c.conversation.id for c in result.conversations], error.line) == (["good"], 2)
    assert "invalid JSON" in str(error)


def test_a_valid_50_mb_line_loads(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"id": "big", "entries": [entry(content="a" * 50_000_000)]}) + "\n" + GOOD + "\n")
    result = load_conversations([path])
    assert ([c.conversation.id for c in result.conversations], result.errors) == (["big", "good"], [])


def test_a_duplicate_id_within_one_file_is_an_error_on_the_id_field_of_the_second_line(tmp_path: Path) -> None:
    path = tmp_path / "twice.jsonl"
    path.write_text(GOOD + "\n" + GOOD + "\n")
    result = load_conversations([path])
    [error] = result.errors
    assert (error.line, error.field, error.conversation_id) == (2, "id", "good")
    assert "first seen at " + str(path) + ":1" in str(error)


def test_a_50_mb_line_is_read_and_its_neighbours_still_load(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    big = json.dumps({"id": "big", "entries": [entry(content="a" * 50_000_000)]})
    path.write_text(big[:-5] + "\n" + GOOD + "\n")  # truncated, so it is an error on line 1
    result = load_conversations([path])
    [error] = result.errors
    assert (error.line, [c.conversation.id for c in result.conversations]) == (1, ["good"])
    assert len(str(error)) < 2_000


def test_duplicate_ids_across_files_name_the_second_occurrence(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(GOOD + "\n")
    (tmp_path / "b.jsonl").write_text(GOOD + "\n")
    result = load_conversations([tmp_path / "a.jsonl", tmp_path / "b.jsonl"])
    [error] = result.errors
    assert (error.file, error.line, error.conversation_id) == (str(tmp_path / "b.jsonl"), 1, "good")
    assert len(result.conversations) == 1


def test_blank_lines_and_a_byte_order_mark_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode() + b"\n\n   \n" + GOOD.replace('"good"', '"g2"').encode() + b"\n")
    result = load_conversations([path])
    assert (result.errors, [c.line for c in result.conversations]) == ([], [1, 4])


def test_a_missing_path_is_an_error_naming_it(tmp_path: Path) -> None:
    result = load_conversations([tmp_path / "nowhere.jsonl"])
    [error] = result.errors
    assert error.file == str(tmp_path / "nowhere.jsonl")


def test_an_unsupported_file_type_named_explicitly_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    [error] = load_conversations([path]).errors
    assert error.file == str(path) and ".jsonl" in error.message
