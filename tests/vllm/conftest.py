"""The real vLLM tier: one server per session; skipped when vLLM is not installed, unless required."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from memscore_core.settings import DEFAULT_MODEL_DIR
from tests.support.vllm_server import vllm_installed, vllm_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/vllm/" in str(item.fspath):
            item.add_marker(pytest.mark.vllm)


@pytest.fixture(scope="session")
def vllm_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    if not vllm_installed():
        if os.environ.get("MEMSCORE_REQUIRE_VLLM") == "1":
            pytest.fail("vLLM is required (MEMSCORE_REQUIRE_VLLM=1) but .venv-vllm is missing: "
                        "run `bash scripts/install_vllm.sh`")
        pytest.skip("vLLM is not installed (bash scripts/install_vllm.sh)")
    with vllm_server(DEFAULT_MODEL_DIR, tmp_path_factory.mktemp("vllm")) as running:
        yield running


@pytest.fixture(scope="session")
def vllm_url(vllm_process: tuple[str, subprocess.Popen[bytes]]) -> str:
    return vllm_process[0]
