"""Each record's format is told by its content, or forced; files of any format load side by side."""

from __future__ import annotations

import shutil
from pathlib import Path

from memscore_core.formats.detect import detect_format
from tests.formats.conftest import EXAMPLES, load, write_jsonl


def test_records_are_told_apart_by_content() -> None:
    assert detect_format({"entries": []}, ".jsonl") == "memscore"
    assert detect_format({"messages": []}, ".jsonl") == "openai"
    assert detect_format({"agents": []}, ".json") == "letta"
    assert detect_format({"core_memory": [], "messages": []}, ".json") == "letta"
    assert detect_format({"messages": []}, ".af") == "letta"
    assert detect_format({"id": "x"}, ".jsonl") == "memscore"


def test_one_file_may_mix_memscore_and_openai_records(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "mixed.jsonl",
                       {"id": "a", "entries": [{"role": "user", "content": "hi"}]},
                       {"id": "b", "messages": [{"role": "user", "content": "hi"}]})
    loaded = load(path)
    assert [item.conversation.id for item in loaded.conversations] == ["a", "b"] and not loaded.errors


def test_a_forced_format_reads_every_record_as_that_format(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", {"id": "a", "entries": [{"role": "user", "content": "hi"}]})
    [error] = load(path, input_format="openai").errors
    assert (error.field, error.message) == ("messages", "expected a list of messages")


def test_a_directory_of_every_format_loads_its_agent_files_too(tmp_path: Path) -> None:
    for name in ("openai-chat.jsonl", "letta-agent.af"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    loaded = load(tmp_path)
    assert not loaded.errors
    assert {Path(item.file).suffix for item in loaded.conversations} == {".jsonl", ".af"}
