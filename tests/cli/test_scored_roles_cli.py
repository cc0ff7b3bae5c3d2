"""Through ``memscore score`` on real loopback servers: the client asks ``memscore serve`` for the assistant
messages' log-probs only, never a server whose model card does not say it can, and the scores are the same."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from memscore_core.backends.vllm import VllmBackend
from tests.cli.test_cli import SAMPLE, memscore
from tests.support.servers import local_server


@pytest.fixture(scope="module")
def every_position(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``memscore serve --no-scored-roles``: every position, as vLLM, and a model card without the flag."""
    with local_server(tmp_path_factory.mktemp("every-position"), "--no-scored-roles") as base_url:
        yield base_url


def scores_roles(base_url: str) -> bool:
    async def ask() -> bool:
        async with VllmBackend(base_url=base_url) as backend:
            return await backend.scores_roles()
    return asyncio.run(ask())


def scored(base_url: str, db: Path) -> list[dict[str, object]]:
    done = memscore("score", str(SAMPLE), "--base-url", base_url, "--db", str(db), "--json", "--no-cache")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_client_sends_the_roles_only_to_a_server_whose_model_card_says_it_can(server: str,
                                                                                  every_position: str) -> None:
    assert scores_roles(server) and not scores_roles(every_position)


def test_scores_with_the_roles_equal_scores_of_every_position(server: str, every_position: str,
                                                              tmp_path: Path) -> None:
    assert scored(server, tmp_path / "roles.duckdb") == scored(every_position, tmp_path / "all.duckdb")
