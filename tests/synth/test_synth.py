"""``memscore synth``: deterministic conversations whose ``meta`` tells the truth about which memories answers use."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memscore_core.cli import app
from memscore_core.formats.loading import load_conversations
from memscore_core.model.conversation import Conversation, Entry
from memscore_core.settings import REPO_ROOT
from memscore_core.synth.facts import FACT_KINDS

N = 50


def synth(out: Path, n: int = N, seed: int = 11) -> Path:
    result = CliRunner().invoke(app, ["synth", "--n", str(n), "--seed", str(seed), str(out)])
    assert result.exit_code == 0, result.output
    return out


def synth_in_a_fresh_process(out: Path, seed: int, hash_seed: str) -> bytes:
    done = subprocess.run([sys.executable, "-m", "memscore_core.cli", "synth", "--n", "8", "--seed", str(seed),
                           str(out)], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONHASHSEED": hash_seed})
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Conversation]:
    """N conversations as ``memscore synth`` writes them, read back through the loader."""
    loaded = load_conversations([synth(tmp_path_factory.mktemp("synth") / "corpus.jsonl")])
    assert loaded.errors == []
    return [item.conversation for item in loaded.conversations]


def answers(corpus: list[Conversation]) -> list[tuple[Conversation, int, Entry]]:
    return [(c, i, e) for c in corpus for i, e in enumerate(c.entries) if e.role == "assistant"]


def remembered_value(memory: Entry) -> str:
    """The invented value a memory states, read back through its fact kind's memory templates.

    A redundant copy ``notes/codes-bike-lock`` states the fact ``codes/bike-lock``.
    """
    assert memory.memory_key is not None
    key = memory.memory_key
    if key.startswith("notes/"):
        key = key.removeprefix("notes/").replace("-", "/", 1)
    text = memory.content.removeprefix("Recalled memory: ")
    for kind in FACT_KINDS:
        for slot in kind.slots:
            if kind.key.format(slot=slot.replace(" ", "-")) != key:
                continue
            for template in kind.memories:
                pattern = re.escape(template.format(slot=slot, v="\0")).replace("\0", "(.+)")
                if match := re.fullmatch(pattern, text):
                    return match.group(1)
    raise AssertionError(f"no fact kind states memory {memory.memory_key!r}: {memory.content!r}")


def memories_by_key(conversation: Conversation) -> dict[str, Entry]:
    return {e.memory_key: e for e in conversation.entries if e.memory_key is not None}


def test_the_same_seed_writes_byte_identical_files_in_separate_processes(tmp_path: Path) -> None:
    first = synth_in_a_fresh_process(tmp_path / "a.jsonl", seed=5, hash_seed="1")
    second = synth_in_a_fresh_process(tmp_path / "b.jsonl", seed=5, hash_seed="2")
    assert first and first == second


def test_the_model_card_evaluation_corpus_is_byte_for_byte_the_one_it_was_measured_on(tmp_path: Path) -> None:
    written = synth(tmp_path / "eval.jsonl", n=200, seed=424242).read_bytes()
    assert hashlib.sha256(written).hexdigest() == "4142df656ea376a1512c11e14beac4dd51850d30843c9b6c9ec653ae7d21b2e2"


def test_a_different_seed_writes_different_conversations(tmp_path: Path) -> None:
    one = synth(tmp_path / "a.jsonl", n=3, seed=5).read_text().splitlines()
    other = synth(tmp_path / "b.jsonl", n=3, seed=6).read_text().splitlines()
    assert [Conversation.model_validate_json(line).entries for line in one] != \
        [Conversation.model_validate_json(line).entries for line in other]


def test_the_cli_writes_one_line_per_conversation(tmp_path: Path) -> None:
    lines = synth(tmp_path / "nested" / "out.jsonl", n=7).read_bytes().splitlines()
    assert len(lines) == 7 and all(lines)


def test_every_generated_conversation_loads_with_a_unique_id(corpus: list[Conversation]) -> None:
    assert len(corpus) == N
    assert len({c.id for c in corpus}) == N


def test_memory_keys_are_unique_within_a_conversation(corpus: list[Conversation]) -> None:
    for conversation in corpus:
        keys = [e.memory_key for e in conversation.entries if e.memory_key is not None]
        assert len(keys) == len(set(keys)), conversation.id


def test_every_answer_names_its_kind_and_the_memories_it_uses(corpus: list[Conversation]) -> None:
    for conversation, _, answer in answers(corpus):
        assert answer.meta["kind"] in {"one", "two", "none", "redundant"}, conversation.id
        assert isinstance(answer.meta["uses_memories"], list), conversation.id


def test_every_used_memory_appears_before_the_answer_that_uses_it(corpus: list[Conversation]) -> None:
    for conversation, position, answer in answers(corpus):
        earlier = {e.memory_key for e in conversation.entries[:position] if e.memory_key is not None}
        assert set(answer.meta["uses_memories"]) <= earlier, (conversation.id, position)


def test_each_answer_kind_uses_as_many_memories_as_it_says(corpus: list[Conversation]) -> None:
    expected = {"one": 1, "two": 2, "none": 0}
    for conversation, position, answer in answers(corpus):
        used = answer.meta["uses_memories"]
        if answer.meta["kind"] == "redundant":
            assert len(used) in (2, 3) and sum(key.startswith("notes/") for key in used) == 1
        else:
            assert len(used) == expected[answer.meta["kind"]], (conversation.id, position)


def test_a_batch_has_one_memory_two_memory_no_memory_and_redundant_answers(corpus: list[Conversation]) -> None:
    kinds = Counter(answer.meta["kind"] for _, _, answer in answers(corpus))
    assert {"one", "two", "none", "redundant"} <= set(kinds)


def test_a_batch_surfaces_memories_both_as_user_and_as_tool_messages(corpus: list[Conversation]) -> None:
    roles = Counter(e.role for c in corpus for e in c.entries if e.memory_key is not None)
    assert set(roles) == {"user", "tool"}


def test_tool_memories_carry_a_tool_call_id(corpus: list[Conversation]) -> None:
    tools = [e for c in corpus for e in c.entries if e.role == "tool"]
    assert tools and all(e.tool_call_id for e in tools)


def test_some_answers_carry_reasoning_and_some_do_not(corpus: list[Conversation]) -> None:
    reasoning = [answer.reasoning for _, _, answer in answers(corpus)]
    assert any(reasoning) and not all(reasoning)
    assert all(r is None or "<think>" not in r for r in reasoning)


def test_an_answer_restates_the_value_of_every_memory_it_uses(corpus: list[Conversation]) -> None:
    checked = 0
    for conversation, position, answer in answers(corpus):
        memories = memories_by_key(conversation)
        for key in answer.meta["uses_memories"]:
            assert remembered_value(memories[key]) in answer.content, (conversation.id, position, key)
            checked += 1
    assert checked > N


def test_a_redundant_copy_states_the_same_value_as_its_original(corpus: list[Conversation]) -> None:
    pairs = 0
    for conversation in corpus:
        memories = memories_by_key(conversation)
        for key, copy in memories.items():
            if key.startswith("notes/"):
                original = memories[key.removeprefix("notes/").replace("-", "/", 1)]
                assert remembered_value(copy) == remembered_value(original), conversation.id
                pairs += 1
    assert pairs > 0


def test_a_no_memory_answer_restates_no_remembered_value(corpus: list[Conversation]) -> None:
    for conversation, position, answer in answers(corpus):
        if answer.meta["kind"] == "none":
            values = {remembered_value(m) for m in memories_by_key(conversation).values()}
            assert not [v for v in values if v in answer.content], (conversation.id, position)
