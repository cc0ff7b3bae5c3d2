"""``memscore serve``: the embedded model behind vLLM's HTTP API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from memscore_core.settings import DEFAULT_MODEL_DIR


def serve(
    model_dir: Annotated[Path, typer.Option(help="Model directory.")] = DEFAULT_MODEL_DIR,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    api_key: Annotated[str | None, typer.Option(help="Require this bearer key (default: $MEMSCORE_SERVE_API_KEY).")] = None,
    max_model_len: Annotated[int, typer.Option(help="Longest prompt + completion in tokens.")] = 4096,
) -> None:
    """Serve prompt log-probabilities like vLLM (/v1/chat/completions, /v1/completions, /tokenize, ...)."""
    from memscore_core.local.serve import run_server

    run_server(model_dir, host=host, port=port, api_key=api_key or os.environ.get("MEMSCORE_SERVE_API_KEY"),
               max_model_len=max_model_len)
