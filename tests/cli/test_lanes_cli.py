"""Through ``memscore score``: a server computing in two lanes (``memscore serve --lanes 2``, or the embedded
default with ``MEMSCORE_LANES=2``) gives the same scores as one computing a request at a time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_cli import SAMPLE, memscore
from tests.support.servers import local_server, metric


@pytest.fixture(scope="module")
def two_lanes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``memscore serve --lanes 2`` (the tiny default model computes in one lane unless told)."""
    with local_server(tmp_path_factory.mktemp("two-lanes"), "--lanes", "2") as base_url:
        yield base_url


def scored(db: Path, *target: str, env: dict[str, str] | None = None) -> list[dict[str, object]]:
    done = memscore("score", str(SAMPLE), *target, "--db", str(db), "--json", "--no-cache", env=env)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_a_server_in_two_lanes_scores_as_one_in_one_lane(server: str, two_lanes: str, tmp_path: Path) -> None:
    assert scored(tmp_path / "two.duckdb", "--base-url", two_lanes) == \
        scored(tmp_path / "one.duckdb", "--base-url", server)
    assert (metric(server, "memscore:lanes"), metric(two_lanes, "memscore:lanes")) == (1, 2)
    assert metric(two_lanes, "memscore:busy_lane_seconds_total") > 0


def test_the_embedded_default_in_two_lanes_scores_as_a_server_in_one(server: str, tmp_path: Path) -> None:
    assert scored(tmp_path / "embedded.duckdb", env={"MEMSCORE_LANES": "2"}) == \
        scored(tmp_path / "one.duckdb", "--base-url", server)
