"""Throughput with 1, 2, 4… replicas of the emulated GPU server: one corpus, one run, ratios to one replica.

The bench starts the largest fleet once (``memscore serve --emulate-gpu`` per replica), warms every replica,
then scores the same corpus through the first N replicas for each N, each count in its own process with
``--concurrency`` = slots per replica. A sampler polls every replica's in-flight count throughout; a
replica's busy fraction is its mean in-flight ÷ slots while work remained (from the first poll with any
replica busy to the last with any replica full, after which the queue is empty and the fleet drains).
Busy cannot tell a slot held by the emulated prefill from one held because the server itself is slow, so each
replica's pace is reported too: its emulated seconds (prompt tokens ÷ prefill_tps) ÷ the slot-seconds it
actually held; 1.0 means every request took exactly its emulated time.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from pydantic import BaseModel

from memscore_core.bench.corpus import BenchShape, bench_corpus
from memscore_core.bench.run import emulated_servers, run_strategy
from memscore_core.bench.worker import Measurement
from memscore_core.config import ScoringConfig
from memscore_core.embedded.loopback import free_port

RUNNING = "vllm:num_requests_running"
PROMPT_TOKENS, SLOT_SECONDS = "vllm:prompt_tokens_total", "memscore:busy_slot_seconds_total"


class ReplicaRow(BaseModel):
    """One fleet size: what the run measured, its throughput and each replica's busy fraction."""

    replicas: int
    measurement: Measurement
    tokens_per_s: float
    vs_one_replica: float | None = None
    busy: list[float | None]
    pace: list[float | None]


class ReplicaReport(BaseModel):
    shape: BenchShape
    chunk_tokens: int
    slots: int
    prefill_tps: float
    forward_pass: bool
    rows: list[ReplicaRow]


def busy_fractions(ticks: Sequence[Sequence[float]], slots: int) -> list[float | None]:
    """Each replica's mean in-flight ÷ ``slots`` while work remained; ``ticks`` holds one poll of every
    replica per row. The window runs from the first poll with any replica busy to the last with any full."""
    busy = [i for i, tick in enumerate(ticks) if any(value > 0 for value in tick)]
    full = [i for i, tick in enumerate(ticks) if any(value >= slots for value in tick)]
    replicas = len(ticks[0]) if ticks else 0
    if not busy or not full or full[-1] < busy[0]:
        return [None] * replicas
    window = ticks[busy[0]: full[-1] + 1]
    return [sum(min(tick[r], slots) for tick in window) / (slots * len(window)) for r in range(replicas)]


class FleetSampler:
    """Polls every replica's ``vllm:num_requests_running`` together, ``interval`` seconds apart."""

    def __init__(self, base_urls: Sequence[str], interval: float = 0.05) -> None:
        self._urls = [url.removesuffix("/v1") + "/metrics" for url in base_urls]
        self._interval = interval
        self.ticks: list[list[float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                with contextlib.suppress(httpx.HTTPError, ValueError, IndexError):
                    self.ticks.append([_running(client.get(url).text) for url in self._urls])
                self._stop.wait(max(0.0, self._interval - (time.monotonic() - started)))

    def __enter__(self) -> FleetSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def _running(metrics: str) -> float:
    return _metric(metrics, RUNNING)


def _metric(metrics: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith(name + "{"))


def server_counters(base_urls: Sequence[str]) -> list[tuple[float, float]]:
    """Each server's (prompt tokens, busy slot-seconds) so far."""
    texts = [httpx.get(url.removesuffix("/v1") + "/metrics", timeout=10).text for url in base_urls]
    return [(_metric(text, PROMPT_TOKENS), _metric(text, SLOT_SECONDS)) for text in texts]


def paces(before: Sequence[tuple[float, float]], after: Sequence[tuple[float, float]],
          prefill_tps: float) -> list[float | None]:
    """Each server's emulated seconds ÷ slot-seconds held between two readings of :func:`server_counters`."""
    return [(tokens - tokens_0) / prefill_tps / (held - held_0) if held > held_0 else None
            for (tokens_0, held_0), (tokens, held) in zip(before, after, strict=True)]


def run_replica_bench(shape: BenchShape, workdir: Path, *, counts: Sequence[int], prefill_tps: float, slots: int,
                      forward_pass: bool, config: ScoringConfig | None = None) -> ReplicaReport:
    """Score one corpus through 1, 2, 4… replicas (``counts``) of one emulated fleet, with ratios to one."""
    config = config or ScoringConfig(chunk_tokens=shape.chunk_tokens())
    workdir.mkdir(parents=True, exist_ok=True)
    corpus = workdir / "bench-corpus.jsonl"
    corpus.write_text("".join(c.model_dump_json() + "\n" for c in bench_corpus(shape)))
    rows = []
    ports = [free_port() for _ in range(max(counts))]
    with emulated_servers(workdir, ports, prefill_tps=prefill_tps, slots=slots, forward_pass=forward_pass) as urls:
        run_strategy(corpus, ",".join(urls), ScoringConfig(chunk_tokens=shape.chunk_tokens(), window=1), slots)
        for count in counts:
            before = server_counters(urls[:count])
            with FleetSampler(urls[:count]) as sampler:
                measurement = run_strategy(corpus, ",".join(urls[:count]), config, slots)
            rows.append(ReplicaRow(replicas=count, measurement=measurement, busy=busy_fractions(sampler.ticks, slots),
                                   pace=paces(before, server_counters(urls[:count]), prefill_tps),
                                   tokens_per_s=measurement.prompt_tokens / measurement.wall_s))
    one = next((row.tokens_per_s for row in rows if row.replicas == 1), None)
    for row in rows:
        row.vs_one_replica = row.tokens_per_s / one if one else None
    return ReplicaReport(shape=shape, chunk_tokens=shape.chunk_tokens(), slots=slots, prefill_tps=prefill_tps,
                         forward_pass=forward_pass, rows=rows)
