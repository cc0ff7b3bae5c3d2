"""The zombie automation (flows/automations.yaml) against a real Prefect server and a real process worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.prefect_server import shipped_automation, start_worker
from tests.support.servers import kill_tree

pytestmark = pytest.mark.prefect
WATCH_TAG = "memscore-shard-watch-test"  # this test's own copy of the automation watches only its own run
WITHIN_SECONDS = 15  # the shipped 90 s window, shortened so the test waits 15 s instead


@pytest.fixture
def api(prefect_server: dict[str, str]) -> Iterator[httpx.Client]:
    """The server's REST API with the shipped zombie automation on it, watching runs tagged WATCH_TAG."""
    automation = shipped_automation()
    automation["trigger"].update(within=WITHIN_SECONDS,
                                 match_related={"prefect.resource.role": "tag",
                                                "prefect.resource.id": f"prefect.tag.{WATCH_TAG}"})
    with httpx.Client(base_url=prefect_server["PREFECT_API_URL"], timeout=30) as client:
        created = client.post("/automations/", json=automation)
        assert created.status_code == 201, created.text
        try:
            yield client
        finally:
            client.delete(f"/automations/{created.json()['id']}")


def state_of(api: httpx.Client, run_id: str) -> str:
    return str(api.get(f"/flow_runs/{run_id}").json()["state"]["type"])


def wait_for_state(api: httpx.Client, run_id: str, wanted: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while (state := state_of(api, run_id)) != wanted and time.monotonic() < deadline:
        time.sleep(0.1)
    return state


def shard_run(api: httpx.Client, tmp_path: Path) -> dict[str, Any]:
    deployment = api.get("/deployments/name/score-conversations/shard").json()
    body = {"parameters": {"run": {"source": str(tmp_path / "corpus.jsonl"), "db": str(tmp_path / "memscore.duckdb")}},
            "tags": [WATCH_TAG]}
    for _ in range(10):  # the server answers 503 while its SQLite database is busy, as Prefect's own client retries
        created = api.post(f"/deployments/{deployment['id']}/create_flow_run", json=body)
        if created.status_code != 503:
            break
        time.sleep(0.5)
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_shard_runs_carry_the_tag_the_shipped_automation_watches(api: httpx.Client, tmp_path: Path) -> None:
    watched = shipped_automation()["trigger"]["match_related"]["prefect.resource.id"].removeprefix("prefect.tag.")
    run = shard_run(api, tmp_path)
    api.post(f"/flow_runs/{run['id']}/set_state", json={"state": {"type": "CANCELLED"}, "force": True})
    assert watched in run["tags"]


def test_a_shard_run_whose_worker_dies_before_it_starts_is_marked_crashed(
        api: httpx.Client, prefect_server: dict[str, str], tmp_path: Path) -> None:
    run = shard_run(api, tmp_path)
    worker = start_worker(prefect_server, tmp_path / "worker.log")
    try:
        claimed = wait_for_state(api, run["id"], "PENDING", timeout=120)
        kill_tree(worker.pid)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            kill_tree(worker.pid)
    assert claimed == "PENDING", (tmp_path / "worker.log").read_text()[-3000:]
    assert state_of(api, run["id"]) == "PENDING", "the run started before its worker died"
    assert wait_for_state(api, run["id"], "CRASHED", timeout=WITHIN_SECONDS + 60) == "CRASHED"
