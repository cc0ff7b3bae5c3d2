"""The ``memscore`` command line: each command is one library call plus error mapping."""

from __future__ import annotations

from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.markup import escape

from memscore_core.cli import bench as _bench
from memscore_core.cli import convert as _convert
from memscore_core.cli import downstream as _downstream
from memscore_core.cli import evaluate as _evaluate
from memscore_core.cli import models as _models
from memscore_core.cli import notify as _notify
from memscore_core.cli import query as _query
from memscore_core.cli import score as _score
from memscore_core.cli import serve as _serve
from memscore_core.cli import store as _store
from memscore_core.cli import synth as _synth
from memscore_core.cli import ui as _ui
from memscore_core.cli.consoles import stderr_console
from memscore_core.errors import MemscoreError

app = typer.Typer(name="memscore", no_args_is_help=True, add_completion=False,
                  help="Measure how much each memory in an agent's conversation matters to its answers.")
app.command("score")(_score.score)
app.command("serve")(_serve.serve)
app.command("synth")(_synth.synth)
app.command("schema")(_synth.schema)
app.command("convert")(_convert.convert)
app.command("eval")(_evaluate.eval_command)
app.command("top")(_query.top)
app.command("show")(_query.show)
app.add_typer(_downstream.review, name="review")
app.command("export")(_downstream.export)
app.command("weights")(_downstream.weights)
app.command("report")(_downstream.report)
app.add_typer(_bench.bench, name="bench")
app.command("ui")(_ui.ui)
app.command("models")(_models.models)
app.command("notify")(_notify.notify)
app.add_typer(_store.store_app, name="store")


def main() -> None:
    """Run the command line; memscore's own errors and invalid settings end as one ``error:`` line, exit 1."""
    try:
        app()
    except MemscoreError as exc:
        _fail(str(exc))
    except ValidationError as exc:
        _fail("; ".join(f"invalid {_setting(error['loc'])}: {error['msg']}" for error in exc.errors()))


def _setting(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "input"


def _fail(message: str) -> NoReturn:
    stderr_console().print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise SystemExit(1)
