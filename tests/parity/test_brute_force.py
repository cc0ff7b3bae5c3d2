"""An independent brute-force leave-one-out with transformers equals `memscore score` on the embedded default.

No server, no memscore parsing: the chat template renders the text, character offsets locate each
assistant answer, and a float32 forward pass gives the log-probabilities.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import httpx
import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.config import ScoringConfig
from memscore_core.embedded.app import ServerOptions, build_app
from memscore_core.embedded.serve import load_model
from memscore_core.model.conversation import Conversation
from memscore_core.scoring.conversation import score_conversation
from memscore_core.scoring.sending import pooled_sender
from memscore_core.settings import DEFAULT_MODEL_DIR, REPO_ROOT
from memscore_core.synth.generator import generate_corpus

CONVERSATIONS = [c.model_dump(mode="json") for c in generate_corpus(3, seed=77)]


def raw_messages(conversation: dict[str, Any], skip: set[int]) -> tuple[list[dict[str, Any]], list[int]]:
    """Chat messages without the entries in ``skip``, and the conversation entry each came from (-1: prefix).
    No system message when the conversation has no system prompt (the chat template adds its default, if any)."""
    messages: list[dict[str, Any]] = []
    origin: list[int] = []
    if conversation.get("system_prompt"):
        messages.append({"role": "system", "content": conversation["system_prompt"]})
        origin.append(-1)
    if conversation.get("context"):
        messages.append({"role": "user", "content": conversation["context"]})
        origin.append(-1)
    for index, entry in enumerate(conversation["entries"]):
        if index in skip:
            continue
        message = {"role": entry["role"], "content": entry["content"]}
        if entry.get("reasoning"):
            message["reasoning_content"] = entry["reasoning"]
        messages.append(message)
        origin.append(index)
    return messages, origin


def reasoning_as_text(message: dict[str, Any]) -> dict[str, Any]:
    """The message as memscore sends reasoning to a template that does not render it: a leading think block."""
    if not message.get("reasoning_content"):
        return message
    return {"role": message["role"], "content": f"<think>{message['reasoning_content']}</think>{message['content']}"}


def answer_logprobs(model: Any, tokenizer: Any, conversation: dict[str, Any],
                    skip: set[int]) -> dict[int, np.ndarray]:
    """Per assistant entry: log-probs of the tokens of its answer text (reasoning excluded)."""
    messages, origin = raw_messages(conversation, skip)
    sent = messages if "<think>" in tokenizer.chat_template else [reasoning_as_text(m) for m in messages]
    text = tokenizer.apply_chat_template(sent, tokenize=False, add_generation_prompt=False)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = torch.tensor([encoded["input_ids"]])
    with torch.inference_mode():
        logits = model(ids).logits[0].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    token_logprobs = np.array([float("nan")] + [float(logprobs[i - 1, ids[0, i]]) for i in range(1, ids.shape[1])])
    starts = np.array([start for start, _ in encoded["offset_mapping"]])
    answers = {}
    for position, (message, entry) in enumerate(zip(messages, origin, strict=True)):
        if message["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(sent[:position], tokenize=False) if position else ""
        head = "<|im_start|>assistant\n"
        if message.get("reasoning_content"):
            head += f"<think>{message['reasoning_content']}</think>"
        assert text.startswith(before + head)
        begin = len(before) + len(head)
        end = begin + len(message["content"])
        assert text[begin:end] == message["content"]
        answers[entry] = token_logprobs[(starts >= begin) & (starts < end)]
    return answers


Expected = dict[str, Any]


@pytest.fixture(scope="module")
def brute_force() -> list[Expected]:
    """Per conversation: clipped and signed leave-one-out matrices, and each answer's drop-all divergence."""
    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(DEFAULT_MODEL_DIR)
    model = AutoModelForCausalLM.from_pretrained(DEFAULT_MODEL_DIR, dtype=torch.float32).eval()
    return [leave_one_out(model, tokenizer, conversation) for conversation in CONVERSATIONS]


def leave_one_out(model: Any, tokenizer: Any, conversation: dict[str, Any]) -> Expected:
    """Clipped and signed leave-one-out matrices and each answer's drop-all divergence, one forward pass each."""
    base = answer_logprobs(model, tokenizer, conversation, set())
    memories = [i for i, e in enumerate(conversation["entries"]) if e.get("memory_key")]
    clipped, signed = [], []
    for memory in memories:
        without = answer_logprobs(model, tokenizer, conversation, {memory})
        clipped.append([float(np.clip(base[r] - without[r], 0, None).sum()) for r in sorted(base)])
        signed.append([float((base[r] - without[r]).sum()) for r in sorted(base)])
    stripped = answer_logprobs(model, tokenizer, conversation, set(memories))
    drop_all = [float(np.clip(base[r] - stripped[r], 0, None).sum()) for r in sorted(base)]
    return {"matrix": clipped, "signed_matrix": signed, "drop_all": drop_all}


