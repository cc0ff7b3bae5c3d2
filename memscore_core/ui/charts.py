"""Plotly figures of the UI's pages, as JSON for ``Plotly.newPlot`` (plotly.js served from the plotly wheel).

Plotly reads labels as a small subset of HTML, so every key and id in a figure is HTML-escaped first: a memory
key ``<b>x</b>`` shows as typed, not bold.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from memscore_core.downstream.report import matrix_array, screened_cells
from memscore_core.store import StoredResult
from memscore_core.store.dashboard import DEPENDENCE_BIN, DayActivity, MemoryDay, MemoryTrend

ACCENT = "#b5446e"
DAY_MS = 86_400_000
LAYOUT: dict[str, Any] = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
                          "font": {"size": 12}}


def _json(figure: go.Figure, height: int) -> str:
    figure.update_layout(**LAYOUT, height=height)
    return str(figure.to_json())


def _date_axis(figure: go.Figure, days: Sequence[date], pad: int) -> None:
    """A date x axis of whole days, ``pad`` days either side of the data (a single day stays readable)."""
    figure.update_xaxes(type="date", tickformat="%b %d\n%Y")
    if days:
        figure.update_xaxes(range=[(min(days) - timedelta(days=pad)).isoformat(),
                                   (max(days) + timedelta(days=pad)).isoformat()])


def label(text: str) -> str:
    """``text`` as plotly shows it literally."""
    return html.escape(text, quote=False)


def activity(days: Sequence[DayActivity]) -> str:
    """Conversations, requests and prompt tokens scored per day."""
    figure = make_subplots(rows=1, cols=3, subplot_titles=("conversations", "requests", "prompt tokens"),
                           horizontal_spacing=0.08)
    x = [d.day.isoformat() for d in days]
    for col, values in enumerate(([d.conversations for d in days], [d.requests for d in days],
                                  [d.prompt_tokens for d in days]), start=1):
        figure.add_trace(go.Bar(x=x, y=values, marker_color=ACCENT, showlegend=False, width=DAY_MS * 0.8),
                         row=1, col=col)
    _date_axis(figure, [d.day for d in days], 3)
    return _json(figure, 260)


def trends(rows: Sequence[MemoryTrend]) -> str:
    """The top memories' importance (exact cells) by week."""
    figure = go.Figure()
    for row in rows:
        figure.add_trace(go.Scatter(x=[w.isoformat() for w, _ in row.weeks], y=[v for _, v in row.weeks],
                                    mode="lines+markers", name=label(row.memory_key)))
    figure.update_layout(xaxis_title="week (from Monday)", yaxis_title="importance (nats)",
                         legend={"font": {"size": 11}})
    _date_axis(figure, [w for row in rows for w, _ in row.weeks], 7)
    return _json(figure, 320)


def dependence(histogram: Sequence[tuple[float, int]], threshold: float) -> str:
    """How dependent responses are on their memories, with the candidates' threshold."""
    figure = go.Figure(go.Bar(x=[edge + DEPENDENCE_BIN / 2 for edge, _ in histogram], y=[n for _, n in histogram],
                              width=DEPENDENCE_BIN * 0.95, marker_color=ACCENT))
    figure.add_vline(x=threshold, line_dash="dash", annotation_text=f"candidate threshold {threshold}")
    figure.update_layout(xaxis_title="dependence (nats per response token; last bar: and more)",
                         yaxis_title="responses")
    return _json(figure, 320)


def memory_timeline(days: Sequence[MemoryDay]) -> str:
    """One memory's importance per day."""
    figure = go.Figure(go.Bar(x=[d.day.isoformat() for d in days], y=[d.importance for d in days],
                              marker_color=ACCENT, width=DAY_MS * 0.8,
                              customdata=[[d.conversations, d.exact_cells] for d in days],
                              hovertemplate="%{x}: %{y:.2f} nats<br>%{customdata[0]} conversations, "
                                            "%{customdata[1]} exact cells<extra></extra>"))
    figure.update_layout(yaxis_title="importance (nats)")
    _date_axis(figure, [d.day for d in days], 3)
    return _json(figure, 280)


def heatmap(result: StoredResult) -> str:
    """The memories × responses matrix of exact divergence; screened cells marked ×, their estimate on hover."""
    matrix = matrix_array(result)
    keys = [label(k) for k in result.memory_keys]
    columns = result.column_labels()
    z = [[None if v != v else float(v) for v in row] for row in matrix.tolist()]
    figure = go.Figure(go.Heatmap(z=z, x=columns, y=keys, colorscale="Magma", reversescale=True,
                                  colorbar={"title": {"text": "nats"}},
                                  hovertemplate="%{y} → %{x}: %{z:.3f} nats<extra></extra>"))
    marked = screened_cells(result)
    if marked:
        figure.add_trace(go.Scatter(
            x=[columns[j] for _, j in marked], y=[keys[m] for m, _ in marked], mode="markers", name="screened",
            marker={"symbol": "x-thin", "size": 9, "line": {"width": 1.5, "color": "#555"}},
            text=[f"screened estimate {result.screened_cell(m, j):.3f}" for m, j in marked],
            hovertemplate="%{y} → %{x}: %{text}<extra></extra>"))
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(type="category", title="response (entry index)")
    return _json(figure, 160 + 24 * max(len(keys), 1))


def importance_bars(result: StoredResult) -> str:
    """Each memory's importance in this conversation (exact cells)."""
    keys = [label(k) for k in result.memory_keys]
    figure = go.Figure(go.Bar(x=result.memory_weights, y=keys, orientation="h", marker_color=ACCENT,
                              hovertemplate="%{y}: %{x:.3f} nats<extra></extra>"))
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(title="importance (nats, exact cells)")
    return _json(figure, 160 + 24 * max(len(keys), 1))
