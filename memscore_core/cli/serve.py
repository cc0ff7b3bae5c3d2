"""``memscore serve``: the embedded model behind vLLM's HTTP API."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from memscore_core.cli.models import ModelDirOption, embedded_model_dir
from memscore_core.settings import Settings


def serve(
    model_dir: ModelDirOption = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    api_key: Annotated[str | None, typer.Option(help="Require this bearer key \\[default: $MEMSCORE_SERVE_API_KEY].")]
    = None,
    max_model_len: Annotated[int, typer.Option(help="Longest prompt + completion in tokens.")] = 4096,
    max_logprobs: Annotated[int, typer.Option(help="Largest prompt_logprobs a request may ask for.")] = 20,
    served_model_name: Annotated[str | None, typer.Option(help="Model name \\[default: the directory name].")]
    = None,
    threads: Annotated[int | None, typer.Option(min=1, help="Torch threads per lane \\[default: one with several "
                                                "lanes; else every core, or $OMP_NUM_THREADS; one for a tiny "
                                                "model].")] = None,
    lanes: Annotated[int | None, typer.Option(min=1, help="Requests computed at once, sharing the prefix cache "
                                              "\\[default: $MEMSCORE_LANES, else the usable cores ÷ threads; one "
                                              "for a tiny model].")] = None,
    prefix_cache: Annotated[bool, typer.Option(help="Reuse the KV cache of shared prompt prefixes.")] = True,
    emulate_gpu: Annotated[bool, typer.Option(help="Benchmarks: hold each request prompt_tokens/T seconds.")]
    = False,
    prefill_tps: Annotated[float, typer.Option(help="Emulated prefill speed T (tokens per second).")] = 4000.0,
    slots: Annotated[int, typer.Option(help="Emulated batch slots (requests in flight at most).")] = 8,
    forward_pass: Annotated[bool, typer.Option(help="Run the model; --no-forward-pass answers with stand-in "
                                               "log-probabilities (benchmarks of many emulated servers).")] = True,
    scored_roles: Annotated[bool, typer.Option(help="Compute prompt log-probs only in the messages a client asks "
                                               "for (memscore's memscore_scored_roles field); "
                                               "--no-scored-roles: every position, as vLLM.")] = True,
) -> None:
    """Serve prompt log-probabilities like vLLM (/v1/chat/completions, /v1/completions, /tokenize, ...)."""
    from memscore_core.embedded.app import ServerOptions
    from memscore_core.embedded.serve import run_server

    options = ServerOptions(api_key=api_key or os.environ.get("MEMSCORE_SERVE_API_KEY"),
                            max_model_len=max_model_len, max_logprobs=max_logprobs, emulate_gpu=emulate_gpu,
                            prefill_tps=prefill_tps, slots=slots, forward_pass=forward_pass,
                            scored_roles=scored_roles)
    settings = Settings.with_overrides(lanes=lanes, torch_threads=threads)
    run_server(embedded_model_dir(model_dir), host=host, port=port, options=options, threads=settings.torch_threads,
               lanes=settings.lanes, prefix_cache=prefix_cache, served_model_name=served_model_name)
