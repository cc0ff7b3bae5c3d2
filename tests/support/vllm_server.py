"""The real vLLM CPU server (from .venv-vllm, installed by scripts/install_vllm.sh) on a loopback port."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from memscore_core.embedded.loopback import free_port, wait_healthy
from tests.support.servers import REPO, stop

VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"


def vllm_installed() -> bool:
    return VLLM_PYTHON.exists() and (REPO / ".venv-vllm" / ".memscore-vllm-stamp").exists()


@contextmanager
def vllm_server(model_dir: Path, log_dir: Path, *, served_name: str = "memscore-tiny",
                timeout: float = 300.0) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start vLLM's OpenAI server over ``model_dir``; yields (base URL, process); stops it by PID."""
    port = free_port()
    cache = REPO / ".memscore" / "vllm-cache"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CACHE_ROOT": str(cache / "vllm"),
           "TORCHINDUCTOR_CACHE_DIR": str(cache / "inductor"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "OMP_NUM_THREADS": "1"}
    command = [str(VLLM_PYTHON), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
               "--served-model-name", served_name, "--host", "127.0.0.1", "--port", str(port),
               "--dtype", "float32", "--max-model-len", "4096", "--max-logprobs", "20",
               "--enable-prompt-tokens-details", "--enforce-eager", "--no-enable-prefix-caching"]
    log = log_dir / f"vllm-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                                   start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", process, log, timeout)
        yield f"http://127.0.0.1:{port}/v1", process
    finally:
        stop(process, grace=20)
        assert process.poll() is not None, f"vLLM (pid {process.pid}) is still running"
