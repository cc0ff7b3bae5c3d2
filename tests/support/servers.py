"""Real servers on loopback for tests: ``memscore serve`` in a subprocess, stopped by its PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from memscore_core.local.loopback import free_port, wait_healthy

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


@contextmanager
def local_server(log_dir: Path, *extra: str, env: dict[str, str] | None = None,
                 timeout: float = 120.0) -> Iterator[str]:
    """``memscore serve`` on a free loopback port; yields its base URL (``http://127.0.0.1:P/v1``)."""
    port = free_port()
    log = log_dir / f"memscore-serve-{port}.log"
    command: Sequence[str] = [sys.executable, "-m", "memscore_core.cli", "serve", "--host", "127.0.0.1",
                              "--port", str(port), *extra]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", process, log, timeout)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop(process)


def metric(base_url: str, name: str) -> float:
    """The sum of a Prometheus counter or gauge over its label sets, read from the server's /metrics."""
    text = httpx.get(base_url.removesuffix("/v1") + "/metrics", timeout=10).text
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith(name) and (line[len(name)] in " {")]
    return sum(values)
