"""The null-kinds probe: the filler is the only memory, and the two nulls and unused cells are reported."""

from __future__ import annotations

import asyncio
from types import ModuleType

import pytest

from memscore_core.settings import DEFAULT_MODEL_DIR
from memscore_core.synth.many import ManyShape, generate_many
from tests.support.scripts import load_script

CONVERSATION = generate_many(1, 3, ManyShape(memories=6, used=2))


@pytest.fixture(scope="module")
def probe() -> ModuleType:
    return load_script("probe_null_kinds")


def test_the_filler_goes_before_the_middle_memory_as_the_only_memory(probe: ModuleType) -> None:
    memories = [i for i, entry in enumerate(CONVERSATION.entries) if entry.is_memory]
    filled = probe.filler_only(CONVERSATION)
    assert [ref.key for ref in filled.memories] == [probe.NULL_KEY]
    assert filled.entries[memories[3]].content == probe.FILLER
    assert len(filled.entries) == len(CONVERSATION.entries) + 1


def test_the_probe_reports_both_nulls_and_the_largest_unused_cells(probe: ModuleType) -> None:
    report = asyncio.run(probe.probe(DEFAULT_MODEL_DIR, ManyShape(memories=6, used=2), 1, 3, unused=True))
    assert set(report) == {"null remove", "null replace", "largest unused cell, replace"}
    assert all(summary["samples"] > 0 for summary in report["null replace"].values())
