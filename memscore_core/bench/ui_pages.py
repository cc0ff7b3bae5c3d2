"""``memscore bench ui N``: each page of ``memscore ui`` timed over a store of N synthetic conversations.

The store is built by :func:`memscore_core.bench.corpus_store.build_corpus` in :func:`ui_shape` (or an existing
one is reused);
the app refreshes candidates first, as ``memscore ui`` does as it starts (timed on its own: ``memscore review
list``'s refresh, a write of every new candidate); then each page is requested through the app in-process
(Starlette's test client: the server's whole work, no network) once cold and ``repeats`` more times.
The read-only pages keep their data while the results stay as they are, so a repeat is mostly a cache hit;
the first request computes everything. The target: each page's slowest request ≤ 1 s.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from pydantic import BaseModel
from starlette.testclient import TestClient

from memscore_core.bench.corpus_store import CorpusShape, build_corpus
from memscore_core.bench.targets import Target
from memscore_core.downstream.export import DEFAULT_THRESHOLD
from memscore_core.store import Store
from memscore_core.store.dashboard import Filters, conversations, memory_trends, reading
from memscore_core.ui.app import build_app
from memscore_core.ui.security import Guard

PAGE_SECONDS = 1.0


def ui_shape(conversations: int) -> CorpusShape:
    """The UI bench's corpus: 32 cells a conversation over two models and two strategies, a cell in ten screened."""
    return CorpusShape(conversations=conversations, memories=8, responses=4, keys=2000, days=90,
                       models=["model-0", "model-1"], strategies=["exact", "exact", "hierarchical"], screened_every=10)


class PageTiming(BaseModel):
    page: str
    url: str
    status: int
    cold_s: float
    median_s: float
    worst_s: float
    kilobytes: float


class UiPageReport(BaseModel):
    store: str
    conversations: int
    cells: int
    build_s: float | None
    refresh_s: float | None = None
    """The candidate refresh before the pages (seconds)."""
    pages: list[PageTiming]


def run_ui_page_bench(db: Path, conversations_wanted: int, *, repeats: int = 3) -> UiPageReport:
    """Time every page over ``db``, first filling it with ``conversations_wanted`` synthetic conversations if
    it does not exist."""
    build_s = None
    if not db.exists():
        started = time.perf_counter()
        build_corpus(Store(db), ui_shape(conversations_wanted))
        build_s = time.perf_counter() - started
    store = Store(db)
    with _stdout_to_stderr():
        app = build_app(store, Guard.for_host("127.0.0.1", None), threshold=DEFAULT_THRESHOLD)
        started = time.perf_counter()
        app.state.context.refresh_candidates()
        refresh_s = time.perf_counter() - started
        client = TestClient(app, base_url="http://127.0.0.1")
        timings = [_time(client, page, url, repeats) for page, url in _pages(store)]
    return UiPageReport(store=store.name, conversations=store.count("results"), cells=store.count("scores"),
                        build_s=build_s, refresh_s=refresh_s, pages=timings)


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """File descriptor 1 onto 2 meanwhile: DuckDB draws its progress bar (a query over 2 s) on stdout from C++,
    on connections the store opens (the candidate refresh's), which ``--json`` output must not hold."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _pages(store: Store) -> list[tuple[str, str]]:
    """Every page, plain and filtered: a top memory, the newest conversation, review's first and a later page."""
    everything = Filters()
    with reading(store) as con:
        tops = memory_trends(con, everything, limit=1)
        newest = conversations(con, everything, limit=1).rows
    pages = [("overview", "/")]
    if newest:
        day = newest[0].scored_at.date().isoformat()
        pages.append(("overview, filtered", f"/?model={quote(newest[0].model)}&strategy={quote(newest[0].strategy)}"
                                            f"&since={day}&until={day}&prefix=topic-0"))
        pages.append(("conversation", f"/conversations/{quote(newest[0].conversation_id, safe='')}"))
    if tops:
        key = quote(tops[0].memory_key, safe="")
        pages += [("memory", f"/memories/{key}"), ("memory, page 5", f"/memories/{key}?page=5")]
    pages += [("review", "/review"), ("review, page 50", "/review?page=50"),
              ("review, all, prefix", "/review?status=all&prefix=topic-1")]
    return pages


def _time(client: TestClient, page: str, url: str, repeats: int) -> PageTiming:
    seconds = []
    status, size = 0, 0
    for _ in range(repeats + 1):
        started = time.perf_counter()
        answer = client.get(url)
        seconds.append(time.perf_counter() - started)
        status, size = answer.status_code, len(answer.content)
    warm = seconds[1:] or seconds
    return PageTiming(page=page, url=url, status=status, cold_s=seconds[0], median_s=statistics.median(warm),
                      worst_s=max(warm), kilobytes=size / 1024)


def check_ui_targets(report: UiPageReport) -> list[Target]:
    """Each page's slowest request, the first (uncached) one included, ≤ :data:`PAGE_SECONDS` (at whatever size
    the store has)."""
    return [Target(name=f"ui page {row.page!r}, slowest request (s) at {report.conversations:,} conversations",
                   measured=max(row.cold_s, row.worst_s), required=PAGE_SECONDS, at_most=True)
            for row in report.pages]
