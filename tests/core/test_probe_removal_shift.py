"""The removal-versus-replacement probe: its replacement moves no token."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest
from transformers import AutoTokenizer

from memscore_core.settings import REPO_ROOT


@pytest.fixture(scope="module")
def probe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("probe_removal_shift",
                                                  REPO_ROOT / "scripts" / "probe_removal_shift.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_replacement_has_the_token_count_of_the_memory_it_replaces(probe: ModuleType) -> None:
    tokenizer = AutoTokenizer.from_pretrained(REPO_ROOT / "data" / "models" / "memscore-tiny-3")
    for tokens in (1, 7, 19):
        assert len(tokenizer(probe.same_length_filler(tokenizer, tokens))["input_ids"]) == tokens
