"""The archive bench: the hourly run over an unchanged archive reads no file; after an addition, only the new files."""

from __future__ import annotations

import pytest

from memscore_core.bench.archive import ArchiveTiming, archive_timings, growth


@pytest.fixture(scope="module")
def timings(tmp_path_factory: pytest.TempPathFactory) -> list[ArchiveTiming]:
    return archive_timings(tmp_path_factory.mktemp("archive"), (40, 400), per_file=10, new_fraction=0.05, repeats=1)


def test_each_size_is_an_archive_of_that_many_conversations_in_files_of_per_file(
        timings: list[ArchiveTiming]) -> None:
    assert [(t.conversations, t.files, t.new_files) for t in timings] == [(40, 4, 1), (400, 40, 2)]


def test_the_hourly_run_over_an_unchanged_archive_reads_no_byte(timings: list[ArchiveTiming]) -> None:
    assert [t.noop_bytes_read for t in timings] == [0, 0]


def test_the_run_after_an_addition_reads_exactly_the_new_files(timings: list[ArchiveTiming]) -> None:
    assert [t.new_bytes_read for t in timings] == [t.new_bytes for t in timings]
    assert all(t.read_ratio == 1.0 for t in timings)


def test_the_growth_report_holds_every_size_and_the_no_op_ratio(timings: list[ArchiveTiming]) -> None:
    report = growth(timings)
    assert [row["conversations"] for row in report["sizes"]] == [40, 400]
    assert report["noop_growth"] == timings[1].noop_seconds / timings[0].noop_seconds
