"""Fact kinds for synthetic conversations: invented values a model can only copy from context.

``FACT_KINDS`` are facts about the user (about 20 distinct keys). ``CONTACT_KINDS`` word the same facts
about a named contact (``{o}`` in the templates), so a conversation can hold hundreds of distinct facts
of one form: the owner's invented name tells them apart.
"""

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
    label: str = "{slot}"
    """What the value is, as a field name (a contact card's ``{label}: {value}``)."""


@dataclass(frozen=True)
class Fact:
    """One planted fact: a kind, a slot (e.g. which pet), an invented value and, for contacts, an owner."""

    kind: FactKind
    slot: str
    value: str
    owner: str = ""

    @property
    def key(self) -> str:
        return self.kind.key.format(slot=self.slot.replace(" ", "-"), o=self.owner.lower())

    def memory_text(self, rng: random.Random) -> str:
        return rng.choice(self.kind.memories).format(slot=self.slot, v=self.value, o=self.owner)

    def question(self, rng: random.Random) -> str:
        return rng.choice(self.kind.questions).format(slot=self.slot, o=self.owner)

    def answer(self, rng: random.Random) -> str:
        return rng.choice(self.kind.answers).format(slot=self.slot, v=self.value, o=self.owner)

    def topic(self) -> str:
        return self.kind.topic.format(slot=self.slot, o=self.owner)

    def label(self) -> str:
        return self.kind.label.format(slot=self.slot)


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


CONTACT_KINDS: tuple[FactKind, ...] = (
    FactKind(
        key="contacts/{o}/pets/{slot}", slots=FACT_KINDS[0].slots,
        value=invented_word,
        memories=("{o}'s {slot} is called {v}.", "{o} has a {slot} named {v}."),
        questions=("What is {o}'s {slot} called?", "Do you remember the name of {o}'s {slot}?"),
        answers=("{o}'s {slot} is called {v}.", "{o}'s {slot}'s name is {v}."),
        topic="{o}'s {slot}",
    ),
    FactKind(
        key="contacts/{o}/people/{slot}", slots=FACT_KINDS[1].slots,
        value=invented_word,
        memories=("{o}'s {slot} is named {v}.", "{o}'s {slot} goes by {v}."),
        questions=("What is {o}'s {slot}'s name?", "Who is {o}'s {slot} again?"),
        answers=("{o}'s {slot} is named {v}.", "{o}'s {slot} is {v}."),
        topic="{o}'s {slot}",
    ),
    FactKind(
        key="contacts/{o}/home/{slot}", slots=("city",),
        value=invented_word,
        memories=("{o} lives in {v}.", "{o} moved to the town of {v}."),
        questions=("Where does {o} live?", "Which town does {o} live in?"),
        answers=("{o} lives in {v}.", "{o} lives in the town of {v}."),
        topic="where {o} lives", label="home town",
    ),
    FactKind(
        key="contacts/{o}/work/{slot}", slots=("employer",),
        value=_company,
        memories=("{o} works at {v}.", "{o}'s employer is {v}."),
        questions=("Where does {o} work?", "What is the name of {o}'s company?"),
        answers=("{o} works at {v}.", "{o}'s employer is {v}."),
        topic="{o}'s job",
    ),
    FactKind(
        key="contacts/{o}/work/{slot}", slots=("project",),
        value=invented_word,
        memories=("{o}'s project is codenamed {v}.", "The codename of {o}'s project is {v}."),
        questions=("What is {o}'s project's codename?", "What did we call {o}'s project?"),
        answers=("{o}'s project is codenamed {v}.", "The codename is {v}."),
        topic="{o}'s project", label="project codename",
    ),
    FactKind(
        key="contacts/{o}/codes/{slot}", slots=FACT_KINDS[5].slots,
        value=_code,
        memories=("{o}'s {slot} code is {v}.", "{o} set the {slot} code to {v}."),
        questions=("What is {o}'s {slot} code?", "Can you remind me of {o}'s {slot} code?"),
        answers=("The {slot} code is {v}.", "{o}'s {slot} code is {v}."),
        topic="{o}'s {slot} code", label="{slot} code",
    ),
    FactKind(
        key="contacts/{o}/calendar/{slot}", slots=FACT_KINDS[6].slots,
        value=_room,
        memories=("{o}'s {slot} is {v}.", "The {slot} for {o} is {v}."),
        questions=("What is {o}'s {slot}?", "Which {slot} does {o} have?"),
        answers=("{o}'s {slot} is {v}.", "It is {v}."),
        topic="{o}'s {slot}",
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


def sample_contact_facts(rng: random.Random, count: int, taken: set[str],
                         kinds: tuple[FactKind, ...] = CONTACT_KINDS) -> list[Fact]:
    """``count`` contact facts of ``kinds``, each about its own newly invented owner.

    No owner or value (by its first word: a company's name, a whole code) is already in ``taken``, which
    gains them, so within a conversation no two facts share a value and no owner doubles as a value.
    """
    facts: list[Fact] = []
    while len(facts) < count:
        kind = rng.choice(kinds)
        owner, value = fresh_value(rng, invented_word, taken), fresh_value(rng, kind.value, taken)
        facts.append(Fact(kind=kind, slot=rng.choice(kind.slots), value=value, owner=owner))
    return facts


def fresh_value(rng: random.Random, draw: Callable[[random.Random], str], taken: set[str]) -> str:
    """A value from ``draw`` whose first word is not in ``taken``; that word is added to ``taken``."""
    while (value := draw(rng)).split()[0] in taken:
        pass
    taken.add(value.split()[0])
    return value
