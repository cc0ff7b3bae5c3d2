"""Many-memory conversations: C segments, each surfacing M memories of which K are used.

Every memory is a fact about a named contact (``CONTACT_KINDS``), each with its own invented owner and
value, drawn the same way whether an answer uses it or not: the M − K distractors differ from the used
memories only in never being asked about. ``memory_kinds="mixed"`` words them in more forms and makes some
distractors memories of other kinds (:mod:`memscore_core.synth.forms`). A segment's turns are questions about
its K used memories (``one`` or ``two`` answers) mixed with questions that need no memory. With the ``grouped``
layout a segment opens with its M memories, then its turns; with ``interleaved`` its turns fall between its
memories, at random places, each after the memories it uses (as a real agent recalls while it talks). Then
more no-memory turns follow until the segment's bytes reach the chunk budget right after an answer. So
memscore's chunk planner, run with ``meta["chunk_tokens"]``, splits the conversation into exactly its C
segments. Ground truth is in each answer's ``meta`` as for :func:`generate_conversation`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Literal

from memscore_core.ablation.chunking import CHARS_PER_TOKEN, chunk_budget, entry_bytes
from memscore_core.model.conversation import Conversation, Entry, Role
from memscore_core.synth.facts import (
    CONTACT_KINDS,
    Fact,
    FactKind,
    fresh_value,
    invented_word,
    sample_contact_facts,
)
from memscore_core.synth.forms import OTHER_RATE, MemoryKinds, fact_message, other_memory
from memscore_core.synth.generator import CHITCHAT, SYSTEM_PROMPTS, lower_first

Layout = Literal["grouped", "interleaved"]
LAYOUTS: tuple[Layout, ...] = ("grouped", "interleaved")

MEMORY_BYTES = {"contacts": (46.2, 10.5), "mixed": (66.4, 20.5)}
"""Mean and standard deviation of one memory's UTF-8 bytes, per ``memory_kinds`` (measured on 100,000 draws)."""
ANSWERED_BYTES = (111.0, 54.0)
"""Mean and standard deviation of the turns that use one memory, no-memory turns between them included."""
PREFIX_BYTES = 160
"""At least the longest system prompt plus context."""
ATTEMPTS = 50


@dataclass(frozen=True)
class ManyShape:
    """M memories per segment, K of them used, C segments; ``chunk_tokens`` None picks a fitting default.

    ``kinds`` narrows the facts drawn (training drills, e.g. only digit values); the default is every kind.
    ``layout`` and ``memory_kinds`` are described in the module's docstring.
    """

    memories: int = 64
    used: int = 4
    chunks: int = 1
    chunk_tokens: int | None = None
    two_rate: float = 0.25
    none_rate: float = 0.3
    think_rate: float = 0.3
    context_rate: float = 0.3
    kinds: tuple[FactKind, ...] = CONTACT_KINDS
    layout: Layout = "grouped"
    memory_kinds: MemoryKinds = "contacts"

    def __post_init__(self) -> None:
        if self.memories < 1 or not 0 <= self.used <= self.memories or self.chunks < 1:
            raise ValueError(f"need memories ≥ 1, 0 ≤ used ≤ memories and chunks ≥ 1, got {self}")

    def budget_tokens(self) -> int:
        """``chunk_tokens`` as given, else the mean segment size before padding plus 2.5 standard deviations.

        About 1 segment in 150 then overflows and is redrawn; the rest are padded with a few no-memory turns.
        """
        if self.chunk_tokens is not None:
            return self.chunk_tokens
        memory_mean, memory_spread = MEMORY_BYTES[self.memory_kinds]
        mean = self.memories * memory_mean + self.used * ANSWERED_BYTES[0]
        spread = math.sqrt(self.memories * memory_spread ** 2 + self.used * ANSWERED_BYTES[1] ** 2)
        return math.ceil((mean + 2.5 * spread + PREFIX_BYTES) / CHARS_PER_TOKEN)


@dataclass
class _Writer:
    """A conversation being written, one segment at a time."""

    rng: random.Random
    user_name: str
    context: str
    think_rate: float
    taken: set[str]
    tool_calls: int = 0
    entries: list[Entry] = field(default_factory=list)

    def memory(self, fact: Fact, kinds: MemoryKinds) -> Entry:
        """The memory entry stating ``fact``."""
        role, text = fact_message(fact, self.rng, kinds)
        return self._memory(fact.key, role, text)

    def other(self) -> Entry:
        """A memory of another kind, which no answer uses."""
        return self._memory(*other_memory(self.rng, self.taken))

    def ask(self, facts: list[Fact]) -> list[Entry]:
        """A question about ``facts`` and its answer."""
        rng = self.rng
        question = " Also, ".join(f.question(rng) if i == 0 else lower_first(f.question(rng))
                                  for i, f in enumerate(facts))
        answer = " ".join(fact.answer(rng) for fact in facts)
        reasoning = None
        if rng.random() < self.think_rate:
            topics = " and ".join(fact.topic() for fact in facts)
            reasoning = f"The user is asking about {topics}. I should answer from what I know."
        return _turn(question, answer, reasoning, [fact.key for fact in facts], ("one", "two")[len(facts) - 1])

    def chat(self) -> list[Entry]:
        """A turn that needs no memory: repeat a fresh word, recall the user's name, or small talk."""
        roll = self.rng.random()
        if roll < 0.4:
            word = fresh_value(self.rng, invented_word, self.taken)
            question, answer = f"Please repeat this word: {word}", f"{word}."
        elif roll < 0.6 and self.context:
            question, answer = "What is my name?", f"Your name is {self.user_name}."
        else:
            question, answer = self.rng.choice(CHITCHAT)
        return _turn(question, answer, None, [], "none")

    def _memory(self, key: str, role: Role, text: str) -> Entry:
        if role != "tool":
            return Entry(role=role, content=text, memory_key=key)
        self.tool_calls += 1
        return Entry(role="tool", content=text, memory_key=key, tool_call_id=f"call_{self.tool_calls}")


