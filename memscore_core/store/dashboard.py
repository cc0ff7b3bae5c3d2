"""Store calls of ``memscore ui``: the corpus over time, one memory across conversations, review pages.

Every call reads on one open connection of the store (``with store.connect() as con``: a page's queries share
it), takes :class:`Filters` (model, strategy, scored-at date range, memory-key prefix) and returns aggregates
or one page of rows; the SQL is in :mod:`memscore_core.store.dashboard_queries`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from memscore_core.errors import StoreError
from memscore_core.store import dashboard_queries as dq
from memscore_core.store.downstream import Candidate, ExportSource, Status
from memscore_core.store.records import StoredRun, rebuild_conversation
from memscore_core.store.store import Connection, Store

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

    model_config = ConfigDict(frozen=True)

    model: str | None = None
    strategy: str | None = None
    since: date | None = None
    until: date | None = None
    prefix: str = ""

    def narrows_results(self) -> bool:
        """Whether model, strategy or dates leave some results out."""
        return any(value is not None for value in (self.model, self.strategy, self.since, self.until))

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


@contextmanager
def reading(store: Store) -> Iterator[Connection]:
    """``store.connect()`` for a page's reads, DuckDB's progress bar off."""
    with store.connect() as con:
        con.execute(dq.QUIET)
        yield con


def fingerprint(con: Connection) -> tuple[Any, ...]:
    """Changes whenever a result is written or replaced: what the read-only pages' data depends on."""
    row = con.execute(dq.FINGERPRINT).fetchone()
    return tuple(row or ())


def choices(con: Connection) -> dict[str, list[str]]:
    """The models and strategies results exist for (the filters' options)."""
    found: dict[str, list[str]] = {"model": [], "strategy": []}
    for kind, value in con.execute(dq.CHOICES).fetchall():
        found[kind].append(value)
    return found


def activity(con: Connection, filters: Filters) -> list[DayActivity]:
    """Conversations scored, requests and prompt tokens per day (every result, not only the latest)."""
    rows = con.execute(dq.ACTIVITY, filters.parameters()).fetchall()
    return [DayActivity(day=r[0], conversations=r[1], requests=r[2] or 0, prompt_tokens=r[3] or 0) for r in rows]


def memory_trends(con: Connection, filters: Filters, *, limit: int = 10) -> list[MemoryTrend]:
    """The ``limit`` most important memories (as ``memscore top`` ranks them) with their importance by week."""
    source = _source(con)
    top = con.execute(dq.top_memories(source), [*filters.parameters(), filters.prefix, limit]).fetchall()
    if not top:
        return []
    keys = [row[0] for row in top]
    weeks: dict[str, list[tuple[date, float | None, int]]] = defaultdict(list)
    for key, week, value, conversations in con.execute(dq.memory_weeks(source, len(keys)),
                                                       [*keys, *filters.parameters()]).fetchall():
        weeks[key].append((week, value, conversations))
    return [MemoryTrend(memory_key=key, importance=importance, exact_cells=exact, screened_cells=screened,
                        conversations=sum(n for _, _, n in weeks[key]),
                        weeks=[(week, value) for week, value, _ in weeks[key]])
            for key, importance, exact, screened in top if weeks[key]]


def dependence_histogram(con: Connection, filters: Filters) -> list[tuple[float, int]]:
    """(lower edge, responses) of the latest results' dependence (nats per response token, the candidates'
    measure) in bins of :data:`DEPENDENCE_BIN`; the last bin is open-ended."""
    source = _source(con)
    if filters.narrows_results() or source != dq.ALL_RESULTS:
        rows = con.execute(dq.dependence_bins(source),
                           [DEPENDENCE_BIN, DEPENDENCE_BINS - 1, *filters.parameters()]).fetchall()
    else:
        rows = con.execute(dq.DEPENDENCE_BINS_ALL_LATEST, [DEPENDENCE_BIN, DEPENDENCE_BINS - 1]).fetchall()
    return [(b * DEPENDENCE_BIN, n) for b, n in rows]


