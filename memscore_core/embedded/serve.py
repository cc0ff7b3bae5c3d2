"""Serve the local model: over HTTP with uvicorn, or in-process through httpx's ASGI transport."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
from starlette.applications import Starlette

from memscore_core.collector import long_lived_objects_frozen
from memscore_core.embedded.app import ServerOptions, build_app
from memscore_core.embedded.model import LocalModel

_MODELS: dict[tuple[Path, int | None, int | None], LocalModel] = {}
_LOADING = threading.Lock()


def load_model(model_dir: Path, threads: int | None = None, lanes: int | None = None) -> LocalModel:
    """The model at ``model_dir``, loaded once per process (``lanes``, ``threads``: see :class:`LocalModel`)."""
    key = (Path(model_dir).resolve(), threads, lanes)
    with _LOADING:
        if key not in _MODELS:
            _MODELS[key] = LocalModel(key[0], threads=threads, lanes=lanes)
        return _MODELS[key]


def embedded_transport(model_dir: Path, threads: int | None = None, options: ServerOptions | None = None,
                       lanes: int | None = None) -> httpx.AsyncBaseTransport:
    """The embedded default: the same app as ``memscore serve``, answered in-process (no port)."""
    return httpx.ASGITransport(app=build_app(load_model(model_dir, threads, lanes), options or ServerOptions()))


def server_app(model_dir: Path, options: ServerOptions, *, threads: int | None = None, lanes: int | None = None,
               prefix_cache: bool = True, served_model_name: str | None = None) -> Starlette:
    model = LocalModel(model_dir, threads=threads, lanes=lanes, prefix_cache=prefix_cache, name=served_model_name)
    return build_app(model, options)


def run_server(model_dir: Path, *, host: str, port: int, options: ServerOptions, threads: int | None = None,
               lanes: int | None = None, prefix_cache: bool = True, served_model_name: str | None = None) -> None:
    """``memscore serve``: block serving HTTP until interrupted.

    The loaded model and libraries are frozen out of the garbage collector's walks: each answer builds a
    few thousand containers, and every collection they set off would otherwise walk that whole heap again.
    """
    import uvicorn

    app = server_app(model_dir, options, threads=threads, lanes=lanes, prefix_cache=prefix_cache,
                     served_model_name=served_model_name)
    with long_lived_objects_frozen():
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
