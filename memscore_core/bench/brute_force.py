"""The two sides of ``memscore bench models`` on one loaded model: memscore's exact strategy through the embedded
server in-process, and the brute-force loop (one forward pass per prompt exact sends), alternating conversation by
conversation (:mod:`memscore_core.bench.models`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import httpx
import torch

from memscore_core.ablation.requests import plan_exact
from memscore_core.backends.factory import EMBEDDED_BASE_URL
from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.bench.models import ModelRow, Side
from memscore_core.bench.strategies import score_corpus
from memscore_core.config import ScoringConfig
from memscore_core.embedded.app import ServerOptions, build_app
from memscore_core.embedded.model import LocalModel
from memscore_core.embedded.protocol import template_messages
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore

MAX_MODEL_LEN = 8192
TIMEOUT_S = 3600.0
WARM_UP = [{"role": "user", "content": "Warm up: say hello."}, {"role": "assistant", "content": "Hello!"}]


def loop_prompts(model: LocalModel, conversation: Conversation, config: ScoringConfig) -> list[list[int]]:
    """The token ids of every prompt exact sends for ``conversation``, as the embedded server renders them."""
    prompts = [request.prompt(conversation) for request in plan_exact(conversation, config.chunk_tokens).requests]
    return [model.encode(model.render(template_messages(prompt.messages), add_generation_prompt=False,
                                      tools=prompt.tools)) for prompt in prompts]


def brute_force(model: LocalModel, prompts: Sequence[list[int]]) -> None:
    """One forward pass and a log-softmax gather of the actual tokens per prompt: the obvious loop, with
    transformers' default attention (``sdpa``) rather than the server's row-invariant one."""
    with torch.inference_mode(), _attention(model, "sdpa"):
        for ids in prompts:
            tokens = torch.tensor([ids])
            logprobs = torch.log_softmax(model.model(tokens).logits[0, :-1].float(), dim=-1)
            logprobs.gather(1, tokens[0, 1:, None])


def measure_model(model: LocalModel, corpus: Sequence[Conversation], concurrency: int,
                  chunk_tokens: int | None = None) -> ModelRow:
    """memscore's exact scoring of ``corpus`` (chunks of ``chunk_tokens``, default the default) and the loop over the
    same prompts, each conversation both ways (after one untimed warm-up of each), which goes first alternating;
    and the server's computed and reused tokens."""
    config = ScoringConfig(strategy="exact") if chunk_tokens is None else \
        ScoringConfig(strategy="exact", chunk_tokens=chunk_tokens)
    app = build_app(model, ServerOptions(max_model_len=MAX_MODEL_LEN))
    ours, loop = Side(), Side()

    async def exact(conversation: Conversation) -> tuple[list[ConversationScore], int, float]:
        async with VllmBackend(base_url=EMBEDDED_BASE_URL, timeout=TIMEOUT_S, retry=RetryPolicy(attempts=1),
                               transport=httpx.ASGITransport(app=app)) as backend:
            return await score_corpus([conversation], backend, config, concurrency)

    def with_memscore(conversation: Conversation) -> Callable[[], None]:
        def score() -> None:
            scores, failed, _ = asyncio.run(exact(conversation))
            if failed:
                raise RuntimeError(f"memscore failed to score {conversation.id} on {model.name}")
            ours.prompts += sum(score.requests for score in scores)
            ours.prompt_tokens += sum(score.prompt_tokens for score in scores)
        return score

    def with_loop(conversation: Conversation) -> Callable[[], None]:
        prompts = loop_prompts(model, conversation, config)
        loop.prompts += len(prompts)
        loop.prompt_tokens += sum(len(ids) for ids in prompts)
        return lambda: brute_force(model, prompts)

    warm = model.encode(model.render(WARM_UP, add_generation_prompt=False))
    brute_force(model, [warm])
    model.prompt_logprobs(warm, 0)
    computed, reused = model.computed_tokens, model.reused_tokens
    for index, conversation in enumerate(corpus):
        runs = [(ours, with_memscore(conversation)), (loop, with_loop(conversation))]
        for side, run in runs if index % 2 == 0 else runs[::-1]:
            _timed(side, run)
    return ModelRow(model=model.name, path=str(model.model_dir), parameters=model.model.num_parameters(),
                    threads=torch.get_num_threads(), memscore=ours, loop=loop,
                    computed_tokens=model.computed_tokens - computed, reused_tokens=model.reused_tokens - reused)


@contextmanager
def _attention(model: LocalModel, name: str) -> Iterator[None]:
    """``model`` runs attention implementation ``name`` within the block."""
    before = model.model.config._attn_implementation
    model.model.set_attn_implementation(name)
    try:
        yield
    finally:
        model.model.set_attn_implementation(before)


def _timed(side: Side, run: Callable[[], None]) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    side.wall_s += time.perf_counter() - wall
    side.cpu_s += time.process_time() - cpu