def latest_runs(con: Connection, filters: Filters, *, limit: int = 10) -> list[StoredRun]:
    """The most recently started scoring runs with their state."""
    return [StoredRun.from_row(row) for row in con.execute(dq.LATEST_RUNS, [*filters.parameters(), limit]).fetchall()]


def conversations(con: Connection, filters: Filters, *, limit: int = 20, offset: int = 0) -> Page[ConversationRow]:
    """The latest result of each conversation, newest first; with a prefix, those holding such a memory."""
    source, prefix = _source(con), [filters.prefix] if filters.prefix else []
    rows = con.execute(dq.conversations(source, bool(prefix)), [*filters.parameters(), *prefix, limit, offset]
                       ).fetchall()
    if rows:
        total = rows[0][-1]
    else:
        found = con.execute(dq.count_conversations(source, bool(prefix)), [*filters.parameters(), *prefix]).fetchone()
        total = found[0] if found else 0
    return Page[ConversationRow](rows=[ConversationRow(conversation_id=r[0], model=r[1], strategy=r[2],
                                                       scored_at=r[3], requests=r[4], prompt_tokens=r[5])
                                       for r in rows], total=total, offset=offset, limit=limit)


def memory_known(con: Connection, memory_key: str) -> bool:
    """Whether any stored result has a cell of ``memory_key``."""
    row = con.execute(dq.MEMORY_KNOWN, [memory_key]).fetchone()
    return bool(row and row[0])


def memory_timeline(con: Connection, memory_key: str, filters: Filters) -> tuple[MemorySummary, list[MemoryDay]]:
    """One memory over the latest results (conversations, importance, exact and screened cells) and per day its
    conversations were scored (a conversation's latest result has one day, so the days add up)."""
    rows = con.execute(dq.memory_timeline(_source(con)), [memory_key, *filters.parameters()]).fetchall()
    days = [MemoryDay(day=r[0], importance=r[1], exact_cells=r[2], conversations=r[4]) for r in rows]
    exact = [r[1] for r in rows if r[1] is not None]
    highest = [r[5] for r in rows if r[5] is not None]
    summary = MemorySummary(conversations=sum(r[4] for r in rows), importance=sum(exact) if exact else None,
                            exact_cells=sum(r[2] for r in rows), screened_cells=sum(r[3] for r in rows),
                            max=max(highest) if highest else None)
    return summary, days


def memory_responses(con: Connection, memory_key: str, filters: Filters, *, limit: int = 20,
                     offset: int = 0) -> list[MemoryResponse]:
    """The responses ``memory_key`` helped most (exact cells by divergence, screened ones by their estimate)."""
    rows = con.execute(dq.memory_top_responses(_source(con)),
                       [*filters.parameters(), memory_key, memory_key, limit, offset]).fetchall()
    return [MemoryResponse(conversation_id=r[0], response_entry_idx=r[1], divergence=r[2], screened=r[3],
                           scored_at=r[4], text=r[5]) for r in rows]


_SOURCES: dict[tuple[Any, ...], str] = {}


def _source(con: Connection) -> str:
    """What to read the latest results from: ``results`` itself when each is its conversation's latest (asked once
    per database and state of its results)."""
    state = (*con.execute(dq.DATABASE).fetchall(), fingerprint(con))
    if state not in _SOURCES:
        row = con.execute(dq.ALL_LATEST).fetchone()
        _SOURCES[state] = dq.ALL_RESULTS if row and row[0] else dq.LATEST_RESULTS
    return _SOURCES[state]


class ReviewItem(BaseModel):
    """A candidate on the review page with what its exported example is built from."""

    candidate: Candidate
    source: ExportSource


