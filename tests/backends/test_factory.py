"""Choosing the backend: one URL stays a plain vLLM client, several make a fleet sized per replica."""

from __future__ import annotations

import asyncio

import pytest

from memscore_core.backends.factory import backend_name, base_urls, open_backend, request_capacity
from memscore_core.backends.fleet import FleetBackend
from memscore_core.backends.vllm import VllmBackend
from memscore_core.errors import ConfigError
from memscore_core.settings import Settings

A, B = "http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1"


def opened(base_url: str, concurrency: int = 8) -> object:
    backend = open_backend(Settings(base_url=base_url, request_cache=None, concurrency=concurrency))
    asyncio.run(backend.aclose())
    return backend


def test_a_comma_separated_list_and_repeated_options_give_the_same_urls() -> None:
    assert base_urls(f" {A} , {B},") == base_urls([A, B]) == base_urls([f"{A},{B}"]) == [A, B]
    assert base_urls(None) == base_urls("") == []


def test_one_url_opens_the_plain_vllm_client_as_before() -> None:
    assert type(opened(A)) is VllmBackend


def test_several_urls_open_a_fleet_whose_capacity_is_concurrency_per_replica() -> None:
    fleet = opened(f"{A},{B}", concurrency=6)
    assert isinstance(fleet, FleetBackend) and fleet.capacity == 12
    assert request_capacity(Settings(base_url=f"{A},{B}", concurrency=6)) == 12
    assert request_capacity(Settings(base_url=A, concurrency=6)) == request_capacity(Settings(concurrency=6)) == 6


def test_a_run_records_the_fleet_as_its_comma_separated_urls() -> None:
    assert backend_name(Settings(base_url=f"{A} ,{B}")) == f"{A},{B}"
    assert backend_name(Settings()) == "embedded"


def test_a_url_given_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match=f"a replica URL is given twice: {A}, {B}, {A}"):
        base_urls([A, B, A])


def test_the_embedded_default_keeps_twice_its_lanes_in_flight_unless_concurrency_is_set(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMSCORE_CONCURRENCY", raising=False)
    assert request_capacity(Settings(lanes=6)) == 12
    assert request_capacity(Settings(lanes=2)) == 8
    assert request_capacity(Settings(lanes=6, concurrency=3)) == 3
    monkeypatch.setenv("MEMSCORE_CONCURRENCY", "5")
    assert request_capacity(Settings(lanes=6)) == 5
