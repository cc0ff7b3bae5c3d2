"""The rerun bench: `memscore score --json` over an archive whose every conversation is stored prints every result
without scoring any, and the bench judges the rerun at 10^4 conversations only."""

from __future__ import annotations

from pathlib import Path

from memscore_core.bench.rerun_json import RerunReport, RerunTiming, check_rerun_targets, run_rerun_bench


def test_a_rerun_over_an_archive_already_scored_prints_every_stored_result(tmp_path: Path) -> None:
    report = run_rerun_bench(tmp_path, (30,), per_file=10)
    assert [(t.conversations, t.files, t.printed) for t in report.timings] == [(30, 3, 30)]
    assert all(target.met for target in check_rerun_targets(report))


def test_the_time_target_applies_from_ten_thousand_conversations() -> None:
    timings = [RerunTiming(conversations=n, files=n // 100, seconds=s, cpu_seconds=s, printed=n)
               for n, s in ((1_000, 30.0), (10_000, 12.0))]
    missed = [target.name for target in check_rerun_targets(RerunReport(timings=timings)) if not target.met]
    assert missed == ["score --json rerun of 10,000 conversations, seconds"]
