"""Score one conversation chunk by chunk: each chunk by exact, hierarchical or surrogate, then one result.

Every chunk holding a memory sends its baseline and its drop-all request (the exact strategy's own), and
what its strategy needs at once. Hierarchical chunks also wait for the conversation's noise floor, measured
from one filler request per hierarchical chunk unless the configuration fixes it. All requests go through one
:class:`~memscore_core.strategies.scope.Asker`, so a prompt is sent once however many chunks or groups ask it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from memscore_core.ablation.chunking import CHARS_PER_TOKEN
from memscore_core.ablation.requests import AblationPlan, PromptRequest, plan_exact
from memscore_core.ablation.responses import ResponseLogprobs, merged
from memscore_core.model.conversation import Conversation
from memscore_core.model.prompt import ChatPrompt, ModelCall, RequestOptions, ScoredPrompt, Send
from memscore_core.model.result import ConversationScore, content_hash
from memscore_core.strategies.assemble import assemble
from memscore_core.strategies.auto import chunk_strategy
from memscore_core.strategies.cost import estimated_chunk_tokens
from memscore_core.strategies.exact import exact_chunk
from memscore_core.strategies.hierarchical import screen_chunk
from memscore_core.strategies.noise_floor import NoiseFloor, fixed_floor, measured_floor, null_probe, null_samples
from memscore_core.strategies.outcome import ChunkOutcome
from memscore_core.strategies.planned import Answered, over_plan
from memscore_core.strategies.scope import Asker, ChunkContext, ChunkScope, SendPrompt, chunk_scopes
from memscore_core.strategies.spec import StrategySettings, StrategySpec
from memscore_core.strategies.surrogate import fit_chunk


@dataclass(frozen=True)
class ChunkedSettings:
    """A chunk-wise strategy's name, masks per chunk (surrogate), and the floor (hierarchical): fixed, or
    ``None`` to measure it at ``floor_quantile`` of the null samples."""

    strategy: str
    masks: int
    noise_floor: float | None
    floor_quantile: float


def chunkwise(name: str, *, reads: tuple[str, ...],
              hashed: Callable[[str], dict[str, Any]] = lambda ablation: {}) -> StrategySpec:
    """A strategy that scores chunk by chunk (:func:`score_chunked`): ``hierarchical``, ``surrogate`` or ``auto``."""
    async def score(conversation: Conversation, send: Send, settings: StrategySettings, model: str
                    ) -> ConversationScore:
        chunked = ChunkedSettings(name, settings.masks, settings.noise_floor, settings.floor_quantile)

        async def send_prompt(prompt: ChatPrompt, label: str) -> ScoredPrompt:
            return await send(ModelCall(prompt, RequestOptions(), label))

        async def over(plan: AblationPlan, answered: Answered) -> ConversationScore:
            return await score_chunked(conversation, plan, send_prompt, chunked, model=model, answered=answered)

        return await over_plan(conversation, send, settings, over)

    def estimate(conversation: Conversation, settings: StrategySettings) -> int:
        plan = plan_exact(conversation, settings.chunk_tokens, settings.window)
        scopes = chunk_scopes(conversation, plan)
        return sum(estimated_chunk_tokens(conversation, plan, scope, strategy, settings.masks)
                   for scope, strategy in zip(scopes, chunk_strategies(name, scopes), strict=True)) // CHARS_PER_TOKEN

    return StrategySpec(name, score, estimate, reads=reads, hashed=hashed)


def chunk_strategies(strategy: str, plan_scopes: list[ChunkScope]) -> list[str]:
    """The strategy each chunk is scored with: ``auto`` chooses by the chunk's number of memories."""
    return [chunk_strategy(len(scope.rows)) if strategy == "auto" else strategy for scope in plan_scopes]


