"""Choose the backend: a remote vLLM when a base URL is given, else the embedded local server."""

from __future__ import annotations

import os

from memscore_core.backends.base import PromptBackend
from memscore_core.backends.cache import CachedBackend
from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.settings import Settings

EMBEDDED_BASE_URL = "http://memscore.embedded/v1"


def open_backend(settings: Settings, *, api_key: str | None = None) -> PromptBackend:
    """A backend for ``settings``, behind the on-disk request cache unless it is disabled.

    The API key is ``api_key`` when given (a Prefect Secret), else the variable ``settings.api_key_env``.
    """
    backend = _open_server(settings, api_key or os.environ.get(settings.api_key_env))
    return CachedBackend(backend, settings.request_cache) if settings.request_cache else backend


def backend_name(settings: Settings) -> str:
    """What a run records as its backend: the server URL or ``embedded`` (never a key)."""
    return settings.base_url or "embedded"


def _open_server(settings: Settings, api_key: str | None) -> VllmBackend:
    """A remote vLLM for a base URL, else the embedded model (needs the ``local`` extra)."""
    retry = RetryPolicy(attempts=settings.retries)
    if settings.base_url:
        return VllmBackend(base_url=settings.base_url, model=settings.model,
                           api_key=api_key, timeout=settings.timeout, retry=retry)
    from memscore_core.local.serve import embedded_transport

    transport = embedded_transport(model_dir=settings.model_dir, threads=settings.torch_threads)
    return VllmBackend(base_url=EMBEDDED_BASE_URL, model=settings.model, transport=transport,
                       timeout=settings.timeout, retry=retry)
