"""Store calls of ``memscore ui``: the corpus over time, one memory across conversations, review pages.

Every call takes :class:`Filters` (model, strategy, scored-at date range, memory-key prefix) and returns
aggregates or one page of rows; the SQL is in :mod:`memscore_core.store.dashboard_queries`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from memscore_core.errors import StoreError
from memscore_core.store import dashboard_queries as dq
from memscore_core.store.downstream import Candidate, ExportSource, Status
from memscore_core.store.queries import listed
from memscore_core.store.records import StoredRun, rebuild_conversation
from memscore_core.store.store import Store

T = TypeVar("T")

DEPENDENCE_BIN = 0.25
"""Width of the dependence histogram's bins (nats per response token)."""
DEPENDENCE_BINS = 20
"""Bins of the histogram; the last one holds everything from ``DEPENDENCE_BIN * (DEPENDENCE_BINS - 1)`` up."""
TOP_MEMORIES = 3
"""Memories shown (and exported, as ``export_sources``' default) per candidate."""


class Filters(BaseModel):
    """What every page narrows to: results of ``model`` and ``strategy`` scored from ``since`` to ``until``
    (whole days, UTC, both included), memories whose key starts with ``prefix``."""

    model: str | None = None
    strategy: str | None = None
    since: date | None = None
    until: date | None = None
    prefix: str = ""

    def parameters(self) -> list[Any]:
        """The 8 parameters of :func:`dashboard_queries.scope`."""
        start = None if self.since is None else datetime.combine(self.since, time(), UTC)
        end = None if self.until is None else datetime.combine(self.until + timedelta(days=1), time(), UTC)
        return [self.model, self.model, self.strategy, self.strategy, start, start, end, end]


class DayActivity(BaseModel):
    day: date
    conversations: int
    requests: int
    prompt_tokens: int


class MemoryTrend(BaseModel):
    """A top memory: importance (exact cells) over the latest results, and by week (Monday of the week)."""

    memory_key: str
    importance: float | None
    conversations: int
    exact_cells: int
    screened_cells: int
    weeks: list[tuple[date, float | None]]


class ConversationRow(BaseModel):
    conversation_id: str
    model: str
    strategy: str
    scored_at: datetime
    requests: int
    prompt_tokens: int


class MemorySummary(BaseModel):
    conversations: int
    importance: float | None
    exact_cells: int
    screened_cells: int
    max: float | None


class MemoryDay(BaseModel):
    day: date
    importance: float | None
    exact_cells: int
    conversations: int


class MemoryResponse(BaseModel):
    """One cell of a memory: the response it helped, exact divergence or (None and) a screened estimate."""

    conversation_id: str
    response_entry_idx: int | None
    divergence: float | None
    screened: float | None
    scored_at: datetime
    text: str | None


class Page(BaseModel, Generic[T]):
    """One page of rows; ``total`` counts every row the filters select."""

    rows: list[T]
    total: int
    offset: int
    limit: int


def choices(store: Store) -> dict[str, list[str]]:
    """The models and strategies results exist for (the filters' options)."""
    found: dict[str, list[str]] = {"model": [], "strategy": []}
    with store.connect() as con:
        for kind, value in con.execute(dq.CHOICES).fetchall():
            found[kind].append(value)
    return found


def activity(store: Store, filters: Filters) -> list[DayActivity]:
    """Conversations scored, requests and prompt tokens per day (every result, not only the latest)."""
    with store.connect() as con:
        rows = con.execute(dq.ACTIVITY, filters.parameters()).fetchall()
    return [DayActivity(day=r[0], conversations=r[1], requests=r[2] or 0, prompt_tokens=r[3] or 0) for r in rows]


def memory_trends(store: Store, filters: Filters, *, limit: int = 10) -> list[MemoryTrend]:
    """The ``limit`` most important memories (as ``memscore top`` ranks them) with their importance by week."""
    with store.connect() as con:
        rows = con.execute(dq.MEMORY_TRENDS, [filters.prefix, *filters.parameters(), limit]).fetchall()
    trends: dict[str, MemoryTrend] = {}
    for key, importance, conversations, exact, screened, week, value in rows:
        trend = trends.setdefault(key, MemoryTrend(memory_key=key, importance=importance, conversations=conversations,
                                                   exact_cells=exact, screened_cells=screened, weeks=[]))
        trend.weeks.append((week, value))
    return list(trends.values())


def dependence_histogram(store: Store, filters: Filters) -> list[tuple[float, int]]:
    """(lower edge, responses) of the latest results' dependence (nats per response token, the candidates'
    measure) in bins of :data:`DEPENDENCE_BIN`; the last bin is open-ended."""
    with store.connect() as con:
        rows = con.execute(dq.DEPENDENCE_BINS, [DEPENDENCE_BIN, DEPENDENCE_BINS - 1, *filters.parameters()]).fetchall()
    return [(b * DEPENDENCE_BIN, n) for b, n in rows]


