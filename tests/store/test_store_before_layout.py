"""A store written before the layout of issue 22 (tests/data/store-before-layout) is read unchanged: rerunning
what wrote it skips every result and sends no request."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from memscore_core.settings import REPO_ROOT

BEFORE = REPO_ROOT / "tests" / "data" / "store-before-layout" / "memscore.duckdb"
EXAMPLES = REPO_ROOT / "data" / "examples"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    db = tmp_path / "memscore.duckdb"
    shutil.copy(BEFORE, db)
    return db


def _rerun(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEMSCORE_MODEL_DIR": str(REPO_ROOT / "data" / "models" / "memscore-tiny")}
    return subprocess.run([sys.executable, "-m", "memscore_core.cli", "score", *args, "--db", str(db), "--no-cache"],
                          capture_output=True, text=True, timeout=600, cwd=REPO_ROOT, env=env)


def test_exact_results_stored_before_the_layout_are_skipped_without_a_request(store: Path) -> None:
    done = _rerun(store, str(REPO_ROOT / "data" / "conversations" / "sample.jsonl"))
    assert done.returncode == 0, done.stderr
    assert "scored 0, skipped 20 already scored (--rescore to score again), invalid 0, failed 0; 0 requests, " \
           "0 prompt tokens" in " ".join(done.stderr.split())


def test_hierarchical_results_stored_under_an_earlier_screen_are_scored_again(store: Path) -> None:
    """Their key carries the screen's constants since issue 24 changed the screen (tests/config/test_config_hash.py)."""
    done = _rerun(store, str(EXAMPLES / "openai-chat.jsonl"), str(EXAMPLES / "letta-agent.af"), "--memory-tool",
                  "recall", "--strategy", "hierarchical", "--ablation", "replace")
    assert done.returncode == 0, done.stderr
    assert "scored 3, skipped 0 already scored" in " ".join(done.stderr.split())


def test_seed_results_stored_before_the_layout_are_skipped_without_a_request(store: Path) -> None:
    done = _rerun(store, str(EXAMPLES / "memscore-chat.jsonl"), "--strategy", "seed")
    assert "skipped 1 already scored" in " ".join(done.stderr.split())
    assert "; 0 requests, 0 prompt tokens" in " ".join(done.stderr.split())
