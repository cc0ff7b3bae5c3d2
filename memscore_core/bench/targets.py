"""The performance targets a benchmark run can show met or missed (issues 6, 12 and 14's acceptance lists).

Each target applies only where the run measured it: token ratios need ``seed`` beside ``exact``, speed-ups a
server (emulated or real), the memory bound a conversation of at least 100,000 tokens, fleet ratios a replica
run with one replica beside two or four, strategy ratios ``exact`` beside the screening strategies, the embedded
server's speed beside the brute-force loop a real pretrained model (issue 24; the tiny models' time is the server's
per-request work, shown but not judged).
"""

from __future__ import annotations

from pydantic import BaseModel, computed_field

from memscore_core.bench.many_memories import ManyMemoryReport, ManyShapesReport
from memscore_core.bench.models import ModelsReport
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
HIERARCHICAL_TOKENS = {64: 0.5, 256: 0.2}
"""Hierarchical's prompt tokens ÷ exact's, at most, from this many memories per chunk on (none below 64)."""
AGREEMENT, PRECISION_GAP = 0.98, 0.01
SURROGATE_MIN_MEMORIES, SURROGATE_TOKENS, SURROGATE_PRECISION = 256, 0.3, 0.9
LOOP_WALL, REAL_MODEL_PARAMETERS = 0.5, 100_000_000
"""memscore's exact wall ÷ the brute-force loop's, at most, on models of at least this many parameters."""


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


def check_many_memory_targets(report: ManyMemoryReport) -> list[Target]:
    """Issue 14's targets for this shape: screening cost and agreement beside exact, with and without a window;
    the surrogate's at 256 memories per chunk; auto never above exact."""
    rows = {row.name: row for row in report.comparison.rows}
    targets: list[Target] = []
    bounds = [limit for memories, limit in sorted(HIERARCHICAL_TOKENS.items()) if report.memories >= memories]
    for suffix in sorted({name.removeprefix("exact") for name in rows if name.startswith("exact")}):
        exact = rows[f"exact{suffix}"]
        hierarchical, surrogate, auto = (rows.get(f"{name}{suffix}") for name in ("hierarchical", "surrogate", "auto"))
        tokens = exact.prompt_tokens or 1
        if hierarchical is not None and bounds:
            targets.append(Target(name=f"hierarchical{suffix} prompt tokens ÷ exact{suffix}",
                                  measured=hierarchical.prompt_tokens / tokens, required=bounds[-1], at_most=True))
        if hierarchical is not None:
            targets.append(Target(name=f"hierarchical{suffix} top-1 agreement with exact{suffix} (above the floor)",
                                  measured=_agreement(hierarchical.top1_agreement), required=AGREEMENT))
            if exact.precision_at_1 is not None:
                targets.append(Target(name=f"hierarchical{suffix} precision@1 gap to exact{suffix}",
                                      measured=abs((hierarchical.precision_at_1 or 0.0) - exact.precision_at_1),
                                      required=PRECISION_GAP, at_most=True))
        if surrogate is not None and report.memories >= SURROGATE_MIN_MEMORIES:
            targets.append(Target(name=f"surrogate{suffix} prompt tokens ÷ exact{suffix}",
                                  measured=surrogate.prompt_tokens / tokens, required=SURROGATE_TOKENS, at_most=True))
            targets.append(Target(name=f"surrogate{suffix} precision@1", measured=surrogate.precision_at_1 or 0.0,
                                  required=SURROGATE_PRECISION))
        if auto is not None:
            targets.append(Target(name=f"auto{suffix} prompt tokens ÷ exact{suffix}",
                                  measured=auto.prompt_tokens / tokens, required=1.0, at_most=True))
    return targets


def check_many_shapes_targets(report: ManyShapesReport) -> list[Target]:
    """Each shape's many-memory targets, named after the shape (``interleaved: hierarchical prompt tokens ÷ …``)."""
    return [target.model_copy(update={"name": f"{shape.shape_label()}: {target.name}"})
            for shape in report.shapes for target in check_many_memory_targets(shape)]


def _agreement(value: float | None) -> float:
    """No response above the floor to judge means nothing disagreed."""
    return 1.0 if value is None else value


def check_models_targets(report: ModelsReport) -> list[Target]:
    """Issue 24's speed target on each real pretrained model: exact's wall at most half the brute-force loop's."""
    return [Target(name=f"{row.model} on {row.cores} cores: exact wall ÷ brute-force loop", measured=row.wall_vs_loop,
                   required=LOOP_WALL, at_most=True)
            for row in report.rows if row.parameters >= REAL_MODEL_PARAMETERS and row.wall_vs_loop is not None]
