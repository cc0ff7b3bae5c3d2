"""A real ``prefect server start`` with memscore's work pool and deployments, and its CLI, for tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from memscore_core.embedded.loopback import free_port, wait_healthy
from tests.support.servers import REPO, stop

PREFECT = str(Path(sys.executable).with_name("prefect"))


def shipped_automation() -> dict[str, Any]:
    """The zombie automation as flows/automations.yaml declares it."""
    (automation,) = yaml.safe_load((REPO / "flows" / "automations.yaml").read_text())
    return dict(automation)


@contextmanager
def prefect_server(home: Path, *, host: str = "127.0.0.1") -> Iterator[dict[str, str]]:
    """A Prefect API server with its own home, the memscore-local pool and every deployment of prefect.yaml;
    yields the environment that points at it."""
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_API_URL": f"http://{host}:{port}/api",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false"}
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen([PREFECT, "server", "start", "--no-ui", "--host", host, "--port", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        wait_healthy(f"http://{host}:{port}/api/health", process, log, timeout=180)
        prefect(env, "work-pool", "create", "memscore-local", "--type", "process")
        prefect(env, "--no-prompt", "deploy", "--all")
        yield env
    finally:
        stop(process)


def prefect(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """Run the ``prefect`` CLI from the repository root; fail the test with its output unless it exits 0."""
    done = subprocess.run([PREFECT, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def start_worker(env: dict[str, str], log: Path, cwd: Path = REPO) -> subprocess.Popen[bytes]:
    """A process worker on the memscore-local pool, in its own session (stop it with ``stop``)."""
    with log.open("wb") as out:
        return subprocess.Popen([PREFECT, "worker", "start", "--pool", "memscore-local"], cwd=cwd, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


