"""Against the real vLLM CPU server: the local backend and memscore's scores agree with it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from memscore_core.embedded.model import LocalModel
from memscore_core.formats.loading import load_conversations
from memscore_core.settings import DEFAULT_MODEL_DIR, REPO_ROOT

SAMPLE = REPO_ROOT / "data" / "conversations" / "sample.jsonl"
CONVERSATIONS = [item.conversation for item in load_conversations([SAMPLE]).conversations]


@pytest.fixture(scope="module")
def local_model() -> LocalModel:
    return LocalModel(DEFAULT_MODEL_DIR, prefix_cache=False)


@pytest.mark.parametrize("index", range(len(CONVERSATIONS)), ids=[c.id for c in CONVERSATIONS])
def test_vllm_prompt_logprobs_equal_the_local_backend(vllm_url: str, local_model: LocalModel, index: int) -> None:
    conversation = CONVERSATIONS[index]
    messages = conversation.prefix_messages() + [entry.api_message() for entry in conversation.entries]
    body = httpx.post(f"{vllm_url}/chat/completions", timeout=120, json={
        "model": "memscore-tiny", "messages": messages, "max_tokens": 1, "prompt_logprobs": 0,
        "add_generation_prompt": False, "return_token_ids": True}).json()
    ids = local_model.encode(local_model.render(messages, add_generation_prompt=False))
    assert body["prompt_token_ids"] == ids
    remote = np.array([next(iter(entry.values()))["logprob"] for entry in body["prompt_logprobs"][1:]])
    local = local_model.prompt_logprobs(ids, 0).logprobs
    assert np.abs(remote - local).max() < 1e-4


def score_json(tmp_path: Path, name: str, *extra: str) -> list[dict[str, Any]]:
    done = subprocess.run([sys.executable, "-m", "memscore_core.cli", "score", str(SAMPLE), "--json", "--no-cache",
                           "--db", str(tmp_path / f"{name}.duckdb"), *extra],
                          capture_output=True, text=True, timeout=900, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.parametrize("strategy", ["exact", "seed"])
def test_scores_through_vllm_equal_the_embedded_default(vllm_url: str, tmp_path: Path, strategy: str) -> None:
    remote = score_json(tmp_path, "vllm", "--base-url", vllm_url, "--model", "memscore-tiny", "--strategy", strategy)
    embedded = score_json(tmp_path, "embedded", "--strategy", strategy)
    assert [r["conversation_id"] for r in remote] == [e["conversation_id"] for e in embedded]
    for got, want in zip(remote, embedded, strict=True):
        assert got["memory_keys"] == want["memory_keys"]
        for got_row, want_row in zip(got["matrix"], want["matrix"], strict=True):
            assert got_row == pytest.approx(want_row, abs=1e-3)


def test_the_server_is_a_live_process_that_the_session_stops_by_pid(vllm_process: tuple[str, Any]) -> None:
    _, process = vllm_process
    assert process.poll() is None
    assert httpx.get(vllm_process[0].removesuffix("/v1") + "/health", timeout=10).status_code == 200
