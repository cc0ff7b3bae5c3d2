"""``export-training-data``: candidates from the latest scores → SFT / DPO / Parquet files and a manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.cache_policies import NO_CACHE

from memscore_core.backends.factory import open_backend
from memscore_core.downstream.export import DEFAULT_THRESHOLD, ExportOptions, export_dataset
from memscore_core.settings import Settings
from memscore_core.store import Store


@task(name="export-dataset", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
async def write_export(db: str, options: ExportOptions, out: str, base_url: str | None) -> dict[str, Any]:
    """Select, build and write the examples; register the export in the store."""
    backend = open_backend(Settings.with_overrides(base_url=base_url)) if options.format == "dpo" else None
    try:
        directory, manifest = await export_dataset(Store(db), options, Path(out), backend)
    finally:
        if backend is not None:
            await backend.aclose()
    return {"directory": str(directory), **manifest.model_dump()}


@flow(name="export-training-data", flow_run_name="export-{fmt}")
async def export_training_data(db: str = "data/memscore.duckdb", out: str = "data/exports", fmt: str = "sft",
                               threshold: float = DEFAULT_THRESHOLD, keep_memories: bool = False,
                               approved_only: bool = False, auto_approve: float | None = None,
                               name: str | None = None, base_url: str | None = None) -> dict[str, Any]:
    """Export fine-tuning data from the responses that depend most on memories."""
    options = ExportOptions(format=fmt, threshold=threshold, keep_memories=keep_memories,  # type: ignore[arg-type]
                            approved_only=approved_only, auto_approve=auto_approve, name=name)
    manifest = await write_export(db, options, out, base_url)
    files = "\n".join(f"- `{file}` sha256 `{digest[:16]}…`" for file, digest in manifest["files"].items())
    await acreate_markdown_artifact(f"## Export `{manifest['name']}`\n\n{manifest['n_examples']} examples in "
                             f"`{manifest['directory']}`\n\n{files}\n", key="export-training-data")
    return manifest
