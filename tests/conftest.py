"""Suite-wide isolation: Prefect and memscore state live in a temporary home, never the user's."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

_HOME = Path(tempfile.mkdtemp(prefix="memscore-tests-"))
os.environ["PREFECT_HOME"] = str(_HOME / "prefect")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] = str(_HOME / "prefect-results")
os.environ["MEMSCORE_REQUEST_CACHE"] = str(_HOME / "request-cache")
os.environ["MEMSCORE_DB"] = str(_HOME / "memscore.duckdb")
os.environ.setdefault("OMP_NUM_THREADS", "1")


SHARED_SERVER_GROUPS = {"scale": "multi-host", "flows/test_deployment.py": "prefect-server",
                        "flows/test_score_corpus.py": "prefect-server", "flows/test_zombie_shards.py": "prefect-server",
                        "flows/test_on_arrival.py": "prefect-server",
                        "vllm": "vllm"}
"""Tests (by directory or file) that share a costly session server run on one xdist worker per group (``make
test`` runs ``-n 2 --dist loadscope --no-loadscope-reorder`` with :class:`SharedServerScheduling`): the six-host
run, the Prefect API server with memscore's deployments, the real vLLM. Longest first, so the other tests fill
the other worker around them. Every other test runs with the rest of its module, so a module's fixtures are set
up once."""


def scheduling_unit(nodeid: str) -> str:
    """What a test is scheduled with: its shared server's group, else its module."""
    module = nodeid.split("::")[0]
    parts = module.split("/")
    return SHARED_SERVER_GROUPS.get("/".join(parts[-2:])) or SHARED_SERVER_GROUPS.get(parts[-2]) or module


class SharedServerScheduling(LoadScopeScheduling):
    """pytest-xdist's scope scheduling with :func:`scheduling_unit` as the scope (its ``loadgroup`` marks have
    no effect on pytest 9, which no longer reads the node id xdist rewrites)."""

    def _split_scope(self, nodeid: str) -> str:
        return scheduling_unit(nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
    """:class:`SharedServerScheduling` for ``--dist loadscope``; xdist's own scheduler for any other mode."""
    return SharedServerScheduling(config, log) if config.getvalue("dist") == "loadscope" else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    order = list(SHARED_SERVER_GROUPS.values())
    items.sort(key=lambda item: order.index(unit) if (unit := scheduling_unit(item.nodeid)) in order else len(order))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``memscore serve`` over the embedded model on a loopback port, for the whole session."""
    from tests.support.servers import local_server

    with local_server(tmp_path_factory.mktemp("server")) as base_url:
        yield base_url
