"""The training script: its many-memory mix, and a model whose tokenizer groups digits in pairs."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer

from memscore_core.settings import DEFAULT_MODEL_DIR
from tests.support.scripts import load_script


@pytest.fixture(scope="module")
def training() -> ModuleType:
    return load_script("train_tiny_model")


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


def test_a_qwen2_model_as_llama_computes_the_same_logits(training: ModuleType) -> None:
    qwen = AutoModelForCausalLM.from_pretrained(DEFAULT_MODEL_DIR).eval()
    ids = torch.arange(5, 305).reshape(1, -1) % qwen.config.vocab_size
    with torch.no_grad():
        expected = qwen(ids).logits
        actual = training.as_llama(qwen).eval()(ids).logits
    assert torch.equal(actual, expected)


def test_grouped_digits_are_kept_by_the_saved_tokenizer(training: ModuleType, tmp_path: Path) -> None:
    qwen = AutoModelForCausalLM.from_pretrained(DEFAULT_MODEL_DIR)
    tokenizer, model = training.group_digits(Tokenizer.from_file(str(DEFAULT_MODEL_DIR / "tokenizer.json")),
                                             training.as_llama(qwen))
    training.save_model_dir(tmp_path, model, tokenizer)
    saved = AutoTokenizer.from_pretrained(tmp_path)
    ids = saved("The door code is 8131.")["input_ids"]
    assert saved.convert_ids_to_tokens(ids) == ["The", "Ġdoor", "Ġcode", "Ġis", "Ġ81", "31", "."]
    assert saved.decode(ids) == "The door code is 8131."
    assert saved("Please repeat this word: Grosflux")["input_ids"] == \
        AutoTokenizer.from_pretrained(DEFAULT_MODEL_DIR)("Please repeat this word: Grosflux")["input_ids"]
