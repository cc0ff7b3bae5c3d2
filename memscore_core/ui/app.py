"""The ``memscore ui`` ASGI app: routes, templates, plotly.js from the plotly wheel, errors as pages."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from urllib.parse import quote, urlencode

import plotly
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from memscore_core.errors import StoreError
from memscore_core.store import Store
from memscore_core.ui import pages, review
from memscore_core.ui.context import UiContext
from memscore_core.ui.security import Guard, GuardMiddleware

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
"""plotly.js as the installed plotly wheel ships it: served locally, the machine may be offline."""


def templates() -> Environment:
    """The pages' Jinja environment: autoescaped, with ``key_url`` for keys and ids in paths."""
    env = Environment(loader=PackageLoader("memscore_core.ui", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["key_url"] = lambda value: quote(str(value), safe="")
    env.filters["nats"] = lambda value: "–" if value is None else f"{value:.3f}"
    env.globals["query"] = lambda params, **changes: urlencode(
        {k: v for k, v in {**params, **changes}.items() if v not in (None, "")})
    return env


def build_app(store: Store, guard: Guard, *, threshold: float, prepare: bool = False) -> Starlette:
    """The app over ``store``; review lists candidates at or above ``threshold`` (as ``memscore review list``).
    With ``prepare``, a thread computes the unfiltered overview and refreshes candidates as it starts."""
    context = UiContext(store=store, guard=guard, threshold=threshold, env=templates())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if prepare:
            threading.Thread(target=pages.prepare, args=(context,), name="memscore-ui-prepare", daemon=True).start()
        yield

    async def plotly_js(request: Request) -> Response:
        return FileResponse(PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    async def not_found(request: Request, exc: Exception) -> Response:
        detail = exc.detail if isinstance(exc, HTTPException) else "not found"
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return context.error(request, detail if detail != "Not Found" else f"no page at {request.url.path}", status)

    async def store_failed(request: Request, exc: Exception) -> Response:
        return context.error(request, str(exc), 503)

    static = StaticFiles(directory=str(resources.files("memscore_core.ui") / "static"))
    routes = [
        Route("/", pages.overview(context)),
        Route("/memories/{key:path}", pages.memory(context)),
        Route("/conversations/{conversation_id:path}", pages.conversation(context)),
        Route("/review", review.page(context)),
        Route("/review/decide", review.decide(context), methods=["POST"]),
        Route("/static/plotly.min.js", plotly_js),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Mount("/static", static),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(GuardMiddleware, guard=guard)],
                    exception_handlers={HTTPException: not_found, StoreError: store_failed})
    app.state.context = context
    return app

