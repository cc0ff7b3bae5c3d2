"""The removal-versus-replacement probe: its replacement moves no token."""

from __future__ import annotations

from types import ModuleType

import pytest
from transformers import AutoTokenizer

from memscore_core.settings import REPO_ROOT
from tests.support.scripts import load_script


@pytest.fixture(scope="module")
def probe() -> ModuleType:
    return load_script("probe_removal_shift")


def test_the_replacement_has_the_token_count_of_the_memory_it_replaces(probe: ModuleType) -> None:
    tokenizer = AutoTokenizer.from_pretrained(REPO_ROOT / "data" / "models" / "memscore-tiny-3")
    for tokens in (1, 7, 19):
        assert len(tokenizer(probe.same_length_filler(tokenizer, tokens))["input_ids"]) == tokens
