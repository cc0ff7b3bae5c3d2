"""The ``memscore`` command line: each command is one library call plus error mapping."""

from __future__ import annotations

import typer

from memscore_core.cli import bench as _bench
from memscore_core.cli import downstream as _downstream
from memscore_core.cli import evaluate as _evaluate
from memscore_core.cli import query as _query
from memscore_core.cli import score as _score
from memscore_core.cli import serve as _serve
from memscore_core.cli import synth as _synth

app = typer.Typer(name="memscore", no_args_is_help=True, add_completion=False,
                  help="Measure how much each memory in an agent's conversation matters to its answers.")
app.command("score")(_score.score)
app.command("serve")(_serve.serve)
app.command("synth")(_synth.synth)
app.command("schema")(_synth.schema)
app.command("eval")(_evaluate.eval_command)
app.command("top")(_query.top)
app.command("show")(_query.show)
app.add_typer(_downstream.review, name="review")
app.command("export")(_downstream.export)
app.command("weights")(_downstream.weights)
app.command("report")(_downstream.report)
app.command("bench")(_bench.bench)


def main() -> None:
    app()
