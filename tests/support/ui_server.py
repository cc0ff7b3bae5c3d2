"""``memscore ui`` as a real subprocess on a free loopback port, stopped by its process group."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from memscore_core.embedded.loopback import free_port
from tests.support.servers import REPO, stop


@dataclass(frozen=True)
class RunningUi:
    url: str
    """Where to reach it (always on 127.0.0.1)."""
    printed: str
    """The URL it printed at start (with ``?token=`` when it requires one)."""
    token: str | None


@contextmanager
def ui_server(db: Path | str, log_dir: Path, *extra: str, host: str = "127.0.0.1",
              env: dict[str, str] | None = None, timeout: float = 60.0) -> Iterator[RunningUi]:
    """``memscore ui --db db --host host`` on a free port, once it answers."""
    port = free_port()
    log = log_dir / f"ui-{port}.log"
    command = [sys.executable, "-m", "memscore_core.cli", "ui", "--db", str(db), "--host", host, "--port", str(port),
               *extra]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
    try:
        printed = _wait(process, log, f"http://127.0.0.1:{port}/static/ui.css", timeout)
        token = re.search(r"token=(\S+)", printed)
        yield RunningUi(url=f"http://127.0.0.1:{port}", printed=printed, token=token.group(1) if token else None)
    finally:
        stop(process)


def _wait(process: subprocess.Popen[bytes], log: Path, probe: str, timeout: float) -> str:
    """The URL the server printed, once ``probe`` answers (any status: a token may be required)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"memscore ui exited with {process.returncode}:\n{log.read_text()}")
        printed = re.search(r"(http://\S+)", log.read_text())
        try:
            if printed and httpx.get(probe, timeout=2).status_code in (200, 401):
                return printed.group(1)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"memscore ui not answering after {timeout} s:\n{log.read_text()}")
