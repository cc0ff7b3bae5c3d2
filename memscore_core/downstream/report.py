"""One conversation's scores as a self-contained HTML page (or a PNG): heatmap, importance bars, responses."""

from __future__ import annotations

import base64
import html
import io
import json
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from memscore_core.store import Store, StoredResult
from memscore_core.store.records import EXTRA_SEED_COLUMN

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SCREENED_HATCH = "///"
"""How the heatmap marks a screened cell (an estimate, not exact)."""


def run_config(store: Store, result: StoredResult) -> dict[str, Any] | None:
    """The configuration recorded with the scoring run that wrote ``result``."""
    run = store.run(result.run_id)
    return None if run is None else run.config


def matrix_array(result: StoredResult) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The memories × responses matrix with unscored cells as NaN; a matrix of another shape is an error."""
    shape = (len(result.memory_keys), len(result.response_entry_indices))
    rows = [[np.nan if v is None else v for v in row] for row in result.matrix]
    if len(rows) != shape[0] or any(len(row) != shape[1] for row in rows):
        raise ValueError(f"{result.conversation_id}: the matrix is not {shape[0]} memories × {shape[1]} responses")
    return np.array(rows, dtype=np.float64).reshape(shape)


def screened_cells(result: StoredResult) -> list[tuple[int, int]]:
    """(row, column) of every screened cell: an estimate where the exact cell is NULL."""
    return [(m, j) for m, row in enumerate(result.matrix) for j in range(len(row))
            if result.screened_cell(m, j) is not None]


def pyplot() -> ModuleType:
    """matplotlib's pyplot on the Agg backend, imported when a figure is first drawn (the import takes ~0.6 s,
    which every command that draws nothing would pay)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib.pyplot


def figure(result: StoredResult) -> Figure:
    """Heatmap of exact divergence with screened cells hatched (left) and memory importance bars (right)."""
    from matplotlib.patches import Rectangle

    plt = pyplot()
    matrix = matrix_array(result)
    rows, cols = matrix.shape
    fig, (heat, bars) = plt.subplots(1, 2, figsize=(4 + 0.45 * cols + 4, 1.5 + 0.4 * max(rows, 1)),
                                     gridspec_kw={"width_ratios": [max(cols, 1), 4]}, layout="constrained")
    image = heat.imshow(np.ma.masked_invalid(matrix) if rows else np.zeros((1, max(cols, 1))), cmap="magma_r",
                        aspect="auto", interpolation="nearest")
    heat.set_xticks(range(cols), result.column_labels(), rotation=90)
    heat.set_yticks(range(rows), result.memory_keys)
    heat.set_xlabel("response (entry index)")
    screened = screened_cells(result)
    for m, j in screened:
        heat.add_patch(Rectangle((j - 0.5, m - 0.5), 1, 1, fill=False, hatch=SCREENED_HATCH, edgecolor="#888888",
                                 linewidth=0))
    heat.set_title("divergence (nats) when the memory is removed" + ("; hatched: screened" if screened else ""))
    fig.colorbar(image, ax=heat, shrink=0.8)
    bars.barh(range(rows), result.memory_weights, color="#b5446e")
    bars.set_yticks(range(rows), [""] * rows)
    bars.invert_yaxis()
    bars.set_title("importance (exact cells)")
    return fig


