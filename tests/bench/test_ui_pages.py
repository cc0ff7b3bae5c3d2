"""`memscore bench ui N`: every page of `memscore ui` timed over a synthetic store, through the command line.

Timings are the benchmark's output, never asserted: the exit code says whether every target was met."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from memscore_core.settings import REPO_ROOT


def test_bench_ui_builds_a_store_and_times_every_page_with_its_target(tmp_path: Path) -> None:
    db = tmp_path / "ui.duckdb"
    done = subprocess.run([sys.executable, "-m", "memscore_core.cli", "bench", "ui", "40", "--db", str(db),
                           "--json"], capture_output=True, text=True, timeout=600, cwd=REPO_ROOT, env=dict(os.environ))
    report = json.loads(done.stdout)
    assert done.returncode == (0 if all(t["met"] for t in report["targets"]) else 1), done.stderr
    assert (report["conversations"], report["cells"]) == (40, 40 * 8 * 4) and report["build_s"] is not None
    assert {row["page"] for row in report["pages"]} == {
        "overview", "overview, filtered", "conversation", "memory", "memory, page 5", "review", "review, page 50",
        "review, all, prefix"}
    assert all(row["status"] == 200 for row in report["pages"])
    assert len(report["targets"]) == len(report["pages"]) and all(t["required"] == 1.0 for t in report["targets"])
