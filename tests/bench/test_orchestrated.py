"""The orchestrated bench's structure (not its timings): the CLI and the flow, side by side, on one corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from memscore_core.bench.orchestrated import orchestrated_targets, run_orchestrated

pytestmark = pytest.mark.prefect


def test_the_cli_and_the_flow_send_the_same_requests_and_store_the_same_scores(tmp_path: Path) -> None:
    report = run_orchestrated(tmp_path, conversations=4)
    assert report.cli.requests == report.flow.requests > 0
    assert report.identical_results
    assert report.cli.cpu_s > 0 and report.flow.wall_s > 0 and report.prefect_server_cpu_s > 0
    assert [target.name for target in orchestrated_targets(report)] == [
        "flow wall ÷ CLI wall", "flow client CPU ms per request", "flow results identical to the CLI's (1 = yes)"]
