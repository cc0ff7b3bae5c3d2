"""The performance targets a benchmark run can show met or missed (issue 6's and issue 12's acceptance lists).

Each target applies only where the run measured it: token ratios need ``seed`` beside ``exact``, speed-ups a
server (emulated or real), the memory bound a conversation of at least 100,000 tokens, fleet ratios a replica
run with one replica beside two or four.
"""

from __future__ import annotations

from pydantic import BaseModel, computed_field

from memscore_core.bench.replicas import ReplicaReport
from memscore_core.bench.run import BenchReport, StrategyRow

TOKENS_EXACT = 0.45
TOKENS_WINDOW_4 = 0.2
EMULATED_SPEEDUP, EMULATED_SATURATION = 8.0, 0.9
SERVER_SPEEDUP = 2.0
CLIENT_TOKENS_PER_CPU_S, CLIENT_VS_STDLIB = 1e6, 3.0
LONG_CONVERSATION_TOKENS, PEAK_RSS_MB = 100_000, 500.0
REPLICA_SPEEDUPS = {2: 1.8, 4: 3.4}
REPLICA_BUSY = 0.9


class Target(BaseModel):
    """One target: what was measured against what is required."""

    name: str
    measured: float
    required: float
    at_most: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def met(self) -> bool:
        return self.measured <= self.required if self.at_most else self.measured >= self.required


def check_targets(report: BenchReport) -> list[Target]:
    """Every target this run measured, met or not."""
    rows = {row.strategy: row for row in report.rows}
    exact, windowed = rows.get("exact"), rows.get("exact-window")
    targets: list[Target] = []
    if exact is not None and exact.tokens_vs_seed is not None:
        targets.append(Target(name="exact prompt tokens ÷ seed", measured=exact.tokens_vs_seed,
                              required=TOKENS_EXACT, at_most=True))
    if windowed is not None and windowed.window == 4 and windowed.tokens_vs_seed is not None:
        targets.append(Target(name="exact --window 4 prompt tokens ÷ seed", measured=windowed.tokens_vs_seed,
                              required=TOKENS_WINDOW_4, at_most=True))
    targets += _speed_targets(report, exact)
    targets += [Target(name=f"{row.strategy} live parse + math tokens per CPU second",
                       measured=row.measurement.parse_math_tokens_per_cpu_s or 0.0, required=CLIENT_TOKENS_PER_CPU_S)
                for row in report.rows if row.strategy != "seed"]
    if report.client is not None:
        targets.append(Target(name="replayed parse + math tokens per CPU second",
                              measured=report.client.memscore_tokens_per_cpu_s, required=CLIENT_TOKENS_PER_CPU_S))
        targets.append(Target(name="replayed parse + math ÷ standard library", measured=report.client.speedup,
                              required=CLIENT_VS_STDLIB))
    if report.shape.chunks * report.chunk_tokens >= LONG_CONVERSATION_TOKENS:
        targets += [Target(name=f"{row.strategy} peak RSS MB", measured=row.measurement.peak_rss_mb,
                           required=PEAK_RSS_MB, at_most=True) for row in report.rows]
    return targets


def _speed_targets(report: BenchReport, exact: StrategyRow | None) -> list[Target]:
    if exact is None or exact.speedup_vs_seed is None or report.embedded:
        return []
    if report.slots is None:
        return [Target(name="exact speed-up vs seed (real server)", measured=exact.speedup_vs_seed,
                       required=SERVER_SPEEDUP)]
    return [Target(name="exact speed-up vs seed (emulated GPU)", measured=exact.speedup_vs_seed,
                   required=EMULATED_SPEEDUP),
            Target(name="exact in-flight ÷ slots while work remained", measured=exact.saturation or 0.0,
                   required=EMULATED_SATURATION)]


def check_replica_targets(report: ReplicaReport) -> list[Target]:
    """The fleet targets a replica run measured: throughput ratios to one replica, and every replica busy."""
    targets: list[Target] = []
    for row in report.rows:
        required = REPLICA_SPEEDUPS.get(row.replicas)
        if required is not None and row.vs_one_replica is not None:
            targets.append(Target(name=f"{row.replicas} replicas throughput ÷ 1 replica", measured=row.vs_one_replica,
                                  required=required))
        targets.append(Target(name=f"{row.replicas} replicas: least busy replica's in-flight ÷ slots while work "
                                   "remained", measured=min((busy or 0.0) for busy in row.busy), required=REPLICA_BUSY))
    return targets
