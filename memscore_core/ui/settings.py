"""Settings of the web UI: ``MEMSCORE_UI_URL`` (where flows link to it) and ``MEMSCORE_UI_TOKEN``."""

from __future__ import annotations

from urllib.parse import quote

from pydantic_settings import BaseSettings, SettingsConfigDict


class UiSettings(BaseSettings):
    """``url``: the address users open ``memscore ui`` at (e.g. ``http://127.0.0.1:8765``), for links from
    elsewhere; ``token``: the token it requires (``--token`` overrides it)."""

    model_config = SettingsConfigDict(env_prefix="MEMSCORE_UI_", extra="ignore")

    url: str | None = None
    token: str | None = None


def conversation_url(base: str, conversation_id: str) -> str:
    """The UI page of one conversation under ``base``."""
    return f"{base.rstrip('/')}/conversations/{quote(conversation_id, safe='')}"


def memory_url(base: str, memory_key: str) -> str:
    """The UI page of one memory under ``base``."""
    return f"{base.rstrip('/')}/memories/{quote(memory_key, safe='')}"
