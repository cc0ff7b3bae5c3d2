"""One conversation's scores as a self-contained HTML page (or a PNG): heatmap, importance bars, responses."""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from memscore_core.store import Store, StoredResult  # noqa: E402
from memscore_core.store.records import EXTRA_SEED_COLUMN  # noqa: E402


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


def figure(result: StoredResult) -> Figure:
    """Heatmap of divergence (left) and memory importance bars (right)."""
    matrix = matrix_array(result)
    rows, cols = matrix.shape
    fig, (heat, bars) = plt.subplots(1, 2, figsize=(4 + 0.45 * cols + 4, 1.5 + 0.4 * max(rows, 1)),
                                     gridspec_kw={"width_ratios": [max(cols, 1), 4]}, layout="constrained")
    image = heat.imshow(np.ma.masked_invalid(matrix) if rows else np.zeros((1, max(cols, 1))), cmap="magma_r",
                        aspect="auto", interpolation="nearest")
    heat.set_xticks(range(cols), result.column_labels(), rotation=90)
    heat.set_yticks(range(rows), result.memory_keys)
    heat.set_xlabel("response (entry index)")
    heat.set_title("divergence (nats) when the memory is removed")
    fig.colorbar(image, ax=heat, shrink=0.8)
    bars.barh(range(rows), result.memory_weights, color="#b5446e")
    bars.set_yticks(range(rows), [""] * rows)
    bars.invert_yaxis()
    bars.set_title("importance (row sum)")
    return fig


def png_bytes(fig: Figure) -> bytes:
    """``fig`` as PNG; the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def render_html(result: StoredResult, *, config: dict[str, Any] | None = None, top: int = 3) -> str:
    """A single offline HTML file: no scripts, no external resources; ``config`` is the scoring run's."""
    image = base64.b64encode(png_bytes(figure(result))).decode()
    items = []
    for j, (idx, label) in enumerate(zip(result.response_entry_indices, result.column_labels(), strict=True)):
        column = sorted(((key, row[j]) for key, row in zip(result.memory_keys, result.matrix, strict=True)
                         if row[j] is not None and row[j] > 0.01), key=lambda kv: -kv[1])[:top]  # type: ignore
        memories = ", ".join(f"<code>{html.escape(k)}</code> {v:.2f}" for k, v in column) or "no memory"
        entry = result.entry(idx)
        text = html.escape(entry.text() if entry else EXTRA_SEED_COLUMN)
        items.append(f'<li data-response="{label.removeprefix("r")}"><p>{text}</p>'
                     f'<p class="top">← {memories}</p></li>')
    return _PAGE.format(title=html.escape(result.conversation_id), model=html.escape(result.model),
                        strategy=html.escape(result.strategy), config_hash=html.escape(result.config_hash),
                        config=html.escape(_config_json(config)),
                        scored=result.scored_at.strftime("%Y-%m-%d %H:%M:%S %Z"), requests=result.requests,
                        tokens=result.prompt_tokens, rows=len(result.memory_keys),
                        cols=len(result.response_entry_indices), image=image, items="\n".join(items))


def _config_json(config: dict[str, Any] | None) -> str:
    return "not recorded" if config is None else json.dumps(config, indent=2, sort_keys=True)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>memscore: {title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;color:#222}}
img{{max-width:100%}} pre{{background:#f4f4f4;padding:.5em}} .top{{color:#666;font-size:.9em}}
li{{margin-bottom:.8em}}</style></head>
<body><h1>memscore: {title}</h1>
<p>model <b>{model}</b> · strategy {strategy} · scored {scored} · {requests} requests,
{tokens} prompt tokens</p>
<p>scoring configuration (hash <code>{config_hash}</code>):</p>
<pre id="config">{config}</pre>
<img id="heatmap" alt="memories × responses heatmap" data-rows="{rows}" data-cols="{cols}"
 src="data:image/png;base64,{image}">
<h2>Responses and their top memories</h2>
<ol>
{items}
</ol></body></html>
"""
