"""What every page handler shares: the store, the guard, the templates, the request's filters."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from jinja2 import Environment
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from memscore_core.store import Store
from memscore_core.store.dashboard import Filters, choices, fingerprint, reading
from memscore_core.store.downstream import refresh_candidates
from memscore_core.store.store import Connection
from memscore_core.ui.security import Guard

T = TypeVar("T")
FILTER_FIELDS = ("model", "strategy", "since", "until", "prefix")


CACHED_PAGES = 64
"""Page data kept per store state (read-only pages only: their data changes only with the results)."""


@dataclass
class UiContext:
    store: Store
    guard: Guard
    threshold: float
    env: Environment
    _cache: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict)
    _refreshed: tuple[Any, ...] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cached(self, con: Connection, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, or what it returned for ``key`` while the store's results were as they are now."""
        state = (key, fingerprint(con))
        with self._lock:
            if state in self._cache:
                self._cache.move_to_end(state)
                return self._cache[state]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self._cache[state] = value
            while len(self._cache) > CACHED_PAGES:
                self._cache.popitem(last=False)
        return value

    def refresh_candidates(self) -> None:
        """Add candidates from new results, as ``memscore review list`` does first (only when results changed
        since this server last did: a refresh of unchanged results adds nothing)."""
        with reading(self.store) as con:
            state = fingerprint(con)
        if state != self._refreshed:
            refresh_candidates(self.store, threshold=self.threshold)
            self._refreshed = state

    def filters(self, request: Request) -> Filters:
        """The filters in the query string; a malformed one is a 400 page naming it."""
        given = {name: request.query_params.get(name) or None for name in FILTER_FIELDS}
        days: dict[str, date | None] = {}
        for name in ("since", "until"):
            text = given[name]
            try:
                days[name] = None if text is None else date.fromisoformat(text)
            except ValueError as exc:
                raise HTTPException(400, f"{name}: {text!r} is not a date (YYYY-MM-DD)") from exc
        return Filters(model=given["model"], strategy=given["strategy"], prefix=given["prefix"] or "", **days)

    def render(self, request: Request, con: Connection, template: str, code: int = 200,
               **values: Any) -> HTMLResponse:
        """``template`` with the filters' form (its options read on ``con``), the CSRF token and ``values``."""
        filters = values.pop("filters", None) or Filters()
        params = {k: v for k, v in filters.model_dump(mode="json").items() if v not in (None, "")}
        options = self.cached(con, "choices", lambda: choices(con))
        body = self.env.get_template(template).render(
            request=request, filters=filters, params=params, choices=options, csrf=self.guard.csrf,
            store_name=self.store.name, **values)
        return HTMLResponse(body, status_code=code)

    def error(self, request: Request, message: str, status: int) -> HTMLResponse:
        """An error page saying what went wrong."""
        body = self.env.get_template("error.html").render(request=request, message=message, status=status,
                                                           store_name=self.store.name, params={})
        return HTMLResponse(body, status_code=status)
