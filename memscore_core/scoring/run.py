"""A scoring run into the store: the one lifecycle behind ``memscore score`` and the ``score-conversations`` flow.

Open the run record → keep the invalid input → skip what is already scored → score the rest (several
conversations in flight, results in input order, re-chunking on a context-length rejection) → persist
each result as it is ready (in batches) → close the run with its totals.

The caller supplies only how work is executed: ``score`` scores one part of the corpus (in this
process, or as a flow's retried task; ``part_tokens`` says how big a part is), ``hungry`` says when the
request pool could take more conversations, and ``on_outcome`` follows progress (a progress bar, a
Prefect artifact). Results are written in batches (:mod:`memscore_core.scoring.writer`).
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from memscore_core.config import ScoringConfig
from memscore_core.errors import ConfigError
from memscore_core.formats.loading import LoadResult
from memscore_core.model.result import ConversationScore
from memscore_core.scoring.batch import Hungry, ScorePart, score_batch
from memscore_core.scoring.outcome import Outcome
from memscore_core.scoring.writer import ResultWriter
from memscore_core.store import Store

OnOutcome = Callable[[Outcome, int, int], Awaitable[None]]
"""Follow progress: one conversation's outcome, how many are done and how many this run scores."""


@dataclass(repr=False)
class RunSummary:
    """What one run did; ``outcomes`` holds this run's scores and failures, in input order."""

    run_id: str
    model: str
    loaded: int
    invalid: int
    skipped: int
    outcomes: list[Outcome] = field(default_factory=list)

    def __repr__(self) -> str:
        """Counts, not outcomes (see :meth:`LoadResult.__repr__`)."""
        return (f"RunSummary({self.run_id}, {self.model}, loaded={self.loaded}, invalid={self.invalid}, "
                f"skipped={self.skipped}, {len(self.outcomes)} outcomes)")

    @property
    def scores(self) -> list[ConversationScore]:
        return [outcome.score for outcome in self.outcomes if outcome.score is not None]

    @property
    def scored(self) -> int:
        return len(self.scores)

    @property
    def failed(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.error is not None]

    @property
    def requests(self) -> int:
        return sum(score.requests for score in self.scores)

    @property
    def prompt_tokens(self) -> int:
        return sum(score.prompt_tokens for score in self.scores)

    def counts(self) -> dict[str, Any]:
        """The run's identity and totals, as a flow returns them."""
        return {"run_id": self.run_id, "model": self.model, "loaded": self.loaded, "invalid": self.invalid,
                "skipped": self.skipped, "scored": self.scored, "failed": len(self.failed),
                "requests": self.requests, "prompt_tokens": self.prompt_tokens}


def shard_of(loaded: LoadResult, shard: int, shards: int) -> LoadResult:
    """What shard ``shard`` of ``shards`` scores: the conversations whose id hashes to it (so a conversation
    stays in its shard when the corpus grows) and, in shard 0 only, the invalid input."""
    if not 0 <= shard < shards:
        raise ConfigError(f"shard {shard} does not exist: shards are numbered 0 to {shards - 1}")
    mine = [item for item in loaded.conversations
            if int(hashlib.sha256(item.conversation.id.encode()).hexdigest()[:8], 16) % shards == shard]
    return LoadResult(mine, loaded.errors if shard == 0 else [], loaded.unread)


async def run_scoring(loaded: LoadResult, store: Store, config: ScoringConfig, score: ScorePart, *, model: str,
                      backend_name: str, rescore: bool = False, flow_run_id: str | None = None,
                      part_tokens: int = 0, hungry: Hungry | None = None,
                      on_outcome: OnOutcome | None = None) -> RunSummary:
    """Score ``loaded`` into ``store`` with ``model``; a conversation that fails (scoring or storing) is an
    outcome with its error, and every other conversation still goes on. Conversations an earlier run read and
    stored (``loaded.unread``, not read again) count as loaded and skipped."""
    run_id = store.record_run_start(model=model, backend=backend_name, strategy=config.strategy,
                                    config=config.result_config(), config_hash=config.hash(),
                                    flow_run_id=flow_run_id)
    store.record_ingest_errors(run_id, loaded.errors)
    done = set() if rescore or not loaded.conversations else store.scored_hashes(model, config.hash())
    todo = [item for item in loaded.conversations if item.content_hash not in done]
    summary = RunSummary(run_id=run_id, model=model, loaded=len(loaded.conversations) + loaded.unread,
                         invalid=len(loaded.errors), skipped=len(loaded.conversations) - len(todo) + loaded.unread)
    writer = ResultWriter(store, run_id, config.hash())

    async def record(written: list[Outcome]) -> None:
        for outcome in written:
            summary.outcomes.append(outcome)
            if on_outcome is not None:
                await on_outcome(outcome, len(summary.outcomes), len(todo))

    status = "failed"
    try:
        async for outcome in score_batch(todo, score, config, part_tokens=part_tokens, hungry=hungry):
            await record(await writer.add(outcome))
        await record(await writer.flush())
        status = "completed_with_errors" if summary.failed else "completed"
    finally:
        floor, method = run_noise_floor(config, summary.scores)
        store.record_run_finish(run_id, status=status, requests=summary.requests,
                                prompt_tokens=summary.prompt_tokens, noise_floor=floor, noise_floor_method=method)
    return summary


def run_noise_floor(config: ScoringConfig, scores: Sequence[ConversationScore]
                    ) -> tuple[float | None, dict[str, Any] | None]:
    """The floor a run's screening used and how it was obtained, as the run records it.

    A fixed floor (``config.noise_floor``, for a strategy that screens) is itself, ``method: fixed``. Measured
    floors are per conversation, so the run keeps their median with a summary (conversations, null samples,
    min, median, max). None for strategies that never screen, and for a run that measured no floor.
    """
    if "noise_floor" not in config.result_config():
        return None, None
    if config.noise_floor is not None:
        return config.noise_floor, {"method": "fixed"}
    measured = [(score.noise_floor, score.noise_floor_method) for score in scores
                if score.noise_floor is not None and score.noise_floor_method is not None
                and score.noise_floor_method.method == "filler"]
    if not measured:
        return None, None
    floors = [floor for floor, _ in measured]
    median = statistics.median(floors)
    return median, {"method": "filler", "scope": "conversation", "quantile": config.floor_quantile,
                    "conversations": len(floors), "samples": sum(method.samples for _, method in measured),
                    "min": min(floors), "median": median, "max": max(floors)}
