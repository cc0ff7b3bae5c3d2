"""The HTML report: valid, offline, with a heatmap shaped like the matrix (3 memories × 2 responses)."""

from __future__ import annotations

import base64
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from memscore_core.cli import app
from memscore_core.downstream.report import figure, png_bytes
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore, content_hash
from memscore_core.store import Store, StoredResult

CONFIG = {"strategy": "exact", "chunk_tokens": 2048, "window": None}
MATRIX: list[list[float | None]] = [[3.0, None], [0.5, 2.0], [0.0, 1.5]]
"""Rows are the memories pets/dog, pets/cat, home/city; columns the responses at entries 4 and 6."""


def three_memories_two_responses() -> tuple[Conversation, ConversationScore]:
    conv = Conversation.model_validate({
        "id": "conv-1", "system_prompt": "You are helpful.",
        "entries": [
            {"role": "user", "content": "The dog is called Biscuit.", "memory_key": "pets/dog"},
            {"role": "user", "content": "The cat is called Miso.", "memory_key": "pets/cat"},
            {"role": "user", "content": "I live in Lyon.", "memory_key": "home/city"},
            {"role": "user", "content": "What is the dog called?"},
            {"role": "assistant", "content": "Biscuit."},
            {"role": "user", "content": "And the cat, in which city?"},
            {"role": "assistant", "content": "Miso, in Lyon."}]})
    columns = list(zip(*MATRIX, strict=True))
    score = ConversationScore(
        conversation_id=conv.id, content_hash=content_hash(conv), strategy="exact", model="tiny",
        memory_keys=["pets/dog", "pets/cat", "home/city"], memory_entry_indices=[0, 1, 2],
        response_entry_indices=[4, 6], response_tokens=[4, 6], matrix=MATRIX, signed_matrix=MATRIX,
        memory_weights=[sum(v or 0.0 for v in row) for row in MATRIX],
        response_scores=[sum(v or 0.0 for v in col) for col in columns], drop_all=[3.5, 3.0],
        requests=5, prompt_tokens=150, chunks=[[0, 1, 2, 3, 4, 5, 6]])
    return conv, score


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "memscore.duckdb")
    conv, score = three_memories_two_responses()
    run_id = store.record_run_start(model="tiny", backend="embedded", strategy="exact", config=CONFIG,
                                    config_hash="cfg")
    store.upsert_conversation(conv, score.content_hash, "convs.jsonl")
    store.write_result(run_id, score, "cfg")
    return store


def latest(store: Store) -> StoredResult:
    result = store.latest_result("conv-1")
    assert result is not None
    return result


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.scripts = 0
        self.responses: list[str | None] = []
        self.config = ""
        self._in_config = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.images.append(values)
        if tag in ("script", "link"):
            self.scripts += 1
        if tag == "li":
            self.responses.append(values.get("data-response"))
        self._in_config = tag == "pre" and values.get("id") == "config"

    def handle_endtag(self, tag: str) -> None:
        self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config += data


def report_page(store: Store) -> _Page:
    out = store.path.parent / "report.html"
    result = CliRunner().invoke(app, ["report", "conv-1", "--db", str(store.path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = _Page()
    page.feed(out.read_text())
    return page


def embedded_png(page: _Page) -> bytes:
    [image] = page.images
    src = image["src"] or ""
    assert src.startswith("data:image/png;base64,")
    return base64.b64decode(src.split(",", 1)[1])


def test_the_report_is_one_offline_html_file_with_an_embedded_png_heatmap(store: Store) -> None:
    page = report_page(store)
    [image] = page.images
    assert (image["data-rows"], image["data-cols"], page.scripts) == ("3", "2", 0)
    assert Image.open(io.BytesIO(embedded_png(page))).format == "PNG"
    assert page.responses == ["4", "6"]


def test_the_heatmap_image_has_a_row_per_memory_and_a_column_per_response(store: Store) -> None:
    heat = figure(latest(store)).axes[0]
    [image] = heat.get_images()
    cells = image.get_array()
    assert cells is not None and cells.shape == (3, 2)
    assert np.ma.getmaskarray(cells).tolist() == [[False, True], [False, False], [False, False]]
    assert np.ma.filled(cells, -1.0).tolist() == [[3.0, -1.0], [0.5, 2.0], [0.0, 1.5]]


def test_the_heatmap_axes_are_labelled_with_the_memories_and_responses(store: Store) -> None:
    heat = figure(latest(store)).axes[0]
    assert [t.get_text() for t in heat.get_yticklabels()] == ["pets/dog", "pets/cat", "home/city"]
    assert [t.get_text() for t in heat.get_xticklabels()] == ["r4", "r6"]


def test_the_report_embeds_the_heatmap_figure(store: Store) -> None:
    assert embedded_png(report_page(store)) == png_bytes(figure(latest(store)))


def test_the_report_shows_the_scoring_runs_configuration(store: Store) -> None:
    assert json.loads(report_page(store).config) == CONFIG


def test_a_report_of_an_unknown_conversation_fails_clearly(store: Store) -> None:
    result = CliRunner().invoke(app, ["report", "nope", "--db", str(store.path)])
    assert result.exit_code == 1
    assert "no scores for conversation 'nope'" in result.output


def test_png_writes_the_figure_alone(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "report.png"
    assert CliRunner().invoke(app, ["report", "conv-1", "--db", str(store.path), "--png", "--out", str(out)]
                              ).exit_code == 0
    assert Image.open(out).format == "PNG"
