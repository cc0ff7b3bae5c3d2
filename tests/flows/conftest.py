"""One Prefect test harness (a real temporary API server) for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memscore_core.synth.generator import generate_corpus


@pytest.fixture(scope="session", autouse=True)
def prefect_api() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real Prefect API server with memscore's pool and deployments; yields the environment pointing at it."""
    from tests.support.prefect_server import prefect_server as started

    with started(tmp_path_factory.mktemp("prefect-home")) as env:
        yield env


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Three synthetic conversations and one invalid line."""
    path = tmp_path / "conversations.jsonl"
    lines = [conversation.model_dump_json() for conversation in generate_corpus(3, seed=11)]
    lines.insert(1, '{"id": "broken", "entries": []}')
    path.write_text("\n".join(lines) + "\n")
    return path
