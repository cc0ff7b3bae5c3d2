"""The HTML report: valid, offline, with a heatmap shaped like the matrix."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from memscore_core.cli import app
from memscore_core.report import figure
from memscore_core.store import Store
from tests.store.conftest import conversation, score_of


def stored(tmp_path: Path) -> Store:
    store = Store(tmp_path / "memscore.duckdb")
    conv = conversation()
    score = score_of(conv, [[3.0, None], [0.5, 2.0]])
    run_id = store.record_run_start(model="tiny", backend="embedded", strategy="exact", config={},
                                    config_hash="cfg")
    store.upsert_conversation(conv, score.content_hash, "convs.jsonl")
    store.write_result(run_id, score, "cfg")
    return store


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.scripts = 0
        self.responses: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.images.append(values)
        if tag in ("script", "link"):
            self.scripts += 1
        if tag == "li":
            self.responses.append(values.get("data-response"))


def test_the_report_is_one_offline_html_file_with_an_embedded_png_heatmap(tmp_path: Path) -> None:
    store = stored(tmp_path)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "conv-1", "--db", str(store.path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = _Page()
    page.feed(out.read_text())
    [image] = page.images
    assert (image["data-rows"], image["data-cols"], page.scripts) == ("2", "2", 0)
    src = image["src"] or ""
    assert src.startswith("data:image/png;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).format == "PNG"
    assert page.responses == ["3", "5"]


def test_the_heatmap_axes_are_the_memories_and_responses(tmp_path: Path) -> None:
    result = stored(tmp_path).latest_result("conv-1")
    assert result is not None
    heat = figure(result).axes[0]
    assert [t.get_text() for t in heat.get_yticklabels()] == ["pets/dog", "pets/cat"]
    assert [t.get_text() for t in heat.get_xticklabels()] == ["r3", "r5"]


def test_a_report_of_an_unknown_conversation_fails_clearly(tmp_path: Path) -> None:
    store = stored(tmp_path)
    result = CliRunner().invoke(app, ["report", "nope", "--db", str(store.path)])
    assert result.exit_code == 1
    assert "no scores for conversation 'nope'" in result.output


def test_png_writes_the_figure_alone(tmp_path: Path) -> None:
    store = stored(tmp_path)
    out = tmp_path / "report.png"
    assert CliRunner().invoke(app, ["report", "conv-1", "--db", str(store.path), "--png", "--out", str(out)]
                              ).exit_code == 0
    assert Image.open(out).format == "PNG"
