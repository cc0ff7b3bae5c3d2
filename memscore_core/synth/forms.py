"""The kinds of memory a many-memory conversation surfaces (``memscore synth --kinds``).

``contacts``: every memory is a contact fact, stated as a recalled note (a user message) or a plain tool result.
``mixed``: the same facts in more forms — also a tool result in JSON, a memory block (a system message between
turns) and a contact card — and about a quarter of the distractors are memories of other kinds entirely (a
weather report, a calendar entry, a search result, a file), which no answer uses. A used fact and a distractor
fact are worded the same way; only the other kinds are never used.
"""

from __future__ import annotations

import json
import random
from typing import Literal

from memscore_core.model.conversation import Role
from memscore_core.synth.facts import Fact, fresh_value, invented_word

MemoryKinds = Literal["contacts", "mixed"]
MEMORY_KINDS: tuple[MemoryKinds, ...] = ("contacts", "mixed")
OTHER_RATE = 0.25
"""With ``mixed``: the share of distractors that are memories of other kinds, not contact facts."""

_FORECASTS = ("light rain", "sunny", "overcast", "snow showers", "fog in the morning", "windy")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ITEMS = ("milk", "bread", "batteries", "coffee", "envelopes", "lemons", "rice", "tape", "soap", "tea")


def fact_message(fact: Fact, rng: random.Random, kinds: MemoryKinds) -> tuple[Role, str]:
    """The role and text a memory stating ``fact`` is surfaced as."""
    text = fact.memory_text(rng)
    if kinds == "contacts":
        return ("user", f"Recalled memory: {text}") if rng.random() < 0.5 else ("tool", text)
    form = rng.randrange(5)
    if form == 0:
        return "user", f"Recalled memory: {text}"
    if form == 1:
        return "tool", text
    if form == 2:
        return "tool", json.dumps({"key": fact.key, "memory": text})
    if form == 3:
        return "system", f"[memory block {fact.key}]\n{text}"
    return "user", f"Contact card. Name: {fact.owner}. {fact.label().capitalize()}: {fact.value}."


def other_memory(rng: random.Random, taken: set[str]) -> tuple[str, Role, str]:
    """(key, role, text) of a memory no answer uses: a weather report, a calendar entry, a search result or a
    file, about a fresh invented name (added to ``taken``, so it never doubles as a fact's owner or value)."""
    name = fresh_value(rng, invented_word, taken)
    form = rng.randrange(4)
    if form == 0:
        report = {"tool": "weather", "town": name, "forecast": rng.choice(_FORECASTS), "high_c": rng.randint(-5, 35)}
        return f"tools/weather/{name.lower()}", "tool", json.dumps(report)
    if form == 1:
        return (f"events/{name.lower()}", "user",
                f"Recalled memory: lunch at the {name} café on {rng.choice(_DAYS)} at {rng.randint(11, 14)}:30.")
    if form == 2:
        return f"search/{name.lower()}", "tool", f"Search result: the {name} museum reopens after renovation."
    items = ", ".join(rng.sample(_ITEMS, 3))
    return f"files/{name.lower()}", "system", f"[memory block files/{name.lower()}]\nThe file {name.lower()}.txt " \
                                              f"lists: {items}."
