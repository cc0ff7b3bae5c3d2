"""Scored conversations into the store, a batch per transaction.

Opening a DuckDB file, locking it and checkpointing it on close costs far more than the writes themselves
(measured: ~200 ms per result written alone), so results are written together: the first result after
a quiet second at once, then whatever arrived meanwhile, in one transaction of a few statements. A batch that
loses a race to another writer runs again whole; if it fails otherwise, each of its conversations is written
on its own, so one that cannot be stored never takes the others with it;
each conversation gets :data:`STORE_ATTEMPTS` attempts in all, the batch counting as its first.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from memscore_core.errors import StoreError
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore
from memscore_core.scoring.outcome import Outcome
from memscore_core.store import Store
from memscore_core.store.outages import StoreUnavailableError
from memscore_core.store.transactions import WRITE_ATTEMPTS

STORE_ATTEMPTS = 3
BATCH_ATTEMPTS = WRITE_ATTEMPTS
"""A batch that loses a DuckLake race to another writer runs again whole, this many times in all (with backoff),
before its conversations are written one by one: written alone, each costs a commit that races as well."""
BATCH_SECONDS = 1.0
BATCH_SIZE = 64


@dataclass
class ResultWriter:
    """Buffers the outcomes of run ``run_id`` and writes the scored ones to ``store`` in batches; hands every
    outcome back in input order once written."""

    store: Store
    run_id: str
    config_hash: str
    _buffer: list[Outcome] = field(default_factory=list)
    _last_write: float = float("-inf")

    async def add(self, outcome: Outcome) -> list[Outcome]:
        """Buffer ``outcome``; the outcomes written now (each with its error if it could not be stored)."""
        self._buffer.append(outcome)
        due = len(self._buffer) >= BATCH_SIZE or time.monotonic() - self._last_write >= BATCH_SECONDS
        return await self.flush() if due else []

    async def flush(self) -> list[Outcome]:
        """Write everything buffered; the written outcomes, in input order."""
        batch, self._buffer = self._buffer, []
        if not batch:
            return []
        try:
            await asyncio.to_thread(self._write_batch, batch)
            written = batch
        except StoreUnavailableError:
            raise
        except StoreError:
            written = [await self._write_alone(outcome) if outcome.score else outcome for outcome in batch]
        self._last_write = time.monotonic()
        return written

    def _write_batch(self, batch: list[Outcome]) -> None:
        """The batch's conversations (a statement per source file) and results (one statement per table) in one
        transaction: short, so concurrent DuckLake writers rarely collide and a retry is cheap. It waits out a
        catalog outage as any write does (:meth:`Store.write`)."""
        scored = [(outcome.loaded, outcome.score) for outcome in batch if outcome.score is not None]
        by_file: dict[str | None, list[tuple[Conversation, str]]] = {}
        for loaded, score in scored:
            by_file.setdefault(loaded.file, []).append((loaded.conversation, score.content_hash))
        def write(_: object) -> None:
            for file, conversations in by_file.items():
                self.store.upsert_conversations(conversations, source_file=file)
            self.store.write_results(self.run_id, [score for _, score in scored], self.config_hash)

        self.store.write(write, keyed=False, attempts=BATCH_ATTEMPTS)

    async def _write_alone(self, outcome: Outcome) -> Outcome:
        retrying = AsyncRetrying(stop=stop_after_attempt(STORE_ATTEMPTS - 1), reraise=True,
                                 wait=wait_exponential(multiplier=0.5, max=5),
                                 retry=retry_if_exception_type(StoreError)
                                 & retry_if_not_exception_type(StoreUnavailableError))
        try:
            async for attempt in retrying:
                with attempt:
                    await asyncio.to_thread(self._write, outcome)
        except StoreUnavailableError:
            raise
        except StoreError as exc:
            return Outcome(outcome.loaded, error=exc)
        return outcome

    def _write(self, outcome: Outcome) -> None:
        """One conversation and its result in one transaction."""
        score: ConversationScore | None = outcome.score
        assert score is not None

        def write(_: object) -> None:
            self.store.upsert_conversation(outcome.loaded.conversation, score.content_hash, outcome.loaded.file)
            self.store.write_result(self.run_id, score, self.config_hash)

        self.store.write(write, keyed=False)
