"""A line-by-line Python transliteration of the seed's ``training.rs`` (``score_memories``).

Independent of memscore on purpose: its own chunking, walker, HTTP calls and sums, so that the seed
strategy can be checked against it. Entries are dicts ``{"role", "content", "memory_key"?}``.
"""

from __future__ import annotations

from typing import Any

import httpx

CHARS_PER_TOKEN = 4


def score_memories(system_prompt: str, context: str, entries: list[dict[str, Any]], *, base_url: str, model: str,
                   api_key: str = "", scoring_chunk_tokens: int = 50_000) -> dict[str, Any]:
    memories = [(i, e["memory_key"]) for i, e in enumerate(entries) if e.get("memory_key") is not None]
    response_indices = [i for i, e in enumerate(entries) if e["role"] == "assistant"]
    if not memories or not response_indices:
        return {"memory_weights": [], "response_scores": [], "matrix": [], "memory_keys": [],
                "response_entry_indices": []}
    with httpx.Client(timeout=300) as http:
        args = (system_prompt, context, http, base_url, model, api_key, scoring_chunk_tokens)
        baseline = get_response_logprobs(entries, *args)
        matrix = []
        memory_keys = [k for _, k in memories]
        for entry_idx, _key in memories:
            filtered = [e for i, e in enumerate(entries) if i != entry_idx]
            without = get_response_logprobs(filtered, *args)
            row = []
            for base_lps, without_lps in zip(baseline, without, strict=False):
                divergence = 0.0
                for b, w in zip(base_lps, without_lps, strict=False):
                    d = b - w
                    if d > 0.0:
                        divergence += d
                row.append(divergence)
            matrix.append(row)
    memory_weights = []
    for key, row in zip(memory_keys, matrix, strict=True):
        total = 0.0
        for v in row:
            total += v
        memory_weights.append((key, total))
    n_responses = len(response_indices)
    response_scores = [0.0] * n_responses
    for row in matrix:
        for j, v in enumerate(row):
            if j < n_responses:
                response_scores[j] += v
    return {"memory_weights": memory_weights, "response_scores": response_scores, "matrix": matrix,
            "memory_keys": memory_keys, "response_entry_indices": response_indices}


def get_response_logprobs(entries: list[dict[str, Any]], system_prompt: str, context: str, http: httpx.Client,
                          base_url: str, model: str, api_key: str, scoring_chunk_tokens: int) -> list[list[float]]:
    prefix = [{"role": "system", "content": system_prompt}]
    if context:
        prefix.append({"role": "user", "content": context})
    prefix_chars = sum(len(m["content"].encode()) for m in prefix)
    budget = max(0, scoring_chunk_tokens * CHARS_PER_TOKEN - prefix_chars)
    all_responses: list[list[float]] = []
    for chunk in chunk_entries(entries, budget):
        msgs = prefix + [api_message(e) for e in chunk]
        all_responses.extend(call_prompt_logprobs(msgs, http, base_url, model, api_key))
    return all_responses


def api_message(entry: dict[str, Any]) -> dict[str, Any]:
    message = {"role": entry["role"], "content": entry["content"]}
    if entry.get("tool_call_id") is not None:
        message["tool_call_id"] = entry["tool_call_id"]
    return message


def chunk_entries(entries: list[dict[str, Any]], budget_chars: int) -> list[list[dict[str, Any]]]:
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    current_chars = 0
    for entry in entries:
        current_chars += len(entry["content"].encode())
        current.append(entry)
        if current_chars >= budget_chars and entry["role"] == "assistant":
            chunks.append(current)
            current = []
            current_chars = 0
    if current:
        chunks.append(current)
    if not chunks:
        chunks.append(list(entries))
    return chunks


def call_prompt_logprobs(msgs: list[dict[str, Any]], http: httpx.Client, base_url: str, model: str,
                         api_key: str) -> list[list[float]]:
    request = {"model": model, "messages": msgs, "max_tokens": 1, "prompt_logprobs": 1, "stream": False}
    response = http.post(f"{base_url}/chat/completions", json=request,
                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"})
    body = response.json()
    if not response.is_success:
        message = (body.get("error") or {}).get("message", "unknown error")
        raise RuntimeError(f"HTTP {response.status_code} from logprobs API: {message}")
    prompt_logprobs = body.get("prompt_logprobs")
    if not isinstance(prompt_logprobs, list):
        raise RuntimeError("no prompt_logprobs in response")
    responses: list[list[float]] = []
    in_assistant = False
    in_think = False
    current_response: list[float] = []
    for entry in prompt_logprobs:
        if not isinstance(entry, dict):
            continue
        first = next(iter(entry.values()), None)
        if not isinstance(first, dict):
            continue
        token = first.get("decoded_token") if isinstance(first.get("decoded_token"), str) else ""
        logprob = first.get("logprob") if isinstance(first.get("logprob"), float) else 0.0
        if token == "<|im_start|>":
            in_assistant = False
            in_think = False
        elif token == "assistant" and not in_assistant:
            in_assistant = True
            in_think = False
            current_response.clear()
        elif token == "<think>" and in_assistant:
            in_think = True
        elif token == "</think>" and in_assistant:
            in_think = False
        elif token == "<|im_end|>" and in_assistant:
            if current_response:
                responses.append(current_response)
                current_response = []
            in_assistant = False
        elif token == "\n" and in_assistant and not current_response:
            pass
        elif in_assistant and not in_think:
            current_response.append(logprob)
    return responses
