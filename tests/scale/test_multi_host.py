"""memscore as several hosts: a Prefect server and PostgreSQL on one, two model servers, two workers, a controller.

The workers share nothing but the declared shared storage (the corpus, the request cache and the DuckLake data
path, all directories here), the store's PostgreSQL catalog and the network. Mid-run one model server host and
one worker host die (SIGKILL of everything they run). The run must still complete; its tables must equal a
single-process run of the same corpus; and no request may reach a model server after its answer was stored.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from memscore_core.ablation.chunking import DEFAULT_CHUNK_TOKENS
from memscore_core.ablation.requests import plan_exact
from memscore_core.backends.cache import CacheEntries
from memscore_core.embedded.loopback import wait_healthy
from memscore_core.settings import REPO_ROOT
from memscore_core.store import Store
from memscore_core.synth.generator import generate_corpus
from tests.support.hosts import Hosts, hosts
from tests.support.postgres import PostgresServer, postgres_server
from tests.support.prefect_server import PREFECT, prefect, shipped_automation

pytestmark = [pytest.mark.prefect, pytest.mark.timeout(1200)]
CONVERSATIONS = 200
SHARDS = 4
MODEL_PORT, REFERENCE_PORT, PROXY_PORT, PREFECT_PORT = 8000, 8001, 9000, 4200
ZOMBIE_SECONDS = 60  # the shipped 90 s window, shortened: still two missed heartbeats (every 30 s) before a crash
COMPARED = {  # every table's logical content: run ids, times and hosts differ between the two runs
    "conversations": "conversation_id, content_hash, source_file, meta, system_prompt, context",
    "entries": "conversation_id, content_hash, entry_idx, role, memory_key, content, reasoning, tool_call_id",
    "results": "content_hash, model, config_hash, conversation_id, strategy, requests, prompt_tokens, chunks",
    "scores": "content_hash, model, config_hash, conversation_id, memory_key, memory_idx, memory_entry_idx, "
              "column_idx, response_entry_idx, divergence, signed, tokens, method, screened",
    "responses": "content_hash, model, config_hash, conversation_id, column_idx, response_entry_idx, score, drop_all, "
                 "tokens",
}


def started(host: Hosts, name: str, command: list[str], log: Path, env: dict[str, str],
            cwd: Path = REPO_ROOT) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return host.popen(name, command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)


def kill_host(processes: list[subprocess.Popen[bytes]]) -> None:
    """What a host's sudden death does to what it runs: SIGKILL to every process of every session."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def answered(logs: list[Path]) -> int:
    return sum(1 for log in logs if log.exists() for line in log.read_bytes().splitlines()
               if json.loads(line)["answered"] is not None)


