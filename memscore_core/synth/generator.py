"""Synthetic agent conversations with planted ground truth.

Each assistant answer records in ``meta`` which memories it needs (``uses_memories``) and its kind:
``one`` (restates one memory), ``two`` (combines two), ``none`` (needs no memory) or ``redundant``
(its fact is recalled twice, so either copy suffices).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from memscore_core.model.conversation import Conversation, Entry
from memscore_core.synth.facts import Fact, invented_word, sample_facts

SYSTEM_PROMPTS = (
    "You are a helpful assistant with a long-term memory. Recalled notes appear in the conversation.",
    "You are the user's personal agent. Use the memories you recall to answer precisely.",
    "You are a concise assistant. Answer from the notes you have about the user.",
)
CHITCHAT = (
    ("Thanks!", "You're welcome!"),
    ("Hello there.", "Hello! How can I help you today?"),
    ("Good morning!", "Good morning! What can I do for you?"),
    ("That is all for now.", "All right. Talk to you later!"),
)


@dataclass(frozen=True)
class SynthShape:
    """Size knobs of generated conversations."""

    min_facts: int = 3
    max_facts: int = 6
    min_turns: int = 3
    max_turns: int = 7
    redundant_rate: float = 0.25
    think_rate: float = 0.3
    context_rate: float = 0.3


@dataclass
class _Plan:
    rng: random.Random
    entries: list[Entry] = field(default_factory=list)
    surfaced: set[str] = field(default_factory=set)
    asked: set[str] = field(default_factory=set)
    tool_calls: int = 0

    def pick(self, facts: list[Fact], count: int) -> list[Fact]:
        """Facts for a question, preferring ones not asked about yet."""
        fresh = [fact for fact in facts if fact.key not in self.asked]
        pool = fresh if len(fresh) >= count else facts
        chosen = self.rng.sample(pool, count)
        self.asked.update(fact.key for fact in chosen)
        return chosen

    def surface(self, fact: Fact, key: str | None = None) -> None:
        key = key or fact.key
        if key in self.surfaced:
            return
        self.surfaced.add(key)
        text = fact.memory_text(self.rng)
        if self.rng.random() < 0.5:
            self.entries.append(Entry(role="user", content=f"Recalled memory: {text}", memory_key=key))
        else:
            self.tool_calls += 1
            self.entries.append(Entry(role="tool", content=text, memory_key=key,
                                      tool_call_id=f"call_{self.tool_calls}"))


def copy_key(key: str) -> str:
    """The memory key under which a redundant copy of the fact stored at ``key`` is surfaced."""
    return f"notes/{key.replace('/', '-')}"


def generate_conversation(seed: int, index: int, shape: SynthShape = SynthShape()) -> Conversation:
    """One deterministic conversation for (seed, index)."""
    rng = random.Random(f"memscore-synth:{seed}:{index}")
    facts = sample_facts(rng, rng.randint(shape.min_facts, shape.max_facts))
    redundant = {facts[0].key: copy_key(facts[0].key)} if rng.random() < shape.redundant_rate else {}
    plan = _Plan(rng=rng)
    context = ""
    user_name = invented_word(rng)
    if rng.random() < shape.context_rate:
        context = f"The user's name is {user_name}. Be brief and friendly."
    turns = rng.randint(shape.min_turns, shape.max_turns)
    surface_at = {fact.key: rng.randrange(turns) for fact in facts}
    for turn in range(turns):
        for fact in facts:
            if surface_at[fact.key] == turn:
                plan.surface(fact)
        _add_turn(plan, facts, redundant, context, user_name, shape)
    return Conversation(
        id=f"synth-{seed}-{index:05d}",
        system_prompt=rng.choice(SYSTEM_PROMPTS),
        context=context,
        entries=plan.entries,
        meta={"generator": "memscore-synth", "seed": seed, "index": index},
    )


def _add_turn(plan: _Plan, facts: list[Fact], redundant: dict[str, str], context: str,
              user_name: str, shape: SynthShape) -> None:
    rng = plan.rng
    roll = rng.random()
    if roll < 0.3:
        question, answer, used, kind = _no_memory_turn(rng, context, user_name)
    elif roll < 0.5 and len(facts) >= 2:
        first, second = plan.pick(facts, 2)
        for fact in (first, second):
            plan.surface(fact)
        question = f"{first.question(rng)} Also, {lower_first(second.question(rng))}"
        answer = f"{first.answer(rng)} {second.answer(rng)}"
        used = [first.key, second.key]
        kind = "two"
        if first.key in redundant or second.key in redundant:
            used += [redundant[k] for k in (first.key, second.key) if k in redundant]
            kind = "redundant"
    else:
        (fact,) = plan.pick(facts, 1)
        plan.surface(fact)
        question, answer, used, kind = fact.question(rng), fact.answer(rng), [fact.key], "one"
        if fact.key in redundant:
            used.append(redundant[fact.key])
            kind = "redundant"
    for key in used:
        if key in redundant.values():
            source = next(f for f in facts if redundant.get(f.key) == key)
            plan.surface(source, key)
    plan.entries.append(Entry(role="user", content=question))
    reasoning = None
    if rng.random() < shape.think_rate:
        reasoning = f"The user is asking about {_topic(facts, used)}. I should answer from what I know."
    plan.entries.append(Entry(role="assistant", content=answer, reasoning=reasoning,
                              meta={"uses_memories": used, "kind": kind}))


def _no_memory_turn(rng: random.Random, context: str, user_name: str) -> tuple[str, str, list[str], str]:
    roll = rng.random()
    if roll < 0.4:
        word = invented_word(rng)
        return f"Please repeat this word: {word}", f"{word}.", [], "none"
    if roll < 0.6 and context:
        return "What is my name?", f"Your name is {user_name}.", [], "none"
    question, answer = rng.choice(CHITCHAT)
    return question, answer, [], "none"


def _topic(facts: list[Fact], used: list[str]) -> str:
    by_key = {fact.key: fact for fact in facts}
    topics = [by_key[key].topic() for key in used if key in by_key]
    return " and ".join(topics) if topics else "something general"


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def generate_corpus(n: int, seed: int, shape: SynthShape = SynthShape()) -> Iterator[Conversation]:
    """``n`` deterministic conversations for ``seed``."""
    for index in range(n):
        yield generate_conversation(seed, index, shape)