def png_bytes(fig: Figure) -> bytes:
    """``fig`` as PNG; the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    pyplot().close(fig)
    return buffer.getvalue()


def render_html(result: StoredResult, *, config: dict[str, Any] | None = None, top: int = 3) -> str:
    """A single offline HTML file: no scripts, no external resources; ``config`` is the scoring run's."""
    image = base64.b64encode(png_bytes(figure(result))).decode()
    screened = screened_cells(result)
    items = []
    for j, (idx, label) in enumerate(zip(result.response_entry_indices, result.column_labels(), strict=True)):
        column = sorted(((key, row[j]) for key, row in zip(result.memory_keys, result.matrix, strict=True)
                         if row[j] is not None and row[j] > 0.01), key=lambda kv: -kv[1])[:top]  # type: ignore
        memories = ", ".join(f"<code>{html.escape(k)}</code> {v:.2f}" for k, v in column) or "no memory"
        entry = result.entry(idx)
        text = html.escape(entry.text() if entry else EXTRA_SEED_COLUMN)
        notes = "".join(f" · {note}" for note in _response_notes(result, screened, j))
        items.append(f'<li data-response="{label.removeprefix("r")}"><p>{text}</p>'
                     f'<p class="top">← {memories}{notes}</p></li>')
    return _PAGE.format(title=html.escape(result.conversation_id), model=html.escape(result.model),
                        strategy=html.escape(result.strategy), config_hash=html.escape(result.config_hash),
                        config=html.escape(_config_json(config)),
                        scored=result.scored_at.strftime("%Y-%m-%d %H:%M:%S %Z"), requests=result.requests,
                        tokens=result.prompt_tokens, rows=len(result.memory_keys),
                        cols=len(result.response_entry_indices), image=image, items="\n".join(items),
                        screening=_screening(result, screened))


def _response_notes(result: StoredResult, screened: list[tuple[int, int]], column: int) -> list[str]:
    """What a response's line says besides its exact top memories: its screened cells and its fit."""
    notes = []
    count = sum(1 for _, j in screened if j == column)
    if count:
        notes.append(f"{count} cells screened")
    if result.fit_r2 is not None and result.fit_r2[column] is not None:
        notes.append(f"fit R² {result.fit_r2[column]:.2f}")
    return notes


def _screening(result: StoredResult, screened: list[tuple[int, int]]) -> str:
    """The noise floor, how many cells are screened estimates, and where (each memory's screened responses)."""
    parts = []
    if result.noise_floor is not None:
        method = result.noise_floor_method
        how = "not recorded" if method is None else html.escape(
            json.dumps(method.model_dump(mode="json", exclude_none=True), sort_keys=True))
        parts.append(f'<p id="noise-floor">noise floor {result.noise_floor:.3f} nats · <code>{how}</code></p>')
    exact, count = result.cell_counts()
    parts.append(f'<p id="screening" data-exact="{exact}" data-screened="{count}">{count} of {exact + count} '
                 f'cells are screened estimates, not exact{" (hatched in the heatmap)" if count else ""}; '
                 "importance sums exact cells only.</p>")
    if not count:
        return "\n".join(parts)
    labels = result.column_labels()
    rows = []
    for m, key in enumerate(result.memory_keys):
        columns = [j for row, j in screened if row == m]
        if columns:
            rows.append(f"<tr><td><code>{html.escape(key)}</code></td><td>{len(columns)}</td>"
                        f"<td>{', '.join(labels[j] for j in columns)}</td></tr>")
    parts.append('<table id="screened"><tr><th>memory</th><th>screened cells</th><th>responses</th></tr>\n'
                 + "\n".join(rows) + "\n</table>")
    return "\n".join(parts)


def _config_json(config: dict[str, Any] | None) -> str:
    return "not recorded" if config is None else json.dumps(config, indent=2, sort_keys=True)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>memscore: {title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;color:#222}}
img{{max-width:100%}} pre{{background:#f4f4f4;padding:.5em}} .top{{color:#666;font-size:.9em}}
li{{margin-bottom:.8em}} td,th{{text-align:left;padding:0 .6em}}</style></head>
<body><h1>memscore: {title}</h1>
<p>model <b>{model}</b> · strategy {strategy} · scored {scored} · {requests} requests,
{tokens} prompt tokens</p>
<p>scoring configuration (hash <code>{config_hash}</code>):</p>
<pre id="config">{config}</pre>
{screening}
<img id="heatmap" alt="memories × responses heatmap" data-rows="{rows}" data-cols="{cols}"
 src="data:image/png;base64,{image}">
<h2>Responses and their top memories</h2>
<ol>
{items}
</ol></body></html>
"""
