"""Wall time of memscore's exact scoring on the embedded server beside the obvious brute-force loop, one run.

The loop renders every prompt exact sends for a one-chunk conversation (the whole conversation, one per
memory left out, all memories left out) with the model's chat template and runs one float32 forward pass per
prompt, no prefix reuse. memscore scores the same conversations through the embedded server in-process, as
``memscore score`` does (request pool of ``--concurrency``). Both use ``--threads`` torch threads; model
loading is outside both timings. Run from the repository root:

    PYTHONPATH=. .venv/bin/python scripts/time_exact_vs_brute_force.py data/models/smollm2-135m-instruct \\
        --conversations data/conversations/sample.jsonl --n 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import torch

from memscore_core.backends.factory import EMBEDDED_BASE_URL
from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.bench.strategies import score_corpus
from memscore_core.config import ScoringConfig
from memscore_core.embedded.app import ServerOptions, build_app
from memscore_core.embedded.model import LocalModel
from memscore_core.formats.loading import load_conversations
from memscore_core.model.conversation import Conversation


def prompts(conversation: Conversation) -> list[list[dict[str, Any]]]:
    """The messages of every prompt exact sends for a one-chunk conversation: baseline, each memory left out,
    all left out."""
    memories = [i for i, entry in enumerate(conversation.entries) if entry.memory_key]
    skips = [set(), *({m} for m in memories), *([set(memories)] if memories else [])]
    return [conversation.prefix_messages() + [e.api_message() for i, e in enumerate(conversation.entries)
                                              if i not in skip] for skip in skips]


def brute_force(model: LocalModel, conversations: list[Conversation]) -> dict[str, float]:
    """One forward pass and a log-softmax gather per prompt (the embedded model's transformers model, outside
    memscore's server); returns wall seconds, prompts and tokens."""
    tokenizer, network = model.tokenizer, model.model
    began, tokens, count = time.perf_counter(), 0, 0
    for conversation in conversations:
        for messages in prompts(conversation):
            text = tokenizer.apply_chat_template(messages, tools=conversation.tools, tokenize=False)
            ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
            with torch.inference_mode():
                logprobs = torch.log_softmax(network(ids).logits[0, :-1].float(), dim=-1)
                logprobs.gather(1, ids[0, 1:, None])
            tokens += ids.shape[1]
            count += 1
    return {"wall_s": time.perf_counter() - began, "prompts": count, "prompt_tokens": tokens}


def memscore_exact(model: LocalModel, conversations: list[Conversation], concurrency: int) -> dict[str, float]:
    """memscore's exact strategy through the embedded server (in-process, as `memscore score` runs it)."""
    backend = VllmBackend(base_url=EMBEDDED_BASE_URL, retry=RetryPolicy(attempts=1),
                          transport=httpx.ASGITransport(app=build_app(model, ServerOptions())))
    computed, reused = model.computed_tokens, model.reused_tokens

    async def run() -> tuple[int, int, float, int]:
        async with backend:
            scores, failed, wall = await score_corpus(conversations, backend, ScoringConfig(), concurrency)
        return sum(s.requests for s in scores), sum(s.prompt_tokens for s in scores), wall, failed
    requests, tokens, wall, failed = asyncio.run(run())
    return {"wall_s": wall, "requests": requests, "prompt_tokens": tokens, "failed": failed,
            "computed_tokens": model.computed_tokens - computed, "reused_tokens": model.reused_tokens - reused}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--conversations", type=Path, default=Path("data/conversations/sample.jsonl"))
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    conversations = [item.conversation for item in load_conversations([args.conversations]).conversations][:args.n]
    model = LocalModel(args.model_dir, threads=args.threads)
    loop = brute_force(model, conversations)
    exact = memscore_exact(model, conversations, args.concurrency)
    print(json.dumps({"model": args.model_dir.name, "conversations": len(conversations), "threads": args.threads,
                      "brute_force": loop, "memscore_exact": exact,
                      "exact_wall_vs_brute_force": exact["wall_s"] / loop["wall_s"]}, indent=2))


if __name__ == "__main__":
    main()