@pytest.fixture(scope="module")
def embedded_scores(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("brute-force")
    source = tmp / "conversations.jsonl"
    source.write_text("".join(json.dumps(c) + "\n" for c in CONVERSATIONS))
    done = subprocess.run([sys.executable, "-m", "memscore_core.cli", "score", str(source), "--json", "--no-cache",
                           "--db", str(tmp / "bf.duckdb")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.parametrize("field", ["matrix", "signed_matrix"])
def test_embedded_scores_equal_brute_force_leave_one_out(field: str, embedded_scores: list[dict[str, Any]],
                                                         brute_force: list[Expected]) -> None:
    assert len(embedded_scores) == len(CONVERSATIONS)
    for score, expected in zip(embedded_scores, brute_force, strict=True):
        assert len(score[field]) == len(expected[field])
        for got_row, want_row in zip(score[field], expected[field], strict=True):
            assert got_row == pytest.approx(want_row, abs=1e-4)


def test_embedded_drop_all_equals_brute_force_removal_of_every_memory(embedded_scores: list[dict[str, Any]],
                                                                      brute_force: list[Expected]) -> None:
    for score, expected in zip(embedded_scores, brute_force, strict=True):
        assert score["drop_all"] == pytest.approx(expected["drop_all"], abs=1e-4)


SAVED_MEMORIES = REPO_ROOT / "data" / "examples" / "memscore-chat.jsonl"
# The system message of the conversation 'saved-memories' written out by hand, and each block as it appears in it.
SYSTEM_BY_HAND = ("You are a concise assistant. Answer from the notes you have about the user.\n\nSaved memories:\n"
                  "- The user moved to the town of Shoulsy.\n- The codename of the user's project is Louquaithvys.\n"
                  "\nBe brief.")
BLOCKS_BY_HAND = {"home/city": "- The user moved to the town of Shoulsy.\n",
                  "work/project": "- The codename of the user's project is Louquaithvys.\n"}


def saved_memories_conversation() -> dict[str, Any]:
    return next(json.loads(line) for line in SAVED_MEMORIES.read_text().splitlines()
                if json.loads(line)["id"] == "saved-memories")


@pytest.fixture(scope="module")
def system_memory_scores() -> dict[str, Any]:
    """memscore's exact strategy on the embedded app, as `memscore score` runs it."""
    conversation = Conversation.model_validate(saved_memories_conversation())

    async def run() -> dict[str, Any]:
        transport = httpx.ASGITransport(app=build_app(load_model(DEFAULT_MODEL_DIR), ServerOptions()))
        backend = VllmBackend(base_url="http://embedded/v1", transport=transport, retry=RetryPolicy(attempts=1))
        async with backend, pooled_sender(backend, ScoringConfig(), 2) as send:
            score = await score_conversation(conversation, send, ScoringConfig(), model=await backend.model())
        return score.model_dump()
    return asyncio.run(run())


def test_a_system_memory_ablation_equals_removing_its_block_from_the_system_prompt_by_hand(
        system_memory_scores: dict[str, Any]) -> None:
    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(DEFAULT_MODEL_DIR)
    model = AutoModelForCausalLM.from_pretrained(DEFAULT_MODEL_DIR, dtype=torch.float32).eval()
    plain = {**saved_memories_conversation(), "system_prompt": SYSTEM_BY_HAND}
    base = answer_logprobs(model, tokenizer, plain, set())
    for key, block in BLOCKS_BY_HAND.items():
        assert SYSTEM_BY_HAND.count(block) == 1
        without = answer_logprobs(model, tokenizer, {**plain, "system_prompt": SYSTEM_BY_HAND.replace(block, "")},
                                  set())
        want = [float(np.clip(base[r] - without[r], 0, None).sum()) for r in sorted(base)]
        row = system_memory_scores["memory_keys"].index(key)
        assert system_memory_scores["memory_entry_indices"][row] is None
        assert system_memory_scores["matrix"][row] == pytest.approx(want, abs=1e-4)
        assert any(value > 0.5 for value in want)
