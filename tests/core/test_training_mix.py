"""The training script's many-memory mix: how many of a chunk's memories its answers use."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from memscore_core.settings import REPO_ROOT


@pytest.fixture(scope="module")
def training() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_tiny_model", REPO_ROOT / "scripts" / "train_tiny_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_default_mix_uses_one_memory_in_eight_as_memscore_tiny_2_was_trained(training: ModuleType) -> None:
    for memories in (16, 64, 128):
        draw = training.many_draw(2, 8, 10, full_share=0.0, stages=((memories,),))
        assert {chunk.meta["used"] for chunk in draw(0)} == {memories // 8}


def test_a_used_share_of_one_asks_about_every_memory_of_a_small_chunk(training: ModuleType) -> None:
    for memories in (2, 4):
        draw = training.many_draw(2, 8, 10, full_share=0.0, stages=((memories,),), used_share=1.0)
        chunks = draw(0)
        assert len(chunks) == training.MANY_BATCH[memories]
        assert {chunk.meta["used"] for chunk in chunks} == {memories}
