"""The same corpus through ``memscore score`` and through the ``score-conversations`` flow, side by side.

Both run in fresh processes against one loopback server that answers at once (``memscore serve
--no-forward-pass``), each with an empty request cache and store; the flow reports to a real Prefect API
server started for the run. Measured per process: wall time, CPU time (all threads) and the requests
the server answered; the results of both runs must be identical.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import httpx
from pydantic import BaseModel, computed_field

from memscore_core.bench.targets import Target
from memscore_core.embedded.loopback import free_port, wait_healthy
from memscore_core.synth.generator import generate_corpus

FLOW_WALL_VS_CLI = 1.5
FLOW_CPU_MS_PER_REQUEST = 10.0
RUN_FLOW = ("import asyncio, sys; from flows.parameters import ScoringRun; "
            "from flows.score_conversations import score_conversations; "
            "asyncio.run(score_conversations(ScoringRun(source=sys.argv[1], db=sys.argv[2], base_url=sys.argv[3]), "
            "reports_dir=None))")
SCORES = ("SELECT conversation_id, memory_entry_idx, response_entry_idx, divergence, signed, tokens "
          "FROM scores ORDER BY ALL")


class ProcessRun(BaseModel):
    """One scoring process: what it took and what it asked."""

    path: str
    wall_s: float
    cpu_s: float
    requests: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_s / max(1, self.requests)


class OrchestratedReport(BaseModel):
    conversations: int
    cli: ProcessRun
    flow: ProcessRun
    prefect_server_cpu_s: float
    identical_results: bool

    @computed_field  # type: ignore[prop-decorator]
    @property
    def flow_wall_vs_cli(self) -> float:
        return self.flow.wall_s / self.cli.wall_s


def orchestrated_targets(report: OrchestratedReport) -> list[Target]:
    """Issue 11's acceptance: flow wall ≤ 1.5× the CLI's, flow client CPU ≤ 10 ms per request, same results."""
    return [Target(name="flow wall ÷ CLI wall", measured=report.flow_wall_vs_cli, required=FLOW_WALL_VS_CLI,
                   at_most=True),
            Target(name="flow client CPU ms per request", measured=report.flow.cpu_ms_per_request,
                   required=FLOW_CPU_MS_PER_REQUEST, at_most=True),
            Target(name="flow results identical to the CLI's (1 = yes)", measured=float(report.identical_results),
                   required=1.0)]


def run_orchestrated(workdir: Path, *, conversations: int = 200, seed: int = 11) -> OrchestratedReport:
    """Score ``conversations`` synthetic conversations through the CLI, then through the flow."""
    workdir.mkdir(parents=True, exist_ok=True)
    corpus = workdir / "orchestrated-corpus.jsonl"
    corpus.write_text("".join(c.model_dump_json() + "\n" for c in generate_corpus(conversations, seed)))
    with _served(workdir, "instant-server", [sys.executable, "-m", "memscore_core.cli", "serve", "--host",
                                            "127.0.0.1", "--no-forward-pass"], "/health") as (server, _), \
            _served(workdir, "prefect-server", [_prefect(), "server", "start", "--no-ui", "--host", "127.0.0.1"],
                    "/api/health", env=_prefect_env(workdir)) as (prefect, prefect_pid):
        base_url = f"{server}/v1"
        env = {**os.environ, **_prefect_env(workdir), "PREFECT_API_URL": f"{prefect}/api"}
        cli = _measure("cli", base_url, [sys.executable, "-m", "memscore_core.cli", "score", str(corpus),
                                         "--base-url", base_url, "--db", str(workdir / "cli.duckdb")],
                       {**env, "MEMSCORE_REQUEST_CACHE": str(workdir / "cli-cache")})
        server_cpu = _process_cpu_s(prefect_pid)
        flow = _measure("flow", base_url, [sys.executable, "-c", RUN_FLOW, str(corpus),
                                           str(workdir / "flow.duckdb"), base_url],
                        {**env, "MEMSCORE_REQUEST_CACHE": str(workdir / "flow-cache")})
        server_cpu = _process_cpu_s(prefect_pid) - server_cpu
    return OrchestratedReport(conversations=conversations, cli=cli, flow=flow, prefect_server_cpu_s=server_cpu,
                              identical_results=_scores(workdir / "cli.duckdb") == _scores(workdir / "flow.duckdb"))


def _measure(path: str, base_url: str, command: list[str], env: dict[str, str]) -> ProcessRun:
    """Run ``command`` to completion; its wall time, its own CPU time (every thread) and the requests sent."""
    before = _answered(base_url)
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{path} run failed:\n{stderr[-3000:]}")
    return ProcessRun(path=path, wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime,
                      requests=int(_answered(base_url) - before))


def _answered(base_url: str) -> float:
    text = httpx.get(base_url.removesuffix("/v1") + "/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("vllm:request_success_total"))


def _scores(db: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(SCORES).fetchall()


def _process_cpu_s(pid: int) -> float:
    """CPU seconds a running process has used (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _prefect() -> str:
    return str(Path(sys.executable).with_name("prefect"))


def _prefect_env(workdir: Path) -> dict[str, str]:
    home = workdir / "prefect-home"
    return {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false",
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home}/prefect.db"}


@contextmanager
def _served(workdir: Path, name: str, command: list[str], health: str,
            env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """``command`` listening on a free loopback port (``--port`` appended); yields (URL, pid); stops it after."""
    port = free_port()
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([*command, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}{health}", process, log_path, timeout=240.0)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

