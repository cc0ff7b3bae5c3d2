"""Real servers on loopback for tests: ``memscore serve`` in a subprocess, stopped by its PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Poll ``url`` until it answers 200; fail with the log's tail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not healthy after {timeout} s:\n{log.read_text()[-3000:]}")


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
