"""``memscore models``: the models the embedded server can load, and the ``--model-dir`` option that picks one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from memscore_core.cli.consoles import stdout_console
from memscore_core.embedded.catalog import ModelInfo, catalog, require_model_dir
from memscore_core.settings import Settings

ModelDirOption = Annotated[Path | None, typer.Option(
    help="The embedded model's directory (`memscore models` lists them) \\[default: $MEMSCORE_MODEL_DIR, else "
         "data/models/memscore-tiny].")]


def embedded_model_dir(model_dir: Path | None) -> Path:
    """``--model-dir``, else the configured one; it must hold a model."""
    return require_model_dir(Settings.with_overrides(model_dir=model_dir).model_dir)


def models(
    model_dir: ModelDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list instead of a table.")] = False,
) -> None:
    """The models under data/models/ and the configured one: size on disk, parameters, layers, chat template,
    and which the embedded server loads by default (`make models` installs smollm2-135m-instruct)."""
    rows = catalog(Settings.with_overrides(model_dir=model_dir).model_dir)
    if as_json:
        sys.stdout.write(orjson.dumps([row.model_dump(mode="json") for row in rows]).decode() + "\n")
    else:
        print_models(rows)


def print_models(rows: list[ModelInfo]) -> None:
    """One row per model; the default is marked with ``*``."""
    table = Table(title="Models (* the embedded default)", title_justify="left")
    for name, justify in [("", "left"), ("model", "left"), ("size", "right"), ("parameters", "right"),
                          ("layers × hidden", "right"), ("vocab", "right"), ("chat template", "left")]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row("*" if row.default else "", row.name, f"{row.size_bytes / 1e6:,.1f} MB", f"{row.parameters:,}",
                      f"{row.layers} × {row.hidden_size}", f"{row.vocab_size:,}", row.template.kind())
    stdout_console().print(table)
    for row in rows:
        if row.template.default_system_prompt:
            stdout_console().print(f"{row.name} inserts the system prompt {row.template.default_system_prompt!r} "
                                   f"when a conversation has none.", highlight=False)