def _turn(question: str, answer: str, reasoning: str | None, used: list[str], kind: str) -> list[Entry]:
    return [Entry(role="user", content=question),
            Entry(role="assistant", content=answer, reasoning=reasoning, meta={"uses_memories": used, "kind": kind})]


def generate_many(seed: int, index: int, shape: ManyShape = ManyShape()) -> Conversation:
    """One deterministic many-memory conversation for (seed, index, shape)."""
    rng = random.Random(f"memscore-synth-many:{seed}:{index}")
    user_name = invented_word(rng)
    context = f"The user's name is {user_name}. Be brief and friendly." if rng.random() < shape.context_rate else ""
    system_prompt = rng.choice(SYSTEM_PROMPTS)
    chunk_tokens = shape.budget_tokens()
    head = Conversation(id="head", system_prompt=system_prompt, context=context,
                        entries=[Entry(role="user", content="")])
    budget = chunk_budget(head, chunk_tokens)
    writer = _Writer(rng, user_name, context, shape.think_rate, taken={user_name})
    for _ in range(shape.chunks):
        _write_segment(writer, shape, budget)
    meta = {"generator": "memscore-synth-many", "seed": seed, "index": index, "memories": shape.memories,
            "used": shape.used, "chunks": shape.chunks, "chunk_tokens": chunk_tokens}
    if (shape.layout, shape.memory_kinds) != (LAYOUTS[0], "contacts"):
        meta |= {"layout": shape.layout, "memory_kinds": shape.memory_kinds}
    return Conversation(id=f"synth-many-{seed}-{index:05d}", system_prompt=system_prompt, context=context,
                        entries=writer.entries, meta=meta)


def _write_segment(writer: _Writer, shape: ManyShape, budget: int) -> None:
    """A segment whose running byte total first reaches ``budget`` at its last answer (redrawn until one fits)."""
    start, tool_calls = len(writer.entries), writer.tool_calls
    for _ in range(ATTEMPTS):
        del writer.entries[start:]
        writer.tool_calls = tool_calls
        _core(writer, shape)
        segment = writer.entries[start:]
        totals = list(accumulate(entry_bytes(entry) for entry in segment))
        answers = [total for total, entry in zip(totals, segment, strict=True) if entry.role == "assistant"]
        if all(total < budget for total in answers[:-1 if segment[-1].role == "assistant" else None]):
            total = totals[-1]
            while total < budget or writer.entries[-1].role != "assistant":
                writer.entries += writer.chat()
                total += entry_bytes(writer.entries[-2]) + entry_bytes(writer.entries[-1])
            return
    raise ValueError(f"chunk_tokens {shape.budget_tokens()} cannot hold {shape.memories} memories and "
                     f"{shape.used} answers using them in one chunk: raise it")


def _core(writer: _Writer, shape: ManyShape) -> None:
    """The M memories and the turns that use K of them, mixed with no-memory turns, in the shape's layout."""
    rng = writer.rng
    others = sum(rng.random() < OTHER_RATE for _ in range(shape.memories - shape.used)) \
        if shape.memory_kinds == "mixed" else 0
    facts = sample_contact_facts(rng, shape.memories - others, writer.taken, shape.kinds)
    memories = [writer.memory(fact, shape.memory_kinds) for fact in facts]
    pending = rng.sample(facts, shape.used)
    turns: list[tuple[list[Fact], list[Entry]]] = []
    while pending:
        if rng.random() < shape.none_rate:
            turns.append(([], writer.chat()))
        else:
            asked = [pending.pop(), pending.pop()] if len(pending) >= 2 and rng.random() < shape.two_rate \
                else [pending.pop()]
            turns.append((asked, writer.ask(asked)))
    for _ in range(others):
        memories.insert(rng.randint(0, len(memories)), writer.other())
    if shape.layout == "grouped":
        writer.entries += memories + [entry for _, entries in turns for entry in entries]
    else:
        writer.entries += _interleave(rng, memories, turns)


def _interleave(rng: random.Random, memories: list[Entry], turns: list[tuple[list[Fact], list[Entry]]]) -> list[Entry]:
    """``memories`` in order with ``turns`` between them: each turn after a uniformly drawn number of memories,
    at least those it uses (turns after the same memory keep their order)."""
    after = {memory.memory_key: place for place, memory in enumerate(memories, 1)}
    placed: dict[int, list[Entry]] = {}
    for facts, entries in turns:
        place = rng.randint(max((after[fact.key] for fact in facts), default=1), len(memories))
        placed.setdefault(place, []).extend(entries)
    return [entry for place, memory in enumerate(memories, 1) for entry in [memory, *placed.get(place, [])]]


def generate_many_corpus(n: int, seed: int, shape: ManyShape = ManyShape()) -> Iterator[Conversation]:
    """``n`` deterministic many-memory conversations for ``seed``."""
    for index in range(n):
        yield generate_many(seed, index, shape)


def corpus_chunk_tokens(conversations: Iterable[Conversation]) -> int | None:
    """The ``chunk_tokens`` to score a corpus with, from ``meta["chunk_tokens"]`` (None if none carries one).

    Raises ``ValueError`` when conversations disagree: one run scores with one chunk budget.
    """
    values = {c.meta["chunk_tokens"] for c in conversations if "chunk_tokens" in c.meta}
    if len(values) > 1:
        raise ValueError(f"conversations carry different chunk_tokens: {sorted(values)}")
    return values.pop() if values else None
