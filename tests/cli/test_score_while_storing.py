"""``memscore score`` goes on scoring while a batch of results waits for the store, and stores every one after."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from filelock import FileLock

from memscore_core.settings import REPO_ROOT
from memscore_core.store import Store
from tests.cli.test_incremental_cli import REQUESTS, SAMPLE, score
from tests.support.servers import metric


def test_scoring_goes_on_while_the_store_is_locked_and_every_result_lands_after(server: str, tmp_path: Path) -> None:
    _, requests = score(server, SAMPLE, tmp_path / "reference.duckdb")
    db = tmp_path / "s.duckdb"
    Store(db)
    before = metric(server, REQUESTS)
    run = subprocess.Popen([sys.executable, "-m", "memscore_core.cli", "score", str(SAMPLE), "--base-url", server,
                            "--db", str(db), "--no-cache", "--concurrency", "1"], cwd=REPO_ROOT, env=dict(os.environ),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while metric(server, REQUESTS) == before:
        time.sleep(0.05)
    with FileLock(f"{db}.lock"):  # another process holds the DuckDB file: every write waits
        deadline = time.monotonic() + 120
        while metric(server, REQUESTS) - before < requests and time.monotonic() < deadline:
            time.sleep(0.2)
        assert metric(server, REQUESTS) - before == requests
        assert run.poll() is None
    assert run.wait(300) == 0, run.stderr.read() if run.stderr else ""
    assert Store(db).count("results") == 20
