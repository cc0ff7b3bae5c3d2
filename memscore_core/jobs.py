"""A scoring job into the store: record the run, keep invalid input, skip what is scored, score the rest.

This is what ``memscore score`` runs: Prefect-free, so ad-hoc use never waits for an API server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from memscore_core.backends.base import PromptBackend
from memscore_core.engine import ScoringConfig
from memscore_core.loading import LoadResult
from memscore_core.result import content_hash
from memscore_core.runner import Outcome, score_batch
from memscore_core.store import Store


@dataclass
class JobSummary:
    """What one job did; ``outcomes`` holds this run's scores and failures, in input order."""

    run_id: str
    model: str
    invalid: int
    skipped: int
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def scored(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.score is not None)

    @property
    def failed(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.error is not None]

    @property
    def requests(self) -> int:
        return sum(outcome.score.requests for outcome in self.outcomes if outcome.score is not None)

    @property
    def prompt_tokens(self) -> int:
        return sum(outcome.score.prompt_tokens for outcome in self.outcomes if outcome.score is not None)


async def score_into_store(loaded: LoadResult, backend: PromptBackend, store: Store, config: ScoringConfig, *,
                           backend_name: str, concurrency: int = 8, rescore: bool = False,
                           on_outcome: Callable[[Outcome], None] | None = None) -> JobSummary:
    """Score ``loaded`` into ``store``; each result is written as soon as it is ready."""
    model = await backend.model()
    run_id = store.record_run_start(model=model, backend=backend_name, strategy=config.strategy,
                                    config=config.result_config(), config_hash=config.hash())
    store.record_ingest_errors(run_id, loaded.errors)
    done = set() if rescore else store.scored_hashes(model, config.hash())
    todo = [item for item in loaded.conversations if content_hash(item.conversation) not in done]
    summary = JobSummary(run_id=run_id, model=model, invalid=len(loaded.errors),
                         skipped=len(loaded.conversations) - len(todo))
    status = "failed"
    try:
        async for outcome in score_batch(todo, backend, config, concurrency=concurrency):
            if outcome.score is not None:
                store.upsert_conversation(outcome.loaded.conversation, outcome.score.content_hash,
                                          outcome.loaded.file)
                store.write_result(run_id, outcome.score, config.hash())
            summary.outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        status = "completed" if not summary.failed else "completed_with_errors"
    finally:
        store.record_run_finish(run_id, status=status, requests=summary.requests,
                                prompt_tokens=summary.prompt_tokens)
    return summary
