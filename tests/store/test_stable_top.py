"""`top --json` is byte-stable: exact decimal sums do not depend on the order a DuckLake's files are read in."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from memscore_core.settings import REPO_ROOT
from memscore_core.store import Store
from tests.store.conftest import conversation, score_of


def scattered(store: Store, results: int = 40) -> None:
    """``results`` results, one commit (one file) each, whose sums as doubles depend on their order."""
    rng = random.Random(5)
    for n in range(results):
        conv = conversation(f"c{n}")
        score = score_of(conv, [[rng.random() * 10 ** rng.randint(-3, 3), 0.1 * n], [0.3, rng.random()]])
        store.upsert_conversation(conv, score.content_hash, "convs.jsonl")
        store.write_result("run", score, "cfg")


def top_json(db: str, data_path: Path | None = None) -> bytes:
    extra = ["--data-path", str(data_path)] if data_path else []
    done = subprocess.run([sys.executable, "-m", "memscore_core.cli", "top", "--json", "--db", db, *extra],
                          capture_output=True, timeout=300, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_top_json_on_a_ducklake_is_the_same_bytes_twice_and_equals_a_duckdb_file(tmp_path: Path) -> None:
    lake, data = f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}", tmp_path / "lake-data"
    scattered(Store(lake, data_path=data))
    scattered(Store(tmp_path / "file.duckdb"))
    first, second = top_json(lake, data), top_json(lake, data)
    assert first == second
    rows = [{k: v for k, v in row.items() if k != "last_scored"} for row in json.loads(first)]
    assert rows == [{k: v for k, v in row.items() if k != "last_scored"}
                    for row in json.loads(top_json(str(tmp_path / "file.duckdb")))]
