"""``memscore synth --memories M --shape interleaved --kinds mixed``: memories between answers, in many forms, and
each answer still stated by the memories it uses and no other."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memscore_core.cli import app
from memscore_core.formats.loading import load_conversations
from memscore_core.model.conversation import Conversation, Entry
from memscore_core.synth.many import ManyShape, corpus_chunk_tokens, generate_many
from tests.synth.test_synth_many import parse, segments, synth, used_keys

CARD = re.compile(r"Contact card\. Name: (?P<o>[A-Z][a-z]+)\. [A-Z][a-z ]+: (?P<v>.+)\.")
OTHER_KINDS = ("tools/weather/", "events/", "search/", "files/")


def corpus_of(tmp_path: Path, *options: str) -> list[Conversation]:
    path = synth(tmp_path / "m.jsonl", "--n", "4", "--seed", "8", "--memories", "64", "--used", "4", "--chunks", "3",
                 *options)
    loaded = load_conversations([path])
    assert loaded.errors == []
    return [item.conversation for item in loaded.conversations]


@pytest.fixture(scope="module")
def interleaved(tmp_path_factory: pytest.TempPathFactory) -> list[Conversation]:
    return corpus_of(tmp_path_factory.mktemp("interleaved"), "--shape", "interleaved")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> list[Conversation]:
    return corpus_of(tmp_path_factory.mktemp("mixed"), "--shape", "interleaved", "--kinds", "mixed")


def form(memory: Entry) -> str:
    """Which form a mixed memory takes: other (no fact), json, block, card, or note/tool (a plain statement)."""
    if memory.memory_key and memory.memory_key.startswith(OTHER_KINDS):
        return "other"
    content = memory.content or ""
    if content.startswith("{"):
        return "json"
    if memory.role == "system":
        return "block"
    return "card" if CARD.fullmatch(content) else memory.role


def value_of(memory: Entry) -> str | None:
    """The value a memory states (None for a memory of another kind): each form unwrapped to its statement."""
    content, kind = memory.content or "", form(memory)
    if kind == "other":
        return None
    if kind == "card":
        match = CARD.fullmatch(content)
        assert match is not None and memory.memory_key and f"/{match['o'].lower()}/" in memory.memory_key
        return match["v"]
    if kind == "json":
        stated = json.loads(content)
        assert stated["key"] == memory.memory_key
        content = stated["memory"]
    if kind == "block":
        header, content = content.split("\n", 1)
        assert header == f"[memory block {memory.memory_key}]"
    return parse(memory.model_copy(update={"content": content, "role": "user"}))[1]


def test_grouped_segments_open_with_all_their_memories() -> None:
    for part in segments(generate_many(8, 0, ManyShape(memories=32, used=4, chunks=2))):
        first_answer = next(i for i, e in enumerate(part) if e.role == "assistant")
        assert sum(e.is_memory for e in part[:first_answer]) == 32


def test_interleaved_segments_answer_between_their_memories(interleaved: list[Conversation]) -> None:
    answered_early = 0
    for conversation in interleaved:
        for part in segments(conversation):
            last_memory = max(i for i, e in enumerate(part) if e.is_memory)
            answered_early += any(e.role == "assistant" and e.meta["uses_memories"] for e in part[:last_memory])
    assert answered_early >= 4 * 3 * 3 // 4


def test_every_answer_comes_after_the_memories_it_uses(mixed: list[Conversation],
                                                        interleaved: list[Conversation]) -> None:
    for conversation in mixed + interleaved:
        seen: set[str] = set()
        for entry in conversation.entries:
            if entry.is_memory:
                seen.add(entry.memory_key or "")
            elif entry.role == "assistant":
                assert set(entry.meta["uses_memories"]) <= seen, conversation.id


def test_the_conversation_records_its_layout_and_memory_kinds(mixed: list[Conversation]) -> None:
    assert {(c.meta["layout"], c.meta["memory_kinds"]) for c in mixed} == {("interleaved", "mixed")}
    assert corpus_chunk_tokens(mixed) == ManyShape(memories=64, used=4, layout="interleaved",
                                                   memory_kinds="mixed").budget_tokens()


def test_mixed_memories_take_every_form_and_used_facts_take_the_distractors_forms(mixed: list[Conversation]) -> None:
    used: Counter[str] = Counter()
    distractors: Counter[str] = Counter()
    for conversation in mixed:
        for part in segments(conversation):
            keys = used_keys(part)
            for memory in (e for e in part if e.is_memory):
                (used if memory.memory_key in keys else distractors)[form(memory)] += 1
            assert sum(e.is_memory for e in part) == 64
    assert set(distractors) == {"user", "tool", "json", "block", "card", "other"}
    assert set(used) <= set(distractors) - {"other"}
    assert 0.1 < distractors["other"] / sum(distractors.values()) < 0.4


def test_mixed_answers_restate_the_values_of_the_memories_they_use_and_no_other(mixed: list[Conversation]) -> None:
    for conversation in mixed:
        memories = [e for e in conversation.entries if e.is_memory]
        values = {e.memory_key: value for e in memories if (value := value_of(e)) is not None}
        assert len(set(values.values())) == len(values)
        others = " ".join(e.content or "" for e in memories if form(e) == "other")
        for answer in (e for e in conversation.entries if e.role == "assistant"):
            text = answer.content or ""
            stated = {key for key, value in values.items() if re.search(rf"\b{re.escape(value)}\b", text)}
            assert stated == set(answer.meta["uses_memories"]), (conversation.id, text)
            assert not any(re.search(rf"\b{name}\b", others) for name in re.findall(r"[A-Z][a-z]{3,}", text)
                           if name != "Also"), text


def test_synth_refuses_a_shape_without_memories(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["synth", "--shape", "interleaved", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2
    assert "--shape and --kinds need --memories" in " ".join(result.output.replace("│", " ").split())
