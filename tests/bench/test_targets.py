"""Benchmark targets: each applies where the run measured it, and a miss is reported as one."""

from __future__ import annotations

from memscore_core.bench.client import ClientCost
from memscore_core.bench.corpus import BenchShape
from memscore_core.bench.run import BenchReport, StrategyRow
from memscore_core.bench.targets import check_targets
from memscore_core.bench.worker import Measurement


def row(strategy: str, *, tokens: float | None = None, speedup: float | None = None, saturation: float | None = None,
        window: int | None = None, parse_math_cpu_s: float = 0.1, peak_rss_mb: float = 80.0) -> StrategyRow:
    measurement = Measurement(requests=10, prompt_tokens=200_000, wall_s=1.0, client_cpu_s=0.5,
                              parse_math_cpu_s=parse_math_cpu_s, peak_rss_mb=peak_rss_mb, failed=0)
    return StrategyRow(strategy=strategy, measurement=measurement, saturation=saturation, tokens_vs_seed=tokens,
                       speedup_vs_seed=speedup, window=window)


def report(rows: list[StrategyRow], *, slots: int | None = 8, embedded: bool = False, chunks: int = 4,
           client: ClientCost | None = None) -> BenchReport:
    return BenchReport(server="http://127.0.0.1:1/v1", embedded=embedded, shape=BenchShape(chunks=chunks),
                       chunk_tokens=1000, slots=slots, rows=rows, client=client)


def verdicts(bench: BenchReport) -> dict[str, bool]:
    return {target.name: target.met for target in check_targets(bench)}


def test_an_emulated_run_checks_tokens_speed_up_saturation_and_live_client_cost() -> None:
    bench = report([row("seed", tokens=1.0, speedup=1.0), row("exact", tokens=0.44, speedup=17.0, saturation=0.99),
                    row("exact-window", tokens=0.17, speedup=45.0, saturation=1.0, window=4)])
    assert verdicts(bench) == {
        "exact prompt tokens ÷ seed": True, "exact --window 4 prompt tokens ÷ seed": True,
        "exact speed-up vs seed (emulated GPU)": True, "exact in-flight ÷ slots while work remained": True,
        "exact live parse + math tokens per CPU second": True,
        "exact-window live parse + math tokens per CPU second": True}


def test_a_slow_exact_or_an_idle_batch_is_a_miss() -> None:
    bench = report([row("seed", tokens=1.0, speedup=1.0), row("exact", tokens=0.5, speedup=7.0, saturation=0.8,
                                                              parse_math_cpu_s=0.4)])
    assert not any(verdicts(bench).values())


def test_a_real_server_needs_twice_seeds_speed_and_the_embedded_default_no_speed_up() -> None:
    rows = [row("seed", tokens=1.0, speedup=1.0), row("exact", tokens=0.44, speedup=1.5)]
    assert verdicts(report(rows, slots=None))["exact speed-up vs seed (real server)"] is False
    assert not any("speed-up" in name for name in verdicts(report(rows, slots=None, embedded=True)))


def test_peak_rss_is_bounded_only_for_a_conversation_of_100000_tokens() -> None:
    rows = [row("exact", peak_rss_mb=544.0)]
    assert "exact peak RSS MB" not in verdicts(report(rows, embedded=True, chunks=4))
    assert verdicts(report(rows, embedded=True, chunks=110))["exact peak RSS MB"] is False


def test_the_replayed_client_cost_needs_a_million_tokens_and_three_times_the_standard_library() -> None:
    client = ClientCost(body="capture.json", tokens=2372, memscore_tokens_per_cpu_s=1.8e6,
                        stdlib_tokens_per_cpu_s=0.7e6, speedup=2.6)
    found = verdicts(report([], client=client))
    assert found == {"replayed parse + math tokens per CPU second": True,
                     "replayed parse + math ÷ standard library": False}
