"""Fact kinds for synthetic conversations: invented values a model can only copy from context."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z",
           "br", "dr", "gr", "kl", "tr", "st", "sh", "th", "qu", "fl"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ei", "ou", "y"]
_CODAS = ["", "", "", "n", "r", "l", "s", "x", "th", "m"]
_COMPANY_SUFFIXES = ["Labs", "Works", "Systems", "Group", "Foundry"]


def invented_word(rng: random.Random) -> str:
    """A capitalised pronounceable word of two or three random syllables."""
    syllables = rng.randint(2, 3)
    word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
                   for _ in range(syllables))
    return word.capitalize()


def _code(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789") for _ in range(4))


def _room(rng: random.Random) -> str:
    return rng.choice("ABCDEFGHKMNPRSTVWXZ") + "".join(rng.choice("0123456789") for _ in range(3))


def _company(rng: random.Random) -> str:
    return f"{invented_word(rng)} {rng.choice(_COMPANY_SUFFIXES)}"


@dataclass(frozen=True)
class FactKind:
    """A family of facts: how its memory is worded, asked about and answered."""

    key: str
    slots: tuple[str, ...]
    value: Callable[[random.Random], str]
    memories: tuple[str, ...]
    questions: tuple[str, ...]
    answers: tuple[str, ...]
    topic: str


@dataclass(frozen=True)
class Fact:
    """One planted fact: a kind, a slot (e.g. which pet) and an invented value."""

    kind: FactKind
    slot: str
    value: str

    @property
    def key(self) -> str:
        return self.kind.key.format(slot=self.slot.replace(" ", "-"))

    def memory_text(self, rng: random.Random) -> str:
        return rng.choice(self.kind.memories).format(slot=self.slot, v=self.value)

    def question(self, rng: random.Random) -> str:
        return rng.choice(self.kind.questions).format(slot=self.slot)

    def answer(self, rng: random.Random) -> str:
        return rng.choice(self.kind.answers).format(slot=self.slot, v=self.value)

    def topic(self) -> str:
        return self.kind.topic.format(slot=self.slot)


FACT_KINDS: tuple[FactKind, ...] = (
    FactKind(
        key="pets/{slot}", slots=("dog", "cat", "parrot", "horse", "rabbit", "tortoise"),
        value=invented_word,
        memories=("The user's {slot} is called {v}.", "The user has a {slot} named {v}."),
        questions=("What is my {slot} called?", "Do you remember the name of my {slot}?"),
        answers=("Your {slot} is called {v}.", "Your {slot}'s name is {v}."),
        topic="their {slot}",
    ),
    FactKind(
        key="people/{slot}", slots=("sister", "brother", "mother", "friend", "manager", "dentist"),
        value=invented_word,
        memories=("The user's {slot} is named {v}.", "The user's {slot} goes by {v}."),
        questions=("What is my {slot}'s name?", "Who is my {slot} again?"),
        answers=("Your {slot} is named {v}.", "Your {slot} is {v}."),
        topic="their {slot}",
    ),
    FactKind(
        key="home/{slot}", slots=("city",),
        value=invented_word,
        memories=("The user lives in {v}.", "The user moved to the town of {v}."),
        questions=("Where do I live?", "Which town do I live in?"),
        answers=("You live in {v}.", "You live in the town of {v}."),
        topic="where they live",
    ),
    FactKind(
        key="work/{slot}", slots=("employer",),
        value=_company,
        memories=("The user works at {v}.", "The user's employer is {v}."),
        questions=("Where do I work?", "What is the name of my company?"),
        answers=("You work at {v}.", "Your employer is {v}."),
        topic="their job",
    ),
    FactKind(
        key="work/{slot}", slots=("project",),
        value=invented_word,
        memories=("The user's project is codenamed {v}.", "The codename of the user's project is {v}."),
        questions=("What is my project's codename?", "What did we call my project?"),
        answers=("Your project is codenamed {v}.", "The codename is {v}."),
        topic="their project",
    ),
    FactKind(
        key="codes/{slot}", slots=("door", "locker", "safe", "bike lock", "garage"),
        value=_code,
        memories=("The {slot} code is {v}.", "The user set the {slot} code to {v}."),
        questions=("What is the {slot} code?", "Can you remind me of the {slot} code?"),
        answers=("The {slot} code is {v}.", "Your {slot} code is {v}."),
        topic="the {slot} code",
    ),
    FactKind(
        key="calendar/{slot}", slots=("meeting room", "dentist room", "gym locker"),
        value=_room,
        memories=("The user's {slot} is {v}.", "The {slot} for the user is {v}."),
        questions=("What is my {slot}?", "Which {slot} do I have?"),
        answers=("Your {slot} is {v}.", "It is {v}."),
        topic="their {slot}",
    ),
)


def sample_facts(rng: random.Random, count: int) -> list[Fact]:
    """Distinct-key facts with fresh invented values."""
    facts: dict[str, Fact] = {}
    while len(facts) < count:
        kind = rng.choice(FACT_KINDS)
        fact = Fact(kind=kind, slot=rng.choice(kind.slots), value=kind.value(rng))
        facts.setdefault(fact.key, fact)
    return list(facts.values())
