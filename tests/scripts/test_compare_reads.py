"""The reads comparison: exact's clipped read and the signed read of the same results, judged as `memscore eval`
judges them, from what `memscore score --json` printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from memscore_core.settings import REPO_ROOT


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600, cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_clipped_read_is_judged_as_memscore_eval_judges_exact(tmp_path: Path) -> None:
    corpus, scores = tmp_path / "synth.jsonl", tmp_path / "scores.jsonl"
    run("-m", "memscore_core.cli", "synth", "--n", "2", "--seed", "7", str(corpus))
    scores.write_text(run("-m", "memscore_core.cli", "score", str(corpus), "--db", str(tmp_path / "s.duckdb"),
                          "--json"))
    compared = json.loads(run("scripts/compare_reads.py", str(corpus), str(scores)))
    evaluated = json.loads(run("-m", "memscore_core.cli", "eval", str(corpus), "--strategy", "exact", "--json"))
    clipped, signed = compared["reads"].values()
    for statistic in ("n_single", "precision_at_1", "n_two_memory", "recall_two_memory"):
        assert clipped[statistic] == evaluated[statistic]
    assert signed["median_unused_divergence"] < clipped["median_unused_divergence"]
    assert len(compared["exact_misses"]) == round((1 - clipped["precision_at_1"]) * clipped["n_single"]) + round(
        (1 - clipped["recall_two_memory"]) * clipped["n_two_memory"])
