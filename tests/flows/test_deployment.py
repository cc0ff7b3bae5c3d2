"""prefect.yaml against a real `prefect server start`: deploy, schedule, run through a process worker."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb
import pytest

from memscore_core.store import Store
from memscore_core.store.upkeep import store_stats
from memscore_core.synth.generator import generate_corpus
from tests.support.prefect_server import PREFECT, prefect
from tests.support.servers import REPO, metric, stop

pytestmark = pytest.mark.prefect


def test_the_hourly_deployment_carries_its_cron_schedule(prefect_server: dict[str, str]) -> None:
    out = prefect(prefect_server, "deployment", "inspect", "score-conversations/hourly")
    assert "0 * * * *" in out
    assert "memscore-local" in out


def run_deployment(env: dict[str, str], *params: str, name: str = "score-conversations/adhoc") -> None:
    """`prefect deployment run` with a process worker to pick it up; waits for completion, stops the worker."""
    worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "memscore-local"], cwd=REPO,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        args = [arg for param in params for arg in ("--param", param)]
        prefect(env, "deployment", "run", name, *args, "--watch", "--watch-timeout", "400",
                timeout=450)
    finally:
        stop(worker, grace=30)


def table_rows(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table but the run log, which a rerun must grow by one, and the write counter
    (``keyed_writes``), which counts commits, not rows: a rerun rewrites the same ingest error."""
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {table: sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
                for table in tables if table not in ("scoring_runs", "keyed_writes")}


def test_an_adhoc_run_scores_into_duckdb_and_a_second_run_sends_nothing(
        prefect_server: dict[str, str], tmp_path: Path, corpus: Path, server: str) -> None:
    db = tmp_path / "deployed.duckdb"
    params = ("run=" + json.dumps({"source": str(corpus), "db": str(db), "base_url": server, "concurrency": 4}),)
    run_deployment(prefect_server, *params)
    store = Store(db)
    assert (store.count("results"), store.count("ingest_errors")) == (3, 1)
    assert store.runs()[0].flow_run_id is not None
    tables = table_rows(db)
    before = metric(server, "vllm:request_success_total")
    run_deployment(prefect_server, *params)
    assert metric(server, "vllm:request_success_total") == before
    assert table_rows(db) == tables
    assert store.count("scoring_runs") == 2


def test_the_export_and_memory_weight_deployments_run_on_the_scored_file(
        prefect_server: dict[str, str], tmp_path: Path, corpus: Path, server: str) -> None:
    db = tmp_path / "downstream.duckdb"
    run_deployment(prefect_server, "run=" + json.dumps({"source": str(corpus), "db": str(db), "base_url": server}),
                   "reports_dir=null")
    exports = tmp_path / "exports"
    run_deployment(prefect_server, f"db={db}", f"out={exports}", "threshold=0", "name=nightly",
                   name="export-training-data/daily")
    run_deployment(prefect_server, f"db={db}", f"out={exports / 'weights.json'}",
                   name="update-memory-weights/hourly")
    manifest = json.loads((exports / "nightly" / "manifest.json").read_text())
    assert manifest["n_examples"] > 0
    weights = json.loads((exports / "weights.json").read_text())["weights"]
    assert set(weights) == {row.memory_key for row in Store(db).top_memories(limit=1000)}


def test_four_concurrent_deployment_runs_on_one_duckdb_file_all_land(
        prefect_server: dict[str, str], tmp_path: Path, server: str) -> None:
    db = tmp_path / "shared.duckdb"
    sources, conversations = [], []
    for n in range(4):
        source = tmp_path / f"part-{n}.jsonl"
        part = list(generate_corpus(2, seed=900 + n))
        source.write_text("".join(c.model_dump_json() + "\n" for c in part))
        sources.append(source)
        conversations.extend(part)
    worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "memscore-local"], cwd=REPO, env=prefect_server,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        runs = [subprocess.Popen([PREFECT, "deployment", "run", "score-conversations/adhoc", "--param",
                                  "run=" + json.dumps({"source": str(source), "db": str(db), "base_url": server}),
                                  "--param", "reports_dir=null", "--watch", "--watch-timeout", "500"],
                                 cwd=REPO, env=prefect_server, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                for source in sources]
        outputs = [run.communicate(timeout=560)[0] for run in runs]
    finally:
        stop(worker, grace=30)
    assert [run.returncode for run in runs] == [0, 0, 0, 0], outputs
    store = Store(db)
    cells = sum(len(c.memory_indices) * len(c.response_indices) for c in conversations)
    answers = sum(len(c.response_indices) for c in conversations)
    assert (store.count("results"), store.count("scoring_runs")) == (8, 4)
    assert (store.count("scores"), store.count("responses")) == (cells, answers)
    assert {run.status for run in store.runs()} == {"completed"}


def test_the_maintain_store_deployment_is_scheduled_and_tidies_a_lake(prefect_server: dict[str, str],
                                                                      tmp_path: Path) -> None:
    assert "45 */6 * * *" in prefect(prefect_server, "deployment", "inspect", "maintain-store/every-6-hours")
    lake = f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}"
    store = Store(lake)
    for n in range(5):
        store.record_run_start(model="tiny", backend="embedded", strategy="exact", config={}, config_hash=str(n))
    run_deployment(prefect_server, f"db={lake}", "retention_hours=0", name="maintain-store/every-6-hours")
    stats = store_stats(store)
    assert stats.snapshots == 1
    assert {t.table: (t.rows, t.files) for t in stats.tables}["scoring_runs"] == (5, 1)
