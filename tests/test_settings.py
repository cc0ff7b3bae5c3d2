"""Settings read from MEMSCORE_* environment variables."""

from __future__ import annotations

import pytest

from memscore_core.settings import Settings


def test_an_empty_request_cache_variable_turns_the_cache_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMSCORE_REQUEST_CACHE", "")
    assert Settings().request_cache is None


def test_environment_variables_set_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMSCORE_CONCURRENCY", "3")
    monkeypatch.setenv("MEMSCORE_STRATEGY", "seed")
    settings = Settings()
    assert (settings.concurrency, settings.strategy) == (3, "seed")


def test_the_request_cache_may_be_an_fsspec_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMSCORE_REQUEST_CACHE", "s3://bucket/memscore/requests")
    assert Settings().request_cache == "s3://bucket/memscore/requests"
