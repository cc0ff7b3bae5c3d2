"""Commands that ask no model anything never import torch, transformers or scikit-learn.

Each command runs in a subprocess of its own that reports, on exit, which heavy libraries it imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from memscore_core.settings import REPO_ROOT

HEAVY = ("torch", "transformers", "sklearn")
SAMPLE = REPO_ROOT / "data" / "conversations" / "sample.jsonl"
PROBE = ("import atexit, sys\n"
         "atexit.register(lambda: sys.stderr.write('\\nimported: ' + ' '.join(\n"
         f"    m for m in {HEAVY!r} if m in sys.modules) + '\\n'))\n"
         "from memscore_core.cli import main\n"
         "sys.argv = ['memscore', *sys.argv[1:]]\n"
         "main()\n")


def memscore(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``memscore ARGS`` in a fresh interpreter, and the heavy libraries it had imported when it exited."""
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=600,
                          cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    lines = [line for line in done.stderr.splitlines() if line.startswith("imported:")]
    assert lines, done.stderr
    return done, set(lines[-1].removeprefix("imported:").split())


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, set[str]]]:
    """Two sample conversations scored on the embedded default; (source, db, what that run imported)."""
    folder = tmp_path_factory.mktemp("light")
    source, db = folder / "two.jsonl", folder / "light.duckdb"
    source.write_text("".join(SAMPLE.read_text().splitlines(keepends=True)[:2]))
    done, imported = memscore("score", str(source), "--db", str(db))
    assert done.returncode == 0, done.stderr
    yield source, db, imported


def test_a_run_with_conversations_to_score_loads_the_embedded_model(scored: tuple[Path, Path, set[str]]) -> None:
    assert {"torch", "transformers"} <= scored[2]


@pytest.mark.parametrize("json_output", [False, True], ids=["table", "json"])
def test_rerunning_a_scored_corpus_on_the_embedded_default_sends_nothing_and_loads_no_model(
        scored: tuple[Path, Path, set[str]], json_output: bool) -> None:
    source, db, _ = scored
    done, imported = memscore("score", str(source), "--db", str(db), *(["--json"] if json_output else []))
    assert done.returncode == 0, done.stderr
    assert "scored 0, skipped 2 already scored" in " ".join(done.stderr.split())
    assert " 0 requests" in done.stderr
    assert imported == set()


@pytest.mark.parametrize("command", [
    ["top"], ["top", "--json"], ["show", "synth-2026-00000"], ["weights", "--out", "{tmp}/weights.json"],
    ["export", "--format", "sft", "--out", "{tmp}/exports"], ["export", "--format", "parquet", "--out", "{tmp}/pq"],
    ["review", "list"],
], ids=lambda command: " ".join(command[:3]).replace("{tmp}/", ""))
def test_a_command_that_reads_the_store_imports_no_model_or_fitting_library(
        scored: tuple[Path, Path, set[str]], tmp_path: Path, command: list[str]) -> None:
    _, db, _ = scored
    done, imported = memscore(*(part.format(tmp=tmp_path) for part in command), "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert imported == set()