def review_page(con: Connection, filters: Filters, *, status: Status | None, min_dependence: float,
                limit: int = 20, offset: int = 0) -> Page[ReviewItem]:
    """Candidates as ``memscore review list`` ranks them (dependence, then id), one page; with a prefix, those
    whose response depends on such a memory (an exact cell above 0). Reads the cells, conversations and entries
    of the page's candidates only."""
    narrowed, prefix = filters.narrows_results(), [filters.prefix] if filters.prefix else []
    if narrowed or prefix:
        selection = [*prefix, status, status, min_dependence, *(filters.parameters() if narrowed else [])]
        rows = con.execute(dq.candidates(bool(prefix), narrowed), [*selection, limit, offset]).fetchall()
        found = ((rows[0][-1],) if rows
                 else con.execute(dq.count_candidates(bool(prefix), narrowed), selection).fetchone())
        if not narrowed:
            rows = _listed(con, [row[0] for row in rows]) if rows else []
    else:
        ids = [row[0] for row in con.execute(dq.CANDIDATES_OF_ALL_RESULTS,
                                             [status, status, min_dependence, limit, offset]).fetchall()]
        rows = _listed(con, ids) if ids else []
        found = con.execute(dq.COUNT_CANDIDATES_OF_ALL_RESULTS, [status, status, min_dependence]).fetchone()
    sources = page_sources(con, rows, TOP_MEMORIES) if rows else []
    return Page[ReviewItem](rows=[ReviewItem(candidate=source.candidate, source=source) for source in sources],
                            total=found[0] if found else 0, offset=offset, limit=limit)


def _listed(con: Connection, ids: list[int]) -> list[Any]:
    """The candidates ``ids`` with their results' run and time, in rank order."""
    conversation_ids = [row[0] for row in con.execute(dq.conversations_of_candidates(len(ids)), ids).fetchall()]
    return con.execute(dq.listed_candidates(len(ids), len(conversation_ids)), [*ids, *conversation_ids]).fetchall()


def page_sources(con: Connection, selected: Sequence[Sequence[Any]], top: int) -> list[ExportSource]:
    """What the exported example of each selected candidate is built from (rows: the candidate's columns, its
    result's run id and scored_at), reading the cells, conversations and entries of those candidates only:
    the contract of ``memscore_core.store.downstream._sources`` (branch ``store``), which can replace it."""
    ids = [row[0] for row in selected]
    conversation_ids = sorted({row[1] for row in selected})
    tops: dict[int, list[tuple[str, float]]] = defaultdict(list)
    counts: dict[int, tuple[int, int]] = {}
    cells = [value for row in selected for value in (row[0], *row[2:6], row[9])]
    for candidate_id, key, value, exact, screened in con.execute(dq.page_cells(len(ids)), [*cells, top]).fetchall():
        if key is None:
            counts[candidate_id] = (exact, screened)
        else:
            tops[candidate_id].append((key, float(value)))
    heads = {(r[0], r[1]): r[2:] for r in
             con.execute(dq.page_conversations(len(conversation_ids)), conversation_ids).fetchall()}
    stored = [value for (conversation_id, digest), head in heads.items()
              for value in (conversation_id, digest, head[-1])]
    entries: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in con.execute(dq.page_entries(len(heads)), stored).fetchall() if heads else []:
        entries[(r[0], r[1])].append(r[2:])
    sources = []
    for row in selected:
        c = Candidate.from_row(row)
        key = (c.conversation_id, c.content_hash)
        if key not in heads:
            raise StoreError(f"conversation {c.conversation_id!r} ({c.content_hash[:12]}) is scored but not stored")
        exact, screened = counts.get(c.candidate_id, (0, 0))
        sources.append(ExportSource(candidate=c, run_id=row[8], scored_at=row[9], top_memories=tops[c.candidate_id],
                                    conversation=rebuild_conversation(c.conversation_id, heads[key], entries[key]),
                                    exact_cells=exact, screened_cells=screened))
    return sources
