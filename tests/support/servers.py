"""Real servers on loopback for tests: ``memscore serve`` in a subprocess, stopped by its PID."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from memscore_core.embedded.loopback import free_port, wait_healthy

REPO = Path(__file__).resolve().parents[2]


def stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Terminate the server's process group, then kill it after ``grace`` seconds."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def kill_tree(pid: int) -> None:
    """What a host's sudden death does to a process and everything it started: SIGKILL, whatever their sessions."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    doomed, queue = [], [pid]
    while queue:
        doomed.append(queue.pop())
        queue.extend(children.get(doomed[-1], []))
    for victim in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


@dataclass(frozen=True)
class RunningServer:
    """A ``memscore serve`` process and where it answers."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def start_server(log_dir: Path, *extra: str, env: dict[str, str] | None = None,
                 port: int | None = None) -> RunningServer:
    """Start ``memscore serve`` on ``port`` (default: a free one) in its own process group; do not wait."""
    port = port or free_port()
    log = log_dir / f"memscore-serve-{port}.log"
    command: Sequence[str] = [sys.executable, "-m", "memscore_core.cli", "serve", "--host", "127.0.0.1",
                              "--port", str(port), *extra]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
    return RunningServer(process, port, log)


@contextmanager
def local_servers(log_dir: Path, count: int, *extra: str, timeout: float = 180.0) -> Iterator[list[RunningServer]]:
    """``count`` ``memscore serve`` processes started side by side (they load at once); stopped on exit."""
    servers = [start_server(log_dir, *extra) for _ in range(count)]
    try:
        for server in servers:
            wait_healthy(f"http://127.0.0.1:{server.port}/health", server.process, server.log, timeout)
        yield servers
    finally:
        for server in servers:
            stop(server.process)


@contextmanager
def local_server(log_dir: Path, *extra: str, env: dict[str, str] | None = None,
                 timeout: float = 120.0) -> Iterator[str]:
    """``memscore serve`` on a free loopback port; yields its base URL (``http://127.0.0.1:P/v1``)."""
    server = start_server(log_dir, *extra, env=env)
    try:
        wait_healthy(f"http://127.0.0.1:{server.port}/health", server.process, server.log, timeout)
        yield server.url
    finally:
        stop(server.process)


def metric(base_url: str, name: str) -> float:
    """The sum of a Prometheus counter or gauge over its label sets, read from the server's /metrics."""
    text = httpx.get(base_url.removesuffix("/v1") + "/metrics", timeout=10).text
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith(name) and (line[len(name)] in " {")]
    return sum(values)
