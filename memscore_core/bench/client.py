"""Client cost: parsing a prompt-logprobs body and the divergence math, per CPU second.

memscore's path (msgspec typed decoding straight into numpy arrays) against the standard-library path (``json`` and
Python lists), on the same body, side by side.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from memscore_core.ablation.divergence import response_divergences
from memscore_core.backends.parsing import parse_chat_body
from memscore_core.model.prompt import ScoredPrompt
from memscore_core.settings import REPO_ROOT

CAPTURE = REPO_ROOT / "tests" / "data" / "vllm-0.32-captures" / "t_2k_prompt_logprobs_1.json"


class ClientCost(BaseModel):
    body: str
    tokens: int
    memscore_tokens_per_cpu_s: float
    stdlib_tokens_per_cpu_s: float
    speedup: float


def stdlib_parse(body: bytes) -> ScoredPrompt:
    """The straightforward path: ``json.loads`` then Python lists, converted at the end."""
    document = json.loads(body)
    ids, logprobs = [-1], [float("nan")]
    tokens: list[str | None] = [None]
    for entry in document["prompt_logprobs"][1:]:
        key, info = next(iter(entry.items()))
        ids.append(int(key))
        logprobs.append(float(info["logprob"]))
        tokens.append(info["decoded_token"])
    return ScoredPrompt(np.array(ids), np.array(logprobs), tokens, document["usage"]["prompt_tokens"])


def _cpu_per_call(parse: Callable[[bytes], ScoredPrompt], body: bytes, repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        scored = parse(body)
        response_divergences(scored.logprobs[1:], scored.logprobs[1:] - 0.01, [len(scored) - 1])
    return (time.process_time() - start) / repeat


def client_cost(body_path: Path = CAPTURE, repeat: int = 200) -> ClientCost:
    """Tokens per CPU second of parse + math, memscore's path and the standard library's, interleaved."""
    body = body_path.read_bytes()
    tokens = len(parse_chat_body(body))
    ours, theirs = [], []
    for _ in range(3):
        ours.append(_cpu_per_call(parse_chat_body, body, repeat))
        theirs.append(_cpu_per_call(stdlib_parse, body, repeat))
    fast, slow = min(ours), min(theirs)
    return ClientCost(body=body_path.name, tokens=tokens, memscore_tokens_per_cpu_s=tokens / fast,
                      stdlib_tokens_per_cpu_s=tokens / slow, speedup=slow / fast)
