"""The read-only pages: the overview, one memory, one conversation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from memscore_core.downstream.report import screened_cells
from memscore_core.store import dashboard
from memscore_core.store.dashboard import Filters
from memscore_core.store.store import Connection
from memscore_core.ui import charts
from memscore_core.ui.context import UiContext

Handler = Callable[[Request], Awaitable[Response]]
PAGE_SIZE = 20


def page_number(request: Request) -> int:
    """The ``page`` query parameter (1-based); a malformed one is a 400 page."""
    text = request.query_params.get("page", "1")
    if not text.isdigit() or int(text) < 1:
        raise HTTPException(400, f"page: {text!r} is not a page number")
    return int(text)


def overview(ui: UiContext) -> Handler:
    """``/``: scoring activity per day, top memories by week, dependence of responses, latest runs, conversations."""
    def build(request: Request) -> Response:
        filters, number = ui.filters(request), page_number(request)
        with dashboard.reading(ui.store) as con:
            trends, activity_chart, trends_chart, dependence_chart, listed = overview_data(ui, con, filters, number)
            return ui.render(request, con, "overview.html", filters=filters, trends=trends, conversations=listed,
                             page=number, runs=dashboard.latest_runs(con, filters, limit=10),
                             activity_chart=activity_chart, trends_chart=trends_chart, threshold=ui.threshold,
                             dependence_chart=dependence_chart)

    async def handle(request: Request) -> Response:
        return await run_in_threadpool(build, request)

    return handle


def overview_data(ui: UiContext, con: Connection, filters: Filters, number: int) -> tuple[Any, ...]:
    """The overview's aggregates and charts, and one page of its conversations (kept while the results stay)."""
    trends, activity_chart, trends_chart, dependence_chart = ui.cached(con, ("overview", filters), lambda: (
        trends := dashboard.memory_trends(con, filters, limit=10),
        charts.activity(dashboard.activity(con, filters)), charts.trends(trends),
        charts.dependence(dashboard.dependence_histogram(con, filters), ui.threshold)))
    listed = ui.cached(con, ("conversations", filters, number), lambda: dashboard.conversations(
        con, filters, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE))
    return trends, activity_chart, trends_chart, dependence_chart, listed


def prepare(ui: UiContext) -> None:
    """What the first visitor would wait for, computed at start: the unfiltered overview and new candidates."""
    with dashboard.reading(ui.store) as con:
        overview_data(ui, con, Filters(), 1)
    ui.refresh_candidates()


def memory(ui: UiContext) -> Handler:
    """``/memories/<key>``: importance over time, the responses it helped most, exact vs screened cells."""
    def build(request: Request) -> Response:
        key = request.path_params["key"]
        filters, number = ui.filters(request), page_number(request)
        with dashboard.reading(ui.store) as con:
            if not dashboard.memory_known(con, key):
                raise HTTPException(404, f"no memory with key {key!r} in {ui.store.name}")
            summary, days = ui.cached(con, ("memory", key, filters),
                                      lambda: dashboard.memory_timeline(con, key, filters))
            responses = ui.cached(con, ("memory responses", key, filters, number), lambda: dashboard.memory_responses(
                con, key, filters, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE))
            return ui.render(request, con, "memory.html", filters=filters, key=key, summary=summary,
                             responses=responses, timeline_chart=charts.memory_timeline(days), page=number,
                             page_size=PAGE_SIZE)

    async def handle(request: Request) -> Response:
        return await run_in_threadpool(build, request)

    return handle


def conversation(ui: UiContext) -> Handler:
    """``/conversations/<id>``: the latest result as ``memscore report`` shows it, screened cells marked."""
    def build(request: Request) -> Response:
        conversation_id = request.path_params["conversation_id"]
        with dashboard.reading(ui.store) as con:
            result = ui.cached(con, ("conversation", conversation_id), lambda: ui.store.latest_result(conversation_id))
        if result is None:
            raise HTTPException(404, f"no scores for conversation {conversation_id!r} in {ui.store.name}")
        marked = screened_cells(result)
        responses = []
        for j, (idx, label) in enumerate(zip(result.response_entry_indices, result.column_labels(), strict=True)):
            column = sorted(((k, row[j]) for k, row in zip(result.memory_keys, result.matrix, strict=True)
                             if row[j] is not None and row[j] > 0.01), key=lambda kv: -kv[1])[:3]  # type: ignore
            entry = result.entry(idx)
            responses.append({"label": label, "text": entry.text() if entry else "", "top": column,
                              "screened": sum(1 for _, c in marked if c == j), "score": result.response_scores[j]})
        with dashboard.reading(ui.store) as con:
            return ui.render(request, con, "conversation.html", result=result, responses=responses,
                             exact_cells=result.cell_counts()[0], screened_count=len(marked),
                             heatmap_chart=charts.heatmap(result), bars_chart=charts.importance_bars(result))

    async def handle(request: Request) -> Response:
        return await run_in_threadpool(build, request)

    return handle