def latest_runs(store: Store, filters: Filters, *, limit: int = 10) -> list[StoredRun]:
    """The most recently started scoring runs with their state."""
    with store.connect() as con:
        rows = con.execute(dq.LATEST_RUNS, [*filters.parameters(), limit]).fetchall()
    return [StoredRun.from_row(row) for row in rows]


def conversations(store: Store, filters: Filters, *, limit: int = 20, offset: int = 0) -> Page[ConversationRow]:
    """The latest result of each conversation, newest first; with a prefix, those holding such a memory."""
    with store.connect() as con:
        rows = con.execute(dq.CONVERSATIONS, [*filters.parameters(), filters.prefix, filters.prefix, limit,
                                              offset]).fetchall()
    return Page[ConversationRow](rows=[ConversationRow(conversation_id=r[0], model=r[1], strategy=r[2],
                                                       scored_at=r[3], requests=r[4], prompt_tokens=r[5])
                                       for r in rows],
                                 total=rows[0][6] if rows else 0, offset=offset, limit=limit)


def memory_known(store: Store, memory_key: str) -> bool:
    """Whether any stored result has a cell of ``memory_key``."""
    with store.connect() as con:
        row = con.execute(dq.MEMORY_KNOWN, [memory_key]).fetchone()
    return bool(row and row[0])


def memory_summary(store: Store, memory_key: str, filters: Filters) -> MemorySummary:
    """One memory over the latest results: conversations, importance, exact and screened cells."""
    with store.connect() as con:
        row = con.execute(dq.MEMORY_SUMMARY, [memory_key, *filters.parameters()]).fetchone()
    assert row is not None
    return MemorySummary(conversations=row[0], importance=row[1], exact_cells=row[2], screened_cells=row[3],
                         max=row[4])


def memory_timeline(store: Store, memory_key: str, filters: Filters) -> list[MemoryDay]:
    """One memory's importance per day its conversations were scored."""
    with store.connect() as con:
        rows = con.execute(dq.MEMORY_TIMELINE, [memory_key, *filters.parameters()]).fetchall()
    return [MemoryDay(day=r[0], importance=r[1], exact_cells=r[2], conversations=r[3]) for r in rows]


def memory_responses(store: Store, memory_key: str, filters: Filters, *, limit: int = 20,
                     offset: int = 0) -> list[MemoryResponse]:
    """The responses ``memory_key`` helped most (exact cells by divergence, screened ones by their estimate)."""
    with store.connect() as con:
        rows = con.execute(dq.MEMORY_TOP_RESPONSES, [memory_key, *filters.parameters(), limit, offset]).fetchall()
    return [MemoryResponse(conversation_id=r[0], response_entry_idx=r[1], divergence=r[2], screened=r[3],
                           scored_at=r[4], text=r[5]) for r in rows]


class ReviewItem(BaseModel):
    """A candidate on the review page with what its exported example is built from."""

    candidate: Candidate
    source: ExportSource


def review_page(store: Store, filters: Filters, *, status: Status | None, min_dependence: float, limit: int = 20,
                offset: int = 0) -> Page[ReviewItem]:
    """Candidates as ``memscore review list`` ranks them (dependence, then id), one page; with a prefix, those
    whose response depends on such a memory (an exact cell above 0)."""
    parameters = [status, status, min_dependence, *filters.parameters(), filters.prefix, filters.prefix, limit,
                  offset]
    with store.connect() as con:
        rows = con.execute(dq.CANDIDATES, parameters).fetchall()
        ids = listed([row[0] for row in rows])
        tops = con.execute(dq.PAGE_TOP_MEMORIES, [ids, TOP_MEMORIES]).fetchall()
        counts = {r[0]: (r[1], r[2]) for r in con.execute(dq.PAGE_CELL_COUNTS, [ids]).fetchall()}
        heads = {(r[0], r[1]): r[2:] for r in con.execute(dq.PAGE_CONVERSATIONS, [ids]).fetchall()}
        entries: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for r in con.execute(dq.PAGE_ENTRIES, [ids]).fetchall():
            entries[(r[0], r[1])].append(r[2:])
    top: dict[int, list[tuple[str, float]]] = defaultdict(list)
    for candidate_id, key, value in tops:
        top[candidate_id].append((key, float(value)))
    items = []
    for row in rows:
        c = Candidate.from_row(row)
        key = (c.conversation_id, c.content_hash)
        if key not in heads:
            raise StoreError(f"conversation {c.conversation_id!r} ({c.content_hash[:12]}) is scored but not stored")
        exact, screened = counts.get(c.candidate_id, (0, 0))
        source = ExportSource(candidate=c, run_id=row[8], scored_at=row[9], top_memories=top[c.candidate_id],
                              conversation=rebuild_conversation(c.conversation_id, heads[key], entries[key]),
                              exact_cells=exact, screened_cells=screened)
        items.append(ReviewItem(candidate=c, source=source))
    return Page[ReviewItem](rows=items, total=rows[0][10] if rows else 0, offset=offset, limit=limit)
