"""The vLLM backend: prompt log-probabilities over vLLM's OpenAI-compatible chat API, via httpx.

The same client serves a remote vLLM (``base_url``) and the embedded server (an ASGI transport):
only the transport differs. Transient failures are retried with exponential backoff and jitter;
4xx answers are not. The API key is sent as a bearer header and never appears in errors or logs.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from memscore_core.backends.parsing import parse_chat_body
from memscore_core.errors import (
    BackendError,
    ContextLengthError,
    RequestRejectedError,
    ResponseFormatError,
    TransientBackendError,
)
from memscore_core.model.prompt import ChatPrompt, Message, RequestOptions, ScoredPrompt

SCORED_ROLES = "memscore_scored_roles"
"""A request field memscore's own server understands, and says so with this flag on its model card."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries of transient failures: exponential backoff with jitter, honouring Retry-After."""

    attempts: int = 5
    initial_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.5


def chat_request_body(model: str, prompt: ChatPrompt, options: RequestOptions, *, scored_roles: bool = False
                      ) -> dict[str, Any]:
    """The JSON body of one prompt-logprobs chat request; ``scored_roles``: the server understands
    ``memscore_scored_roles`` (memscore's own does; vLLM never gets it)."""
    body: dict[str, Any] = {"model": model, "messages": prompt.messages, "max_tokens": 1,
                            "prompt_logprobs": options.top_k, "stream": False}
    if prompt.tools is not None:
        body["tools"] = prompt.tools
        body["tool_choice"] = "none"  # vLLM refuses tools under the default "auto" without a tool-call parser
    if options.add_generation_prompt is not None:
        body["add_generation_prompt"] = options.add_generation_prompt
    if options.return_token_ids:
        body["return_token_ids"] = True
    if scored_roles and options.scored_roles is not None:
        body[SCORED_ROLES] = list(options.scored_roles)
    return body


class VllmBackend:
    """Scores chat prompts on a vLLM-compatible server."""

    def __init__(self, *, base_url: str, model: str | None = None, api_key: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, timeout: float = 300.0,
                 retry: RetryPolicy | None = None, max_connections: int = 64) -> None:
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.base_url = base_url.rstrip("/")
        self._shown_url = str(httpx.URL(self.base_url).copy_with(username=None, password=None))
        self._model = model
        self._scored_roles: bool | None = None
        self._deadline = timeout
        self._retry = retry or RetryPolicy()
        self._client = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 30.0)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def __aenter__(self) -> VllmBackend:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def model(self) -> str:
        """The model name: as configured, else the first model the server lists."""
        if self._model is None:
            self._model = (await self.served_models())[0]
        return self._model

    async def served_models(self) -> list[str]:
        """The ids of the models the server lists at ``/models``, in its order (never empty)."""
        return [str(card["id"]) for card in await self._model_cards()]

    async def scores_roles(self) -> bool:
        """Whether the server computes log-probs only in the messages asked for (its model card says so; a
        server without a readable model list is taken not to)."""
        if self._scored_roles is None:
            name = await self.model()
            try:
                cards = await self._model_cards()
            except (BackendError, ResponseFormatError):
                cards = []
            self._scored_roles = any(card.get("id") == name and card.get(SCORED_ROLES) is True for card in cards)
        return self._scored_roles

    async def _model_cards(self) -> list[dict[str, Any]]:
        body = await self._send("GET", "/models", None)
        try:
            cards = orjson.loads(body)["data"]
            if cards and all(isinstance(card, dict) and "id" in card for card in cards):
                return list(cards)
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ResponseFormatError("cannot read the model list from /models") from exc
        raise ResponseFormatError("cannot read the model list from /models")

    async def score(self, prompt: ChatPrompt, options: RequestOptions) -> ScoredPrompt:
        """Prompt log-probabilities of ``prompt`` rendered by the server's chat template."""
        hinted = options.scored_roles is not None and await self.scores_roles()
        body = chat_request_body(await self.model(), prompt, options, scored_roles=hinted)
        async for attempt in self._retrying():
            with attempt:
                raw = await self._send_once("POST", "/chat/completions", orjson.dumps(body))
                try:
                    return parse_chat_body(raw)
                except ResponseFormatError as exc:
                    if _is_json(raw):
                        raise
                    raise TransientBackendError(f"unreadable response body ({len(raw)} bytes)") from exc
        raise AssertionError("unreachable")

    async def generate(self, messages: list[Message], *, max_tokens: int = 128) -> str:
        """The server's greedy answer to ``messages`` (an assistant turn is appended for it)."""
        body = {"model": await self.model(), "messages": messages, "max_tokens": max_tokens, "temperature": 0.0,
                "stream": False}
        raw = await self._send("POST", "/chat/completions", orjson.dumps(body))
        try:
            return str(orjson.loads(raw)["choices"][0]["message"]["content"] or "")
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
            raise ResponseFormatError("cannot read the generated message") from exc

    async def _send(self, method: str, path: str, content: bytes | None) -> bytes:
        async for attempt in self._retrying():
            with attempt:
                return await self._send_once(method, path, content)
        raise AssertionError("unreachable")

    async def _send_once(self, method: str, path: str, content: bytes | None) -> bytes:
        """One attempt, bounded as a whole by the timeout (httpx's own timeouts bound each read only)."""
        try:
            async with asyncio.timeout(self._deadline):
                response = await self._client.request(method, path, content=content)
        except TimeoutError:
            raise TransientBackendError(f"{method} {self._shown_url}{path}: no complete answer within "
                                        f"{self._deadline:g} s") from None
        except httpx.TimeoutException as exc:
            raise TransientBackendError(f"{method} {self._shown_url}{path}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise TransientBackendError(f"{method} {self._shown_url}{path}: connection failed "
                                        f"({type(exc).__name__})") from None
        if response.is_success:
            return response.content
        raise _status_error(response)

    def _retrying(self) -> AsyncRetrying:
        policy = self._retry
        backoff = wait_exponential_jitter(multiplier=policy.initial_delay, max=policy.max_delay, jitter=policy.jitter)

        def wait(state: Any) -> float:
            error = state.outcome.exception() if state.outcome else None
            retry_after = getattr(error, "retry_after", None)
            return min(policy.max_delay, retry_after) if retry_after is not None else backoff(state)

        return AsyncRetrying(stop=stop_after_attempt(policy.attempts), wait=wait, reraise=True,
                             retry=retry_if_exception_type(TransientBackendError))


def _status_error(response: httpx.Response) -> BackendError:
    status = response.status_code
    message = f"HTTP {status} from logprobs API: {_server_message(response)}"
    if status == 429 or status >= 500:
        return TransientBackendError(message, status=status, retry_after=_retry_after(response))
    if status == 400 and ("maximum context length" in message or "longer than the maximum model length" in message):
        return ContextLengthError(message, status=status)
    return RequestRejectedError(message, status=status)


def _server_message(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text[:500] or "unknown error"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    return "unknown error"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


def _is_json(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True
