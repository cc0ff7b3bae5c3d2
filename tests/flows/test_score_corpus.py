"""score-corpus against a real Prefect server: shard flow runs that two process workers share."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from memscore_core.settings import REPO_ROOT
from memscore_core.store import Store
from memscore_core.synth.generator import generate_corpus
from tests.support.prefect_server import prefect, start_worker
from tests.support.servers import stop

pytestmark = pytest.mark.prefect
SCORES = "SELECT conversation_id, memory_entry_idx, response_entry_idx, divergence FROM scores ORDER BY ALL"


def scores(db: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(SCORES).fetchall()


def test_a_sharded_run_on_two_workers_stores_what_one_process_stores(
        prefect_server: dict[str, str], tmp_path: Path, server: str) -> None:
    source = tmp_path / "corpus.jsonl"
    source.write_text("".join(c.model_dump_json() + "\n" for c in generate_corpus(9, seed=1201)))
    env = {**prefect_server, "MEMSCORE_REQUEST_CACHE": str(tmp_path / "shared-cache")}
    workers = [start_worker(env, tmp_path / f"worker-{n}.log") for n in range(2)]
    try:
        prefect(env, "deployment", "run", "score-corpus/adhoc", "--param", "run=" + json.dumps(
                    {"source": str(source), "db": str(tmp_path / "sharded.duckdb"), "base_url": server}),
                "--param", "shards=3",
                "--param", f"poll_seconds={json.dumps(1.0)}", "--watch", "--watch-timeout", "500", timeout=560)
    finally:
        for worker in workers:
            stop(worker, grace=30)
    single = subprocess.run([sys.executable, "-m", "memscore_core.cli", "score", str(source), "--base-url", server,
                             "--db", str(tmp_path / "single.duckdb")], cwd=REPO_ROOT, capture_output=True, text=True,
                            env=env, timeout=300)
    assert single.returncode == 0, single.stderr
    runs = Store(tmp_path / "sharded.duckdb").runs()
    assert len(runs) == 3 and {run.status for run in runs} == {"completed"}
    assert scores(tmp_path / "sharded.duckdb") == scores(tmp_path / "single.duckdb")
