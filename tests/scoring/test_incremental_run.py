"""An incremental run records a file as read only once every conversation it holds is stored."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import httpx

from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.config import ScoringConfig
from memscore_core.embedded.app import ServerOptions, build_app
from memscore_core.embedded.serve import load_model
from memscore_core.errors import TransientBackendError
from memscore_core.formats import InputOptions
from memscore_core.formats.incremental import source_key
from memscore_core.formats.loading import LoadedConversation
from memscore_core.scoring.incremental import SourceReading
from memscore_core.scoring.opening import open_scorer
from memscore_core.scoring.outcome import Outcome
from memscore_core.scoring.run import RunSummary, run_scoring
from memscore_core.settings import DEFAULT_MODEL_DIR, REPO_ROOT
from memscore_core.store import Store

LINES = (REPO_ROOT / "data" / "conversations" / "sample.jsonl").read_text().splitlines(keepends=True)
CONFIG = ScoringConfig()


def incremental_run(store: Store, source: Path, failing: str | None = None) -> RunSummary:
    """One run over ``source`` on the embedded model; the conversation ``failing`` fails as a dead server would."""
    app = build_app(load_model(DEFAULT_MODEL_DIR), ServerOptions(max_model_len=8192))
    backend = VllmBackend(base_url="http://embedded/v1", transport=httpx.ASGITransport(app=app),
                          retry=RetryPolicy(attempts=1))

    async def scoring() -> RunSummary:
        async with backend, open_scorer(CONFIG, backend=backend, concurrency=4) as scorer:
            reading = SourceReading.open(store, model=scorer.model, config=CONFIG, options=InputOptions())
            read = reading.read([source], InputOptions())

            async def score(part: Sequence[LoadedConversation]) -> list[Outcome]:
                if part[0].conversation.id == failing:
                    return [Outcome(part[0], error=TransientBackendError("connection failed (injected)"))]
                return await scorer.score(part)

            summary = await run_scoring(read.loaded, store, CONFIG, score, model=scorer.model,
                                        backend_name="embedded")
            reading.settle(read, read.loaded, summary)
            return summary

    return asyncio.run(scoring())


def test_a_file_with_a_failed_conversation_is_read_again_and_the_others_are_not(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    good, bad = tmp_path / "in" / "good.jsonl", tmp_path / "in" / "bad.jsonl"
    good.write_text(LINES[0])
    bad.write_text(LINES[1] + LINES[2])
    store = Store(tmp_path / "s.duckdb")
    failing = incremental_run(store, tmp_path / "in", failing="synth-2026-00001")
    assert (failing.scored, len(failing.failed)) == (2, 1)
    with store.connect() as con:
        assert con.execute("SELECT path FROM source_files").fetchall() == [(source_key(good),)]
    again = incremental_run(store, tmp_path / "in")
    assert (again.scored, again.skipped) == (1, 2)
    with store.connect() as con:
        assert sorted(con.execute("SELECT path, conversations FROM source_files").fetchall()) == [
            (source_key(bad), 2), (source_key(good), 1)]
