"""``memscore synth --memories M --used K --chunks C``: chunks of M memories, K used, the rest look the same."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memscore_core.ablation.chunking import chunk_budget, plan_chunks
from memscore_core.cli import app
from memscore_core.formats.loading import load_conversations
from memscore_core.model.conversation import Conversation, Entry
from memscore_core.synth.facts import CONTACT_KINDS
from memscore_core.synth.many import ManyShape, corpus_chunk_tokens, generate_many, generate_many_corpus

SHAPES = [ManyShape(memories=1, used=1, chunks=3), ManyShape(memories=5, used=2, chunks=4),
          ManyShape(memories=16, used=0, chunks=2), ManyShape(memories=64, used=4, chunks=3),
          ManyShape(memories=256, used=8, chunks=1), ManyShape(memories=8, used=3, chunks=2, chunk_tokens=2000),
          ManyShape(memories=64, used=4, chunks=3, layout="interleaved"),
          ManyShape(memories=64, used=4, chunks=3, memory_kinds="mixed"),
          ManyShape(memories=5, used=5, chunks=2, layout="interleaved", memory_kinds="mixed"),
          ManyShape(memories=256, used=8, chunks=1, layout="interleaved", memory_kinds="mixed")]


def synth(out: Path, *options: str) -> Path:
    result = CliRunner().invoke(app, ["synth", *options, str(out)])
    assert result.exit_code == 0, result.output
    return out


def segments(conversation: Conversation) -> list[list[Entry]]:
    """The conversation's chunks as memscore plans them with the conversation's own chunk_tokens."""
    budget = chunk_budget(conversation, conversation.meta["chunk_tokens"])
    return [[conversation.entries[i] for i in chunk] for chunk in plan_chunks(conversation.entries, budget)]


def used_keys(entries: list[Entry]) -> set[str]:
    return {key for e in entries if e.role == "assistant" for key in e.meta["uses_memories"]}


def parse(memory: Entry) -> tuple[tuple[str, str], str]:
    """A memory's form (role, wording with owner and value blanked: what a model could tell it by) and value."""
    for kind in CONTACT_KINDS:
        for slot in kind.slots:
            for template in kind.memories:
                blanked = re.escape(template.format(slot=slot, o="\0", v="\1"))
                blanked = blanked.replace("\0", "(?P<o>[A-Z][a-z]+)").replace("\1", "(?P<v>.+)")
                pattern = "(?:Recalled memory: )?" + blanked
                match = re.fullmatch(pattern, memory.content or "")
                if match and memory.memory_key == kind.key.format(slot=slot.replace(" ", "-"), o=match["o"].lower()):
                    return (memory.role, template.format(slot=slot, o="{o}", v="{v}")), match["v"]
    raise AssertionError(f"no contact fact kind states memory {memory.memory_key!r}: {memory.content!r}")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Conversation]:
    path = synth(tmp_path_factory.mktemp("many") / "m.jsonl", "--n", "6", "--seed", "3", "--memories", "64",
                 "--used", "4", "--chunks", "3")
    loaded = load_conversations([path])
    assert loaded.errors == []
    return [item.conversation for item in loaded.conversations]


@pytest.mark.parametrize("shape", SHAPES,
                         ids=lambda s: f"m{s.memories}-k{s.used}-c{s.chunks}-{s.layout}-{s.memory_kinds}")
def test_the_chunk_planner_splits_each_conversation_into_its_segments(shape: ManyShape) -> None:
    for index in range(3):
        conversation = generate_many(9, index, shape)
        parts = segments(conversation)
        assert len(parts) == shape.chunks, conversation.id
        for part in parts:
            assert part[-1].role == "assistant"
            assert sum(e.is_memory for e in part) == shape.memories
            assert len(used_keys(part)) == shape.used
            assert used_keys(part) <= {e.memory_key for e in part if e.is_memory}


def test_the_conversation_records_its_shape_and_chunk_tokens(corpus: list[Conversation]) -> None:
    for conversation in corpus:
        assert {k: conversation.meta[k] for k in ("memories", "used", "chunks")} == \
            {"memories": 64, "used": 4, "chunks": 3}
    assert corpus_chunk_tokens(corpus) == ManyShape(memories=64, used=4).budget_tokens()


def test_memory_keys_are_unique_across_the_whole_conversation(corpus: list[Conversation]) -> None:
    for conversation in corpus:
        keys = [e.memory_key for e in conversation.entries if e.is_memory]
        assert len(keys) == len(set(keys)) == 64 * 3


def test_distractors_take_the_same_forms_as_used_memories(corpus: list[Conversation]) -> None:
    used: Counter[tuple[str, str]] = Counter()
    distractors: Counter[tuple[str, str]] = Counter()
    for conversation in corpus:
        for part in segments(conversation):
            keys = used_keys(part)
            for memory in (e for e in part if e.is_memory):
                (used if memory.memory_key in keys else distractors)[parse(memory)[0]] += 1
    assert sum(used.values()) == 6 * 3 * 4
    assert set(used) <= set(distractors)
    assert {role for role, _ in used} == {role for role, _ in distractors} == {"user", "tool"}


def test_answers_restate_the_values_of_the_memories_they_use_and_no_other(corpus: list[Conversation]) -> None:
    for conversation in corpus:
        values = {e.memory_key: parse(e)[1] for e in conversation.entries if e.is_memory}
        assert len(set(values.values())) == len(values)
        for answer in (e for e in conversation.entries if e.role == "assistant"):
            stated = {key for key, value in values.items()
                      if re.search(rf"\b{re.escape(value)}\b", answer.content or "")}
            assert stated == set(answer.meta["uses_memories"]), (conversation.id, answer.content)
            assert answer.meta["kind"] == ("none", "one", "two")[len(stated)]


def test_the_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    options = ["--n", "3", "--memories", "16", "--used", "2", "--chunks", "2"]
    first = synth(tmp_path / "a.jsonl", *options, "--seed", "5").read_bytes()
    second = synth(tmp_path / "b.jsonl", *options, "--seed", "5").read_bytes()
    other = synth(tmp_path / "c.jsonl", *options, "--seed", "6").read_bytes()
    assert first == second != other


def test_the_corpus_generator_is_the_cli(tmp_path: Path) -> None:
    lines = synth(tmp_path / "a.jsonl", "--n", "2", "--seed", "4", "--memories", "5").read_text().splitlines()
    expected = list(generate_many_corpus(2, 4, ManyShape(memories=5)))
    assert [Conversation.model_validate_json(line) for line in lines] == expected


def test_corpus_chunk_tokens_needs_one_value() -> None:
    small, large = (generate_many(1, 0, ManyShape(memories=m)) for m in (4, 8))
    assert corpus_chunk_tokens([small, small]) == small.meta["chunk_tokens"]
    assert corpus_chunk_tokens([Conversation(id="x", entries=[Entry(role="user", content="hi")])]) is None
    with pytest.raises(ValueError, match="different chunk_tokens"):
        corpus_chunk_tokens([small, large])


@pytest.mark.parametrize("options", [["--used", "2"], ["--memories", "4", "--used", "5"],
                                     ["--memories", "64", "--chunk-tokens", "100"]])
def test_impossible_shapes_are_refused(tmp_path: Path, options: list[str]) -> None:
    result = CliRunner().invoke(app, ["synth", *options, str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2, result.output
