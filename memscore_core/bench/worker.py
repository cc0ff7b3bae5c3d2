"""One strategy over one corpus, in its own process so that CPU time and peak RSS are its own.

``python -m memscore_core.bench.worker SPEC_JSON`` prints one JSON object of measurements.
"""

from __future__ import annotations

import asyncio
import functools
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from memscore_core.backends import vllm
from memscore_core.config import ScoringConfig
from memscore_core.formats.loading import load_conversations
from memscore_core.scoring.opening import open_scorer
from memscore_core.settings import Settings
from memscore_core.strategies import exact, planned, seed


class WorkerSpec(BaseModel):
    """What to score; ``base_url`` may list several replicas (comma-separated), ``concurrency`` is per replica."""

    corpus: Path
    base_url: str | None
    config: ScoringConfig
    concurrency: int


class Measurement(BaseModel):
    requests: int
    prompt_tokens: int
    wall_s: float
    client_cpu_s: float
    parse_math_cpu_s: float
    peak_rss_mb: float
    failed: int

    @property
    def parse_math_tokens_per_cpu_s(self) -> float | None:
        """Prompt tokens parsed, split into responses and scored per CPU second of that work."""
        return self.prompt_tokens / self.parse_math_cpu_s if self.parse_math_cpu_s > 0 else None


class CpuMeter:
    """Thread CPU seconds spent inside the functions it wraps (in this worker process only)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.thread_time() - start
        return timed


def meter_parse_and_math() -> CpuMeter:
    """Time the client's hot path where it is called: body parsing, response spans and the divergence math."""
    meter = CpuMeter()
    for module, name in [(vllm, "parse_chat_body"), (planned, "read_responses"), (exact, "aggregate_exact"),
                         (seed, "seed_walk"), (seed, "seed_row")]:
        setattr(module, name, meter.wrap(getattr(module, name)))
    return meter


async def measure(spec: WorkerSpec) -> Measurement:
    settings = Settings(base_url=spec.base_url, request_cache=None, concurrency=spec.concurrency)
    loaded = load_conversations([spec.corpus]).conversations
    requests = prompt_tokens = failed = 0
    meter = meter_parse_and_math()
    async with open_scorer(spec.config, settings) as scorer:
        cpu, wall = time.process_time(), time.perf_counter()
        outcomes = await scorer.outcomes(loaded)
    for outcome in outcomes:
        if outcome.score is None:
            failed += 1
            continue
        requests += outcome.score.requests
        prompt_tokens += outcome.score.prompt_tokens
    return Measurement(requests=requests, prompt_tokens=prompt_tokens, wall_s=time.perf_counter() - wall,
                       client_cpu_s=time.process_time() - cpu, parse_math_cpu_s=meter.seconds, failed=failed,
                       peak_rss_mb=peak_rss_mb())


def peak_rss_mb() -> float:
    """This process's own peak RSS: Linux's ``VmHWM``, since ``ru_maxrss`` keeps the parent's peak across exec."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)


if __name__ == "__main__":
    result = asyncio.run(measure(WorkerSpec.model_validate_json(sys.argv[1])))
    sys.stdout.write(orjson.dumps(result.model_dump()).decode() + "\n")
