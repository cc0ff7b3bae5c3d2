"""Event-driven scoring against a real Prefect server: `memscore notify` → the on-arrival trigger → a worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from memscore_core.store import Store, StoredRun
from memscore_core.synth.generator import generate_corpus
from tests.flows.test_deployment import run_deployment
from tests.support.prefect_server import start_worker
from tests.support.servers import REPO, metric, stop

pytestmark = pytest.mark.prefect

REQUESTS = "vllm:request_success_total"


def write(path: Path, n: int, seed: int) -> Path:
    path.write_text("".join(c.model_dump_json() + "\n" for c in generate_corpus(n, seed=seed)))
    return path


def manifest(db: Path) -> dict[str, str]:
    """Each source file's path → the run that last recorded it."""
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute("SELECT path, run_id FROM source_files").fetchall())


def wait_for_runs(db: Path, count: int, timeout: float = 600) -> list[StoredRun]:
    """The store's runs once ``count`` of them have finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = Store(db).runs()
        if len(runs) >= count and all(run.status != "running" for run in runs):
            return runs
        time.sleep(2)
    raise TimeoutError(f"{db}: fewer than {count} finished runs after {timeout} s")


def flow_run(env: dict[str, str], flow_run_id: str) -> tuple[str, dict[str, object]]:
    """(deployment name, parameters) of a flow run, from the Prefect API."""
    api = env["PREFECT_API_URL"]
    run = httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=30).json()
    deployment = httpx.get(f"{api}/deployments/{run['deployment_id']}", timeout=30).json()
    return deployment["name"], run["parameters"]


def test_an_announced_file_is_scored_by_a_running_worker_alone_and_the_hourly_sweep_then_sends_nothing(
        prefect_server: dict[str, str], tmp_path: Path, server: str) -> None:
    inbox, db = tmp_path / "inbox", tmp_path / "arrival.duckdb"
    inbox.mkdir()
    old = write(inbox / "old.jsonl", 2, seed=71)
    sweep = "run=" + json.dumps({"source": str(inbox), "db": str(db), "base_url": server})
    run_deployment(prefect_server, sweep, name="score-conversations/hourly")
    [first] = wait_for_runs(db, 1)
    new = write(inbox / "new.jsonl", 1, seed=72)
    worker = start_worker(prefect_server, tmp_path / "worker.log")
    try:
        before = metric(server, REQUESTS)
        done = subprocess.run([sys.executable, "-m", "memscore_core.cli", "notify", str(new), "--db", str(db),
                               "--base-url", server], cwd=REPO, env=prefect_server, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        arrival = wait_for_runs(db, 2)[-1]
    finally:
        stop(worker, grace=30)
    assert arrival.status == "completed" and metric(server, REQUESTS) - before == arrival.requests > 0
    deployment, parameters = flow_run(prefect_server, str(arrival.flow_run_id))
    assert (deployment, parameters["run"]["source"]) == ("on-arrival", [str(new)])  # type: ignore[index]
    assert manifest(db) == {str(old): first.run_id, str(new): arrival.run_id}
    assert Store(db).count("results") == 3
    before = metric(server, REQUESTS)
    run_deployment(prefect_server, sweep, name="score-conversations/hourly")
    sweep_run = wait_for_runs(db, 3)[-1]
    assert (sweep_run.status, sweep_run.requests, metric(server, REQUESTS) - before) == ("completed", 0, 0)
    assert manifest(db) == {str(old): first.run_id, str(new): arrival.run_id}


def test_notify_without_a_prefect_server_is_one_error_line(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    done = subprocess.run([sys.executable, "-m", "memscore_core.cli", "notify", str(tmp_path / "a.jsonl")], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert " ".join(done.stderr.split()) == ("error: PREFECT_API_URL is not set: announcements go to the Prefect "
                                             "server that runs the score-conversations/on-arrival deployment")
