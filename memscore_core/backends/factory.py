"""Choose the backend: a remote vLLM for one base URL, a fleet for several, else the embedded local server."""

from __future__ import annotations

import os

from memscore_core.backends.cache import CachedBackend
from memscore_core.backends.fleet import FleetBackend
from memscore_core.backends.protocol import PromptBackend
from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.embedded.cores import embedded_concurrency
from memscore_core.embedded.lazy import LazyEmbeddedTransport, embedded_model_name
from memscore_core.errors import ConfigError
from memscore_core.settings import Settings

EMBEDDED_BASE_URL = "http://memscore.embedded/v1"


def base_urls(base_url: str | list[str] | None) -> list[str]:
    """The server URLs in ``base_url``: a comma-separated list, or several such strings; empty parts dropped.

    The CLI's repeatable ``--base-url`` arrives as a list, ``MEMSCORE_BASE_URL`` and the flows' ``base_url``
    as one comma-separated string.
    """
    items = [base_url] if isinstance(base_url, str) else base_url or []
    urls = [part.strip() for item in items for part in item.split(",") if part.strip()]
    if len(set(urls)) != len(urls):
        raise ConfigError(f"a replica URL is given twice: {', '.join(urls)}")
    return urls


def joined_base_url(base_url: str | list[str] | None) -> str | None:
    """``base_url`` as the one comma-separated string ``Settings.base_url`` holds (``None`` if empty)."""
    return ",".join(base_urls(base_url)) or None


def open_backend(settings: Settings, *, api_key: str | None = None) -> PromptBackend:
    """A backend for ``settings``, behind the on-disk request cache unless it is disabled.

    Several URLs in ``settings.base_url`` open a :class:`FleetBackend` (``settings.concurrency`` per
    replica); one URL a plain :class:`VllmBackend`. The API key is ``api_key`` when given (a Prefect
    Secret), else the variable ``settings.api_key_env``.
    """
    backend = _open_server(settings, api_key or os.environ.get(settings.api_key_env))
    return CachedBackend(backend, settings.request_cache) if settings.request_cache else backend


def request_capacity(settings: Settings) -> int:
    """Requests the backend of ``settings`` takes in flight at once: ``concurrency`` per replica; for the embedded
    server, unless ``concurrency`` is set, enough to keep its lanes busy.

    Size the request pool in front of :func:`open_backend`'s backend with this, not ``settings.concurrency``.
    """
    urls = base_urls(settings.base_url)
    if urls or "concurrency" in settings.model_fields_set:
        return max(1, len(urls)) * settings.concurrency
    return embedded_concurrency(settings.concurrency, settings.lanes)


def backend_name(settings: Settings) -> str:
    """What a run records as its backend: the server URL(s) or ``embedded`` (never a key)."""
    return joined_base_url(settings.base_url) or "embedded"


def _open_server(settings: Settings, api_key: str | None) -> VllmBackend | FleetBackend:
    """A fleet for several URLs, a remote vLLM for one, else the embedded model (needs the ``local`` extra),
    loaded on its first request: a run with nothing to score never imports torch."""
    retry = RetryPolicy(attempts=settings.retries)
    urls = base_urls(settings.base_url)
    if len(urls) > 1:
        return FleetBackend(urls, model=settings.model, api_key=api_key, timeout=settings.timeout, retry=retry,
                            concurrency=settings.concurrency)
    if urls:
        return VllmBackend(base_url=urls[0], model=settings.model,
                           api_key=api_key, timeout=settings.timeout, retry=retry)
    transport = LazyEmbeddedTransport(settings.model_dir, threads=settings.torch_threads, lanes=settings.lanes)
    return VllmBackend(base_url=EMBEDDED_BASE_URL, model=settings.model or embedded_model_name(settings.model_dir),
                       transport=transport, timeout=settings.timeout, retry=retry)
