"""The replica bench: its report's structure from a tiny real run, its busy window and its targets."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from memscore_core.bench.corpus import BenchShape
from memscore_core.bench.replicas import ReplicaReport, ReplicaRow, busy_fractions, paces
from memscore_core.bench.targets import check_replica_targets
from memscore_core.bench.worker import Measurement
from memscore_core.cli import app
from memscore_core.settings import REPO_ROOT

LEAST_BUSY = "least busy replica's in-flight ÷ slots while work remained"


def test_a_tiny_replica_run_reports_each_fleet_size_with_ratios_and_every_replicas_busy_fraction() -> None:
    done = subprocess.run([sys.executable, "-m", "memscore_core.cli", "bench", "replicas", "1,2",
                           "--slots", "2", "--prefill-tps", "20000", "--conversations", "1", "--memories", "4",
                           "--chunks", "2", "--responses-per-chunk", "4", "--json"],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    document = json.loads(done.stdout)
    report = ReplicaReport.model_validate(document)
    assert [row.replicas for row in report.rows] == [1, 2]
    assert [len(row.busy) for row in report.rows] == [len(row.pace) for row in report.rows] == [1, 2]
    assert all(0 < pace <= 1.01 for row in report.rows for pace in row.pace if pace is not None)
    assert report.rows[0].measurement.requests == report.rows[1].measurement.requests == 2 + 4 + 2
    assert all(row.measurement.failed == 0 for row in report.rows)
    assert report.rows[0].vs_one_replica == 1.0 and report.forward_pass is False
    assert [target["name"] for target in document["targets"]] == [
        f"1 replicas: {LEAST_BUSY}", "2 replicas throughput ÷ 1 replica", f"2 replicas: {LEAST_BUSY}"]
    assert done.returncode == (0 if all(target["met"] for target in document["targets"]) else 1)


def test_busy_counts_from_the_first_busy_poll_to_the_last_full_one_and_shows_a_starved_replica() -> None:
    ticks = [[0, 0], [4, 1], [4, 2], [4, 4], [3, 1], [1, 0], [0, 0]]
    assert busy_fractions(ticks, slots=4) == [1.0, 7 / 12]
    assert busy_fractions([[0, 1], [1, 0]], slots=4) == [None, None]


def test_pace_is_emulated_seconds_over_slot_seconds_held() -> None:
    assert paces([(0, 0.0), (100, 1.0)], [(1000, 1.25), (100, 1.0)], prefill_tps=1000) == [0.8, None]


def fleet_report(ratios: dict[int, float], busy: float) -> ReplicaReport:
    measurement = Measurement(requests=10, prompt_tokens=1000, wall_s=1.0, client_cpu_s=0.1, parse_math_cpu_s=0.01,
                              peak_rss_mb=80.0, failed=0)
    rows = [ReplicaRow(replicas=n, measurement=measurement, tokens_per_s=1000.0 * ratio, vs_one_replica=ratio,
                       busy=[busy] * n, pace=[1.0] * n) for n, ratio in ratios.items()]
    return ReplicaReport(shape=BenchShape(), chunk_tokens=1000, slots=8, prefill_tps=2000.0, forward_pass=False,
                         rows=rows)


def test_two_and_four_replicas_need_18_and_34_times_one_and_every_replica_90_percent_busy() -> None:
    met = {t.name: t.met for t in check_replica_targets(fleet_report({1: 1.0, 2: 1.9, 4: 3.5}, busy=0.95))}
    missed = {t.name: t.met for t in check_replica_targets(fleet_report({1: 1.0, 2: 1.7, 4: 3.3}, busy=0.85))}
    assert met == {name: True for name in missed} and not any(missed.values())
    assert set(met) == {"2 replicas throughput ÷ 1 replica", "4 replicas throughput ÷ 1 replica",
                        f"1 replicas: {LEAST_BUSY}", f"2 replicas: {LEAST_BUSY}", f"4 replicas: {LEAST_BUSY}"}


def test_replica_counts_that_are_not_counts_are_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["bench", "replicas", "1,two"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "must be comma-separated replica counts, e.g. 1,2,4" in result.output