async def score_chunked(conversation: Conversation, plan: AblationPlan, send: SendPrompt, settings: ChunkedSettings,
                        *, model: str, answered: Mapping[PromptRequest, ResponseLogprobs] | None = None
                        ) -> ConversationScore:
    """Score ``conversation`` over ``plan``'s chunks with ``settings.strategy`` (hierarchical, surrogate or auto);
    ``answered``: requests already sent (the baselines, when fillers were measured in them)."""
    asker = Asker(conversation, send, answered)
    try:
        return await _Run(conversation, plan, asker, settings).score(model)
    finally:
        asker.cancel()


class _Run:
    def __init__(self, conversation: Conversation, plan: AblationPlan, asker: Asker,
                 settings: ChunkedSettings) -> None:
        self.conversation = conversation
        self.plan = plan
        self.asker = asker
        self.settings = settings
        self.scopes = chunk_scopes(conversation, plan)
        self.chosen = chunk_strategies(settings.strategy, self.scopes)
        self.drop_all = {request.chunk: request for request in plan.drop_all}

    async def score(self, model: str) -> ConversationScore:
        if not self.conversation.memories:
            outcomes = [ChunkOutcome(strategy) for strategy in self.chosen]
            return assemble(self.conversation, self.plan, self.scopes, outcomes, ResponseLogprobs({}, {}, 0),
                            self.asker, strategy=self.settings.strategy, model=model, floor=None)
        baselines = [self._ask(request) for request in self.plan.baseline]
        screened = [scope for scope, strategy in zip(self.scopes, self.chosen, strict=True)
                    if strategy == "hierarchical" and scope.rows]
        floor = asyncio.ensure_future(self._floor(screened, baselines)) if screened else None
        try:
            outcomes = await asyncio.gather(*(self._chunk(scope, strategy, baselines[scope.number], floor)
                                              for scope, strategy in zip(self.scopes, self.chosen, strict=True)))
            answered = [await baseline for baseline in baselines]
            measured = None if floor is None else await floor
        finally:
            if floor is not None and not floor.done():
                floor.cancel()
            elif floor is not None and not floor.cancelled():
                floor.exception()
        return assemble(self.conversation, self.plan, self.scopes, outcomes, merged(answered), self.asker,
                        strategy=self.settings.strategy, model=model, floor=measured)

    def _ask(self, request: PromptRequest) -> asyncio.Future[ResponseLogprobs]:
        return self.asker(request, request.label())

    async def _chunk(self, scope: ChunkScope, strategy: str, baseline: asyncio.Future[ResponseLogprobs],
                     floor: asyncio.Future[NoiseFloor] | None) -> ChunkOutcome:
        if not scope.rows:
            return ChunkOutcome(strategy)
        context = ChunkContext(self.conversation, self.plan, scope, baseline, self.asker)
        drop_request = self.drop_all[scope.number]
        drop_all = asyncio.ensure_future(context.measure(drop_request, drop_request.label()))
        if strategy == "exact":
            return await exact_chunk(context, drop_all)
        if strategy == "surrogate":
            seed = f"{content_hash(self.conversation)}:{scope.number}"
            return await fit_chunk(context, drop_all, self.settings.masks, seed)
        assert floor is not None
        return await screen_chunk(context, await drop_all, (await floor).value)

    async def _floor(self, scopes: list[ChunkScope], baselines: list[asyncio.Future[ResponseLogprobs]]) -> NoiseFloor:
        """The conversation's floor: fixed, or measured from one filler request per screened chunk."""
        if self.settings.noise_floor is not None:
            return fixed_floor(self.settings.noise_floor)
        probes = [(scope, probe) for scope in scopes
                  if (probe := null_probe(self.conversation, scope, self.plan.window)) is not None]
        scored = await asyncio.gather(*(self.asker(probe.request, f"null-{scope.number}", probe.filled)
                                        for scope, probe in probes))
        samples = [sample for (scope, probe), answer in zip(probes, scored, strict=True)
                   for sample in null_samples(probe, answer, await baselines[scope.number])]
        return measured_floor(samples, self.settings.floor_quantile)
