"""Scoring runs into a real store through the one lifecycle (``run_scoring``), on the embedded model in-process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from typer.testing import CliRunner

from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.cli import app
from memscore_core.config import ScoringConfig
from memscore_core.embedded.app import ServerOptions, build_app
from memscore_core.embedded.serve import load_model
from memscore_core.formats.loading import LoadResult, load_conversations
from memscore_core.scoring.opening import open_scorer
from memscore_core.scoring.run import RunSummary, run_scoring
from memscore_core.settings import DEFAULT_MODEL_DIR
from memscore_core.store import Store


def synth_many(out: Path, *, n: int = 1, memories: int = 16, used: int = 2, seed: int = 0) -> LoadResult:
    """``memscore synth --memories M --used K --chunks 1`` into ``out``, loaded back."""
    done = CliRunner().invoke(app, ["synth", str(out), "--n", str(n), "--seed", str(seed), "--memories",
                                    str(memories), "--used", str(used), "--chunks", "1"])
    assert done.exit_code == 0, done.output
    return load_conversations([out])


def chunk_tokens(loaded: LoadResult) -> int:
    """The chunk budget the synthetic conversations were written for (one chunk each)."""
    return max(int(item.conversation.meta["chunk_tokens"]) for item in loaded.conversations)


def run(store: Store, loaded: LoadResult, config: ScoringConfig) -> RunSummary:
    """``loaded`` scored with ``config`` into ``store`` by ``run_scoring`` on the embedded model."""
    server = build_app(load_model(DEFAULT_MODEL_DIR), ServerOptions(max_model_len=8192))
    backend = VllmBackend(base_url="http://embedded/v1", transport=httpx.ASGITransport(app=server),
                          retry=RetryPolicy(attempts=1))

    async def scoring() -> RunSummary:
        async with backend, open_scorer(config, backend=backend, concurrency=4) as scorer:
            return await run_scoring(loaded, store, config, scorer.score, model=scorer.model,
                                     backend_name="embedded")

    return asyncio.run(scoring())
