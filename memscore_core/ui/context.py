"""What every page handler shares: the store, the guard, the templates, the request's filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from jinja2 import Environment
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from memscore_core.store import Store
from memscore_core.store.dashboard import Filters, choices
from memscore_core.ui.security import Guard

FILTER_FIELDS = ("model", "strategy", "since", "until", "prefix")


@dataclass(frozen=True)
class UiContext:
    store: Store
    guard: Guard
    threshold: float
    env: Environment

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

    def render(self, request: Request, template: str, code: int = 200, **values: Any) -> HTMLResponse:
        """``template`` with the filters' form, the CSRF token and ``values``."""
        filters = values.pop("filters", None) or Filters()
        params = {k: v for k, v in filters.model_dump(mode="json").items() if v not in (None, "")}
        body = self.env.get_template(template).render(
            request=request, filters=filters, params=params, choices=choices(self.store), csrf=self.guard.csrf,
            store_name=self.store.name, **values)
        return HTMLResponse(body, status_code=code)

    def error(self, request: Request, message: str, status: int) -> HTMLResponse:
        """An error page saying what went wrong."""
        body = self.env.get_template("error.html").render(request=request, message=message, status=status,
                                                           store_name=self.store.name, params={})
        return HTMLResponse(body, status_code=status)
