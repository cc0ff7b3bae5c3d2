"""Run strategies side by side against one server and compare them to ``seed``."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from pydantic import BaseModel

from memscore_core.bench.client import ClientCost, client_cost
from memscore_core.bench.corpus import BenchShape, bench_corpus, predicted_token_ratio
from memscore_core.bench.worker import Measurement, WorkerSpec
from memscore_core.config import ScoringConfig
from memscore_core.embedded.loopback import wait_healthy


class StrategyRow(BaseModel):
    strategy: str
    window: int | None = None
    measurement: Measurement
    saturation: float | None
    tokens_vs_seed: float | None = None
    requests_vs_seed: float | None = None
    speedup_vs_seed: float | None = None
    predicted_tokens_vs_seed: float | None = None


class BenchReport(BaseModel):
    server: str
    embedded: bool = False
    shape: BenchShape
    chunk_tokens: int
    slots: int | None
    rows: list[StrategyRow]
    client: ClientCost | None


class RunningSampler:
    """Polls the server's ``vllm:num_requests_running`` while a strategy runs."""

    def __init__(self, base_url: str, interval: float = 0.1) -> None:
        self._url = base_url.removesuffix("/v1") + "/metrics"
        self._interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                try:
                    text = client.get(self._url).text
                    self.samples.append(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                                            if line.startswith("vllm:num_requests_running")))
                except (httpx.HTTPError, ValueError, IndexError):
                    pass
                self._stop.wait(self._interval)

    def __enter__(self) -> RunningSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def saturation(self, slots: int) -> float | None:
        """Mean in-flight ÷ slots while work remained: from the first busy sample to the last full one."""
        busy = [i for i, value in enumerate(self.samples) if value > 0]
        full = [i for i, value in enumerate(self.samples) if value >= slots]
        if not busy or not full:
            return None
        window = self.samples[busy[0]: full[-1] + 1]
        return sum(min(value, slots) for value in window) / (slots * len(window))


def run_strategy(corpus: Path, base_url: str | None, config: ScoringConfig, concurrency: int) -> Measurement:
    """One strategy in a fresh process (its own CPU time and peak RSS)."""
    spec = WorkerSpec(corpus=corpus, base_url=base_url, config=config, concurrency=concurrency)
    done = subprocess.run([sys.executable, "-m", "memscore_core.bench.worker", spec.model_dump_json()],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark worker failed:\n{done.stderr[-3000:]}")
    return Measurement.model_validate_json(done.stdout.strip().splitlines()[-1])


def run_bench(shape: BenchShape, workdir: Path, *, base_url: str | None, strategies: dict[str, ScoringConfig],
              concurrency: int, slots: int | None, with_client: bool = True) -> BenchReport:
    """Every strategy over the same corpus and server, one after another, with ratios to ``seed``.

    A server is warmed first with one untimed windowed pass, so no strategy pays its cold start.
    """
    corpus = workdir / "bench-corpus.jsonl"
    workdir.mkdir(parents=True, exist_ok=True)
    conversations = bench_corpus(shape)
    corpus.write_text("".join(c.model_dump_json() + "\n" for c in conversations))
    if base_url is not None:
        warm_up = ScoringConfig(chunk_tokens=shape.chunk_tokens(), window=1)
        run_strategy(corpus, base_url, warm_up, concurrency)
    rows = []
    for name, config in strategies.items():
        if base_url is None:
            rows.append(StrategyRow(strategy=name, measurement=run_strategy(corpus, None, config, concurrency),
                                    saturation=None))
            continue
        with RunningSampler(base_url) as sampler:
            measurement = run_strategy(corpus, base_url, config, concurrency)
        rows.append(StrategyRow(strategy=name, measurement=measurement,
                                saturation=sampler.saturation(slots or concurrency)))
    seed = next((row.measurement for row in rows if row.strategy == "seed"), None)
    chunks_with_memory = sum(1 for c in range(shape.chunks) if shape.memories_in(c))
    for row, config in zip(rows, strategies.values(), strict=True):
        row.window = config.window
        if seed is not None:
            m = row.measurement
            row.tokens_vs_seed = m.prompt_tokens / seed.prompt_tokens
            row.requests_vs_seed = m.requests / seed.requests
            row.speedup_vs_seed = seed.wall_s / m.wall_s
        if config.strategy == "exact" and config.window is None:
            row.predicted_tokens_vs_seed = predicted_token_ratio(shape.memories, shape.chunks, chunks_with_memory)
    return BenchReport(server=base_url or "embedded (in-process)", embedded=base_url is None, shape=shape,
                       chunk_tokens=shape.chunk_tokens(),
                       slots=slots, rows=rows, client=client_cost() if with_client else None)


@contextmanager
def emulated_server(workdir: Path, *, prefill_tps: float, slots: int, port: int,
                    forward_pass: bool = True) -> Iterator[str]:
    """``memscore serve --emulate-gpu`` in a subprocess; yields its base URL, stops it by PID."""
    with emulated_servers(workdir, [port], prefill_tps=prefill_tps, slots=slots, forward_pass=forward_pass) as urls:
        yield urls[0]


@contextmanager
def emulated_servers(workdir: Path, ports: list[int], *, prefill_tps: float, slots: int,
                     forward_pass: bool = True) -> Iterator[list[str]]:
    """One ``memscore serve --emulate-gpu`` per port, started side by side; yields their base URLs; stops
    them by PID. Without ``forward_pass`` they answer with stand-in log-probabilities (``--no-forward-pass``)."""
    started: list[tuple[subprocess.Popen[bytes], int, Path]] = []
    try:
        for port in ports:
            log_path = workdir / f"emulated-server-{port}.log"
            with log_path.open("wb") as log:
                started.append((subprocess.Popen(
                    [sys.executable, "-m", "memscore_core.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                     "--emulate-gpu", "--prefill-tps", str(prefill_tps), "--slots", str(slots),
                     "--forward-pass" if forward_pass else "--no-forward-pass"],
                    stdout=log, stderr=subprocess.STDOUT), port, log_path))
        for process, port, log_path in started:
            wait_healthy(f"http://127.0.0.1:{port}/health", process, log_path, timeout=180.0)
        yield [f"http://127.0.0.1:{port}/v1" for _, port, _ in started]
    finally:
        for process, _, _ in started:
            process.terminate()
        for process, _, _ in started:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
