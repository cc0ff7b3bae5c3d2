"""The ASGI app: vLLM's OpenAI-compatible endpoints over a :class:`LocalModel`.

One small handler per endpoint (as vLLM's ``api_router``): parse the body into its request model
(:mod:`memscore_core.embedded.protocol`), call the :class:`~memscore_core.embedded.serving.Serving` method that
does the work, answer its JSON; an :class:`ApiError` is answered in vLLM's error shape by :func:`_guarded`.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from memscore_core.embedded.model import LocalModel
from memscore_core.embedded.protocol import ApiError, ChatRequest, CompletionRequest, TokenizeRequest
from memscore_core.embedded.serving import ServerOptions, Serving
from memscore_core.embedded.stand_in import STAND_IN_CONTEXT

__all__ = ["STAND_IN_CONTEXT", "ServerOptions", "build_app"]

Body = TypeVar("Body", bound=BaseModel)


class _Json(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def build_app(model: LocalModel, options: ServerOptions) -> Starlette:
    """The app; ``model`` is shared by every request (its computations are serialised)."""
    serving = Serving(model, options)

    async def chat(request: Request) -> Response:
        return _Json(await serving.create_chat_completion(await _parse(request, ChatRequest)))

    async def completions(request: Request) -> Response:
        return _Json(await serving.create_completion(await _parse(request, CompletionRequest)))

    async def tokenize(request: Request) -> Response:
        return _Json(serving.tokenize(await _parse(request, TokenizeRequest)))

    async def models(_: Request) -> Response:
        return _Json(serving.show_models())

    async def health(_: Request) -> Response:
        return Response(status_code=200)

    async def metrics(_: Request) -> Response:
        return PlainTextResponse(serving.render_metrics())

    routes = [Route("/v1/chat/completions", _guarded(chat, options), methods=["POST"]),
              Route("/v1/completions", _guarded(completions, options), methods=["POST"]),
              Route("/tokenize", _guarded(tokenize, options), methods=["POST"]),
              Route("/v1/models", _guarded(models, options), methods=["GET"]),
              Route("/health", health, methods=["GET"]),
              Route("/metrics", metrics, methods=["GET"])]
    return Starlette(routes=routes)


def _guarded(handler: Callable[[Request], Awaitable[Response]], options: ServerOptions
             ) -> Callable[[Request], Awaitable[Response]]:
    """Bearer-key check on /v1 paths (as vLLM), and API errors answered in vLLM's shape."""
    async def endpoint(request: Request) -> Response:
        if options.api_key and request.url.path.startswith("/v1"):
            supplied = request.headers.get("authorization", "")
            if not secrets.compare_digest(supplied.encode(), f"Bearer {options.api_key}".encode()):
                return JSONResponse({"error": "Unauthorized"}, status_code=401)
        try:
            return await handler(request)
        except ApiError as error:
            return _Json(error.body(), status_code=error.status)
    return endpoint


async def _parse(request: Request, kind: type[Body]) -> Body:
    raw = await request.body()
    try:
        return kind.model_validate(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        raise ApiError(f"Invalid JSON body: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ApiError(f"{field}: {first['msg']}", param=field or None) from None
