"""``memscore bench many-memories M``: every strategy on the same many-memory conversations, side by side.

Synthetic conversations of ``chunks`` chunks holding ``M`` memories each (``used`` of them asked about, the
rest distractors of the same form), in each shape asked for (layout and memory kinds,
:mod:`memscore_core.synth.many`), are scored by each strategy (and, with a window, each strategy again with
it; with several ablations, all of it under each) through one backend: the embedded model in ``model_dir``
by default, or a server. Cost, quality and agreement with ``exact`` come from
:func:`memscore_core.bench.strategies.compare_strategies`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from memscore_core.backends.factory import EMBEDDED_BASE_URL
from memscore_core.backends.protocol import PromptBackend
from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.bench.strategies import StrategyComparison, compare_strategies
from memscore_core.config import Ablation, ScoringConfig
from memscore_core.synth.forms import MemoryKinds
from memscore_core.synth.many import Layout, ManyShape, corpus_chunk_tokens, generate_many_corpus

DEFAULT_STRATEGIES = ("exact", "hierarchical", "surrogate", "auto")
MAX_MODEL_LEN = 8192
TIMEOUT_S = 3600.0


class ManyMemoryReport(BaseModel):
    """The corpus the strategies were compared on, where they ran, and the comparison."""

    memories: int
    used: int
    chunks: int
    conversations: int
    seed: int
    chunk_tokens: int
    server: str
    comparison: StrategyComparison
    layout: Layout = "grouped"
    memory_kinds: MemoryKinds = "contacts"

    def shape_label(self) -> str:
        """The corpus's layout, and its memory kinds where not only contact facts."""
        return self.layout if self.memory_kinds == "contacts" else f"{self.layout}, {self.memory_kinds} kinds"


class ManyShapesReport(BaseModel):
    """The same comparison on each shape's corpus, in the order asked for."""

    shapes: list[ManyMemoryReport]


def strategy_configs(strategies: list[str], chunk_tokens: int, *, window: int | None, masks: int,
                     floor_quantile: float, ablations: Sequence[Ablation] = ("remove",)) -> dict[str, ScoringConfig]:
    """Each strategy by name, and with ``window`` each again as ``<name> --window N``; with several
    ``ablations``, all of them under each, named ``<name> --ablation A``."""
    configs = {}
    for ablation in ablations:
        for span in [None] if window is None else [None, window]:
            for strategy in strategies:
                name = strategy if span is None else f"{strategy} --window {span}"
                if len(ablations) > 1:
                    name = f"{name} --ablation {ablation}"
                configs[name] = ScoringConfig.model_validate({"strategy": strategy, "chunk_tokens": chunk_tokens,
                                                              "window": span, "masks": masks,
                                                              "floor_quantile": floor_quantile,
                                                              "ablation": ablation})
    return configs


def run_many_memory_bench(shape: ManyShape, *, conversations: int, seed: int, strategies: list[str],
                          window: int | None, masks: int, floor_quantile: float, model_dir: Path,
                          base_url: str | None = None, concurrency: int = 4,
                          ablations: Sequence[Ablation] = ("remove",)) -> ManyMemoryReport:
    """Generate the corpus, score it with every strategy, and report them side by side."""
    corpus = list(generate_many_corpus(conversations, seed, shape))
    chunk_tokens = corpus_chunk_tokens(corpus)
    assert chunk_tokens is not None
    configs = strategy_configs(strategies, chunk_tokens, window=window, masks=masks, floor_quantile=floor_quantile,
                               ablations=ablations)

    async def compare() -> StrategyComparison:
        backend = _backend(model_dir, base_url)
        try:
            return await compare_strategies(corpus, backend, configs, concurrency=concurrency)
        finally:
            await backend.aclose()

    return ManyMemoryReport(memories=shape.memories, used=shape.used, chunks=shape.chunks, conversations=conversations,
                           seed=seed, chunk_tokens=chunk_tokens, server=base_url or f"embedded {model_dir}",
                           comparison=asyncio.run(compare()), layout=shape.layout, memory_kinds=shape.memory_kinds)


def run_many_shapes_bench(shapes: Sequence[ManyShape], **options: Any) -> ManyShapesReport:
    """:func:`run_many_memory_bench` on each of ``shapes``, one after the other, with the same ``options``."""
    return ManyShapesReport(shapes=[run_many_memory_bench(shape, **options) for shape in shapes])


def _backend(model_dir: Path, base_url: str | None) -> PromptBackend:
    """A server without retries (a failure shows in the report), or the embedded model with long contexts."""
    if base_url:
        return VllmBackend(base_url=base_url, timeout=TIMEOUT_S, retry=RetryPolicy(attempts=1))
    from memscore_core.embedded.app import ServerOptions
    from memscore_core.embedded.serve import embedded_transport

    transport = embedded_transport(model_dir, None, ServerOptions(max_model_len=MAX_MODEL_LEN))
    return VllmBackend(base_url=EMBEDDED_BASE_URL, transport=transport, timeout=TIMEOUT_S,
                       retry=RetryPolicy(attempts=1))
