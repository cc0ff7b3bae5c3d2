"""The two sides of ``memscore bench models`` on one loaded model: memscore's exact strategy through the embedded
server in-process, and the brute-force loop (one forward pass per prompt exact sends), alternating conversation by
conversation (:mod:`memscore_core.bench.models`)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

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


def brute_force(model: LocalModel, prompts: Sequence[list[int]], threads: int) -> None:
    """One forward pass and a log-softmax gather of the actual tokens per prompt on ``threads`` torch threads: the
    obvious loop, with transformers' default attention (``sdpa``) rather than the server's row-invariant one."""
    torch.set_num_threads(threads)
    with torch.inference_mode(), _attention(model, "sdpa"):
        for ids in prompts:
            tokens = torch.tensor([ids])
            logprobs = torch.log_softmax(model.model(tokens).logits[0, :-1].float(), dim=-1)
            logprobs.gather(1, tokens[0, 1:, None])


@dataclass
class _AtCores:
    """One number of cores: both sides' totals and the server's counters over memscore's runs."""

    cores: int
    ours: Side = field(default_factory=Side)
    loop: Side = field(default_factory=Side)
    computed: int = 0
    reused: int = 0
    lane_seconds: float = 0.0
    peak_lanes: int = 0


def measure_model(model: LocalModel, corpus: Sequence[Conversation], concurrency: int, cores: Sequence[int],
                  chunk_tokens: int | None = None, together: int = 1) -> list[ModelRow]:
    """memscore's exact scoring of ``corpus`` (chunks of ``chunk_tokens``, default the default) and the loop over the
    same prompts on each number of ``cores``, ``together`` conversations at a time every way (after one untimed
    warm-up of each), which side goes first alternating; memscore starts each group with an empty prefix cache and
    scores its conversations at once, as ``memscore score`` does a corpus."""
    config = ScoringConfig(strategy="exact") if chunk_tokens is None else \
        ScoringConfig(strategy="exact", chunk_tokens=chunk_tokens)
    app = build_app(model, ServerOptions(max_model_len=MAX_MODEL_LEN))
    runs = [_AtCores(count) for count in cores]

    async def exact(group: Sequence[Conversation]) -> tuple[list[ConversationScore], int, float]:
        async with VllmBackend(base_url=EMBEDDED_BASE_URL, timeout=TIMEOUT_S, retry=RetryPolicy(attempts=1),
                               transport=httpx.ASGITransport(app=app)) as backend:
            return await score_corpus(group, backend, config, concurrency)

    def with_memscore(run: _AtCores, group: Sequence[Conversation]) -> Callable[[], None]:
        def score() -> None:
            model.use_lanes(cores=run.cores)
            model.prefix_cache.clear()
            computed, reused, lane_seconds = model.computed_tokens, model.reused_tokens, model.lane_seconds
            scores, failed, _ = asyncio.run(exact(group))
            if failed:
                raise RuntimeError(f"memscore failed to score {failed} of {[c.id for c in group]} on {model.name}")
            run.ours.prompts += sum(score.requests for score in scores)
            run.ours.prompt_tokens += sum(score.prompt_tokens for score in scores)
            run.computed += model.computed_tokens - computed
            run.reused += model.reused_tokens - reused
            run.lane_seconds += model.lane_seconds - lane_seconds
            run.peak_lanes = max(run.peak_lanes, model.peak_lanes)
        return score

    def with_loop(run: _AtCores, prompts: list[list[int]]) -> Callable[[], None]:
        run.loop.prompts += len(prompts)
        run.loop.prompt_tokens += sum(len(ids) for ids in prompts)
        return lambda: brute_force(model, prompts, _loop_threads(model, run.cores))

    warm = model.encode(model.render(WARM_UP, add_generation_prompt=False))
    brute_force(model, [warm], _loop_threads(model, max(cores)))
    model.prompt_logprobs(warm, 0)
    load = os.getloadavg()[0]
    for index, start in enumerate(range(0, len(corpus), together)):
        group = corpus[start:start + together]
        prompts = [ids for conversation in group for ids in loop_prompts(model, conversation, config)]
        for run in runs:
            sides = [(run.ours, with_memscore(run, group)), (run.loop, with_loop(run, prompts))]
            for side, work in sides if index % 2 == 0 else sides[::-1]:
                _timed(side, work)
    model.use_lanes()
    return [ModelRow(model=model.name, path=str(model.model_dir), parameters=model.model.num_parameters(),
                     cores=run.cores, lanes=_lanes(model, run.cores)[0], lane_threads=_lanes(model, run.cores)[1],
                     loop_threads=_loop_threads(model, run.cores),
                     lanes_busy=run.lane_seconds / run.ours.wall_s if run.ours.wall_s else 0.0,
                     peak_lanes=run.peak_lanes, memscore=run.ours, loop=run.loop, computed_tokens=run.computed,
                     reused_tokens=run.reused, load=(load, os.getloadavg()[0]))
            for run in runs]


def _lanes(model: LocalModel, cores: int) -> tuple[int, int]:
    """The lanes and threads per lane ``model`` takes by default on ``cores`` cores."""
    model.use_lanes(cores=cores)
    return model.lanes, model.threads


def _loop_threads(model: LocalModel, cores: int) -> int:
    """The loop's torch threads on ``cores`` cores: all of them for a model that gains from them, else one."""
    return cores if model.wide else 1


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