def rows(target: str, data_path: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
    store = Store(target, data_path=data_path)
    with store.connect() as con:
        return {table: con.execute(f"SELECT {columns} FROM {table} ORDER BY ALL").fetchall()
                for table, columns in COMPARED.items()}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Every host up: infra (PostgreSQL, Prefect), gpu1/gpu2 (model server behind a recording proxy; gpu1
    also serves the single-process reference run the same stand-in answers without the emulated prefill time),
    w1/w2 (process workers, two flow runs each at most), ctl (where the run is started)."""
    names = ["infra", "gpu1", "gpu2", "w1", "w2", "ctl"]
    with hosts(names) as net:
        if not net.isolated:
            pytest.skip("needs network namespaces (root and iproute2) to stand up several hosts")
        infra = net.address("infra")
        shared = tmp_path / "shared"
        for folder in ("corpus", "requests", "lake"):
            (shared / folder).mkdir(parents=True)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MEMSCORE_"))}
        prefect_env = {**base_env, "PREFECT_API_URL": f"http://{infra}:{PREFECT_PORT}/api",
                       "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false"}
        processes: dict[str, list[subprocess.Popen[bytes]]] = {name: [] for name in names}
        pg_root = Path(tempfile.mkdtemp(prefix="memscore-postgres-"))  # the postgres user may enter it
        with postgres_server(pg_root, host=infra, launcher=net.launcher("infra")) as pg:
            try:
                home = tmp_path / "infra-prefect"
                home.mkdir()
                server = started(net, "infra", [PREFECT, "server", "start", "--no-ui", "--host", infra, "--port",
                                                str(PREFECT_PORT)], home / "server.log",
                                 {**prefect_env, "PREFECT_HOME": str(home)})
                processes["infra"].append(server)
                for gpu in ("gpu1", "gpu2"):
                    model_env = {**base_env, "MEMSCORE_REQUEST_CACHE": ""}
                    processes[gpu].append(started(net, gpu, [
                        sys.executable, "-m", "memscore_core.cli", "serve", "--host", "127.0.0.1", "--port",
                        str(MODEL_PORT), "--emulate-gpu", "--prefill-tps", "2000", "--slots", "8",
                        "--no-forward-pass"], tmp_path / f"{gpu}-server.log", model_env))
                    processes[gpu].append(started(net, gpu, [
                        sys.executable, "-m", "tests.support.recording_proxy", "--listen", f"0.0.0.0:{PROXY_PORT}",
                        "--upstream", f"http://127.0.0.1:{MODEL_PORT}", "--log", str(tmp_path / f"{gpu}.requests")],
                        tmp_path / f"{gpu}-proxy.log", base_env))
                processes["gpu1"].append(started(net, "gpu1", [
                    sys.executable, "-m", "memscore_core.cli", "serve", "--host", "0.0.0.0", "--port",
                    str(REFERENCE_PORT), "--no-forward-pass"], tmp_path / "reference-server.log",
                    {**base_env, "MEMSCORE_REQUEST_CACHE": ""}))
                wait_healthy(f"http://{infra}:{PREFECT_PORT}/api/health", server, home / "server.log", 240)
                for gpu in ("gpu1", "gpu2"):
                    wait_healthy(f"http://{net.address(gpu)}:{PROXY_PORT}/health", processes[gpu][0],
                                 tmp_path / f"{gpu}-server.log", 240)
                wait_healthy(f"http://{net.address('gpu1')}:{REFERENCE_PORT}/health", processes["gpu1"][-1],
                             tmp_path / "reference-server.log", 240)
                deploy_env = {**prefect_env, "PREFECT_HOME": str(tmp_path / "deployer")}
                prefect(deploy_env, "work-pool", "create", "memscore-local", "--type", "process")
                prefect(deploy_env, "--no-prompt", "deploy", "--all")
                automations = tmp_path / "automations.yaml"
                zombie = shipped_automation()
                zombie["trigger"]["within"] = ZOMBIE_SECONDS
                automations.write_text(yaml.safe_dump([zombie]))
                prefect(deploy_env, "automation", "create", "--from-file", str(automations))
                worker_env = {**prefect_env, "MEMSCORE_REQUEST_CACHE": str(shared / "requests"),
                              "MEMSCORE_DATA_PATH": str(shared / "lake")}
                for worker in ("w1", "w2"):
                    own = tmp_path / worker
                    own.mkdir()
                    processes[worker].append(started(
                        net, worker, [PREFECT, "worker", "start", "--pool", "memscore-local", "--limit", "2"],
                        own / "worker.log", {**worker_env, "PREFECT_HOME": str(own / "prefect-home")}, cwd=own))
                yield {"net": net, "pg": pg, "shared": shared, "processes": processes, "tmp": tmp_path,
                       "prefect_env": prefect_env, "worker_env": worker_env}
            finally:
                for group in processes.values():
                    kill_host(group)


def test_two_workers_and_two_model_servers_losing_one_of_each_store_what_one_process_stores(
        cluster: dict[str, Any]) -> None:
    net: Hosts = cluster["net"]
    pg: PostgresServer = cluster["pg"]
    shared: Path = cluster["shared"]
    tmp: Path = cluster["tmp"]
    corpus = list(generate_corpus(CONVERSATIONS, seed=2024))
    source = shared / "corpus" / "corpus.jsonl"
    source.write_text("".join(c.model_dump_json() + "\n" for c in corpus))
    planned = sum(len(plan_exact(c, DEFAULT_CHUNK_TOKENS).requests) for c in corpus)
    db = f"ducklake:postgres:{pg.create_database('memscore')}"
    fleet = ",".join(f"http://{net.address(gpu)}:{PROXY_PORT}/v1" for gpu in ("gpu1", "gpu2"))
    logs = [tmp / "gpu1.requests", tmp / "gpu2.requests"]
    run = ("import asyncio, sys; from flows.parameters import ScoringRun; from flows.score_corpus import score_corpus; "
           "asyncio.run(score_corpus(ScoringRun(source=sys.argv[1], db=sys.argv[2], base_url=sys.argv[3]), "
           f"shards={SHARDS}, poll_seconds=2))")
    parent = started(net, "ctl", [sys.executable, "-c", run, str(source), db, fleet], tmp / "parent.log",
                     {**cluster["worker_env"], "PREFECT_HOME": str(tmp / "ctl-prefect")})

    wait_until(lambda: answered(logs) >= planned * 0.25, parent, tmp / "parent.log")
    net.kill("gpu2")
    wait_until(lambda: answered(logs) >= planned * 0.4 and len(net.pids("w1")) > 1, parent, tmp / "parent.log")
    net.kill("w1")
    exit_code = wait_for_exit(parent, tmp / "parent.log", cluster["prefect_env"]["PREFECT_API_URL"], 900)
    assert exit_code == 0, (tmp / "parent.log").read_text()[-4000:]

    reference = tmp / "single.duckdb"  # the same stand-in answers, without the emulated prefill time
    single = subprocess.run([*net.launcher("gpu1"), sys.executable, "-m", "memscore_core.cli", "score", str(source),
                             "--base-url", f"http://127.0.0.1:{REFERENCE_PORT}/v1", "--db", str(reference)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "MEMSCORE_REQUEST_CACHE": str(tmp / "single-cache")})
    assert single.returncode == 0, single.stderr[-3000:]
    lake, local = rows(db, str(shared / "lake")), rows(str(reference))
    for table in COMPARED:
        assert len(lake[table]) == len(set(lake[table])), f"{table} holds a row twice"
        assert len(lake[table]) == len(local[table]), table
        for got, want in zip(lake[table], local[table], strict=True):
            assert same_row(got, want), (table, got, want)
    assert not resent_after_stored(logs, shared / "requests")
    assert answered(logs[1:]) > 0, "gpu2 answered nothing before it died: the fleet never used it"
    crashed = crashed_shards(cluster["prefect_env"]["PREFECT_API_URL"])
    assert crashed, "no shard run crashed with its worker: the kill missed"


def wait_for_exit(parent: subprocess.Popen[bytes], log: Path, api: str, timeout: float) -> int:
    """The parent run's exit code; if it has not exited by ``timeout``, fail with its log and every flow run's state."""
    try:
        return parent.wait(timeout)
    except subprocess.TimeoutExpired:
        runs = httpx.post(f"{api}/flow_runs/filter", json={}, timeout=30).json()
        states = "\n".join(f"{run['name']}: {run['state_name']} {run['tags']}" for run in runs)
        pytest.fail(f"the run did not finish in {timeout} s; flow runs:\n{states}\n{log.read_text()[-3000:]}")


def crashed_shards(api: str) -> list[str]:
    """Names of the flow runs the server marked Crashed (the shards that died with w1)."""
    body = {"flow_runs": {"state": {"type": {"any_": ["CRASHED"]}}}}
    return [run["name"] for run in httpx.post(f"{api}/flow_runs/filter", json=body, timeout=30).json()]


def same_row(got: tuple[Any, ...], want: tuple[Any, ...]) -> bool:
    """Equal field for field, numbers to 1e-9."""
    return len(got) == len(want) and all(
        (a is None and b is None) or (isinstance(a, float) and isinstance(b, float) and abs(a - b) <= 1e-9) or a == b
        for a, b in zip(got, want, strict=True))


def wait_until(condition: Any, parent: subprocess.Popen[bytes], log: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert parent.poll() is None, f"the run ended before the faults:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, "the run did not get far enough"
        time.sleep(0.2)


def resent_after_stored(logs: list[Path], cache: Path) -> list[str]:
    """Request keys a model server received after the answer to that request was in the shared cache."""
    entries = CacheEntries(str(cache))
    late = []
    for log in logs:
        if not log.exists():
            continue
        for line in log.read_bytes().splitlines():
            record = json.loads(line)
            if record["answered"] is not None:
                continue
            path = Path(entries.path(record["key"]))
            if path.exists() and path.stat().st_mtime < record["received"]:
                late.append(record["key"])
    return late

