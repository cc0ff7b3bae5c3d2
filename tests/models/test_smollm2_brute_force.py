"""`memscore score` on SmolLM2 (embedded, `--model-dir`) equals a brute-force transformers leave-one-out.

SmolLM2's template inserts "You are a helpful AI assistant named SmolLM, …" as a system message when a
conversation has none. memscore then sends none either, so the template scores what the agent's model saw; a
conversation with a system prompt is scored with it. Both are checked cell by cell against one float32 forward
pass per prompt (the helpers of tests/parity/test_brute_force.py), within 1e-3.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from memscore_core.ablation.spans import message_spans
from memscore_core.model.prompt import ScoredPrompt
from memscore_core.settings import REPO_ROOT
from tests.parity.test_brute_force import leave_one_out as brute_force_leave_one_out
from tests.support.models import require_smollm2

DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
SAMPLE = REPO_ROOT / "data" / "conversations" / "sample.jsonl"
WITH_SYSTEM = json.loads(SAMPLE.read_text().splitlines()[11])  # synth-2026-00011: 4 memories, 3 answers, a context
WITHOUT_SYSTEM = {**WITH_SYSTEM, "id": f"{WITH_SYSTEM['id']}-no-system", "system_prompt": ""}
CONVERSATIONS = [WITH_SYSTEM, WITHOUT_SYSTEM]
TOLERANCE = 1e-3

Matrices = dict[str, list[list[float]]]


@pytest.fixture(scope="module")
def smollm2() -> tuple[Any, Any]:
    model_dir = require_smollm2()
    torch.set_num_threads(1)
    return (AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval(),
            AutoTokenizer.from_pretrained(model_dir))


def leave_one_out(smollm2: tuple[Any, Any], conversation: dict[str, Any]) -> Matrices:
    """The parity tests' brute force on SmolLM2, drop-all as a one-row matrix."""
    expected = brute_force_leave_one_out(*smollm2, conversation)
    return {**expected, "drop_all": [expected["drop_all"]]}


@pytest.fixture(scope="module")
def brute_force(smollm2: tuple[Any, Any]) -> list[Matrices]:
    return [leave_one_out(smollm2, conversation) for conversation in CONVERSATIONS]


@pytest.fixture(scope="module")
def embedded_scores(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    model_dir = require_smollm2()
    tmp = tmp_path_factory.mktemp("smollm2")
    source = tmp / "conversations.jsonl"
    source.write_text("".join(json.dumps(c) + "\n" for c in CONVERSATIONS))
    done = subprocess.run([sys.executable, "-m", "memscore_core.cli", "score", str(source), "--json", "--no-cache",
                           "--model-dir", str(model_dir), "--db", str(tmp / "smollm2.duckdb")],
                          capture_output=True, text=True, timeout=900, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def assert_close(got: list[list[float]], want: list[list[float]]) -> None:
    assert len(got) == len(want)
    for got_row, want_row in zip(got, want, strict=True):
        assert got_row == pytest.approx(want_row, abs=TOLERANCE)


@pytest.mark.parametrize("field", ["matrix", "signed_matrix"])
@pytest.mark.parametrize("index", [0, 1], ids=["with-system-prompt", "without-system-prompt"])
def test_embedded_scores_on_smollm2_equal_brute_force_leave_one_out(
        field: str, index: int, embedded_scores: list[dict[str, Any]], brute_force: list[Matrices]) -> None:
    assert embedded_scores[index]["conversation_id"] == CONVERSATIONS[index]["id"]
    assert_close(embedded_scores[index][field], brute_force[index][field])


@pytest.mark.parametrize("index", [0, 1], ids=["with-system-prompt", "without-system-prompt"])
def test_embedded_drop_all_on_smollm2_equals_brute_force_removal_of_every_memory(
        index: int, embedded_scores: list[dict[str, Any]], brute_force: list[Matrices]) -> None:
    assert_close([embedded_scores[index]["drop_all"]], brute_force[index]["drop_all"])


def test_the_memories_matter_on_smollm2(brute_force: list[Matrices]) -> None:
    """The comparison is not of zeros: a pretrained model's answers depend on the memories they restate."""
    for expected in brute_force:
        assert max(max(row) for row in expected["matrix"]) > 1.0


def test_without_a_system_prompt_the_default_one_is_scored_not_an_empty_one(
        smollm2: tuple[Any, Any], embedded_scores: list[dict[str, Any]]) -> None:
    model, tokenizer = smollm2
    empty_system = {**WITHOUT_SYSTEM, "system_prompt": " "}  # renders a system block of its own, not the default
    assert DEFAULT_SYSTEM not in tokenizer.apply_chat_template([{"role": "system", "content": " "}], tokenize=False)
    other = leave_one_out(smollm2, empty_system)["matrix"]
    scored = np.array(embedded_scores[1]["matrix"])
    assert np.abs(scored - np.array(other)).max() > 10 * TOLERANCE


def test_a_leading_system_block_nobody_sent_is_the_templates_and_is_skipped(smollm2: tuple[Any, Any]) -> None:
    _, tokenizer = smollm2
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    assert text.startswith(f"<|im_start|>system\n{DEFAULT_SYSTEM}<|im_end|>")
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    tokens = [None, *tokenizer.convert_ids_to_tokens(ids)[1:]]
    tokens = [None if t is None else tokenizer.convert_tokens_to_string([t]) for t in tokens]
    scored = ScoredPrompt(np.array(ids), np.zeros(len(ids)), tokens, len(ids))
    spans = message_spans(scored, ["user", "assistant"])
    assert [span.role for span in spans] == ["user", "assistant"]
    assert tokenizer.decode([ids[i] for i in spans[1].response]) == "Hello there"
