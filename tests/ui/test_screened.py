"""Screened cells in `memscore ui`: marked on the conversation page, counted apart on the memory page."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

from starlette.testclient import TestClient

from memscore_core.store import Store
from memscore_core.ui.app import build_app
from memscore_core.ui.security import Guard
from tests.store.test_screening_store import hierarchical_score, write


def client_over(tmp_path: Path) -> TestClient:
    store = Store(tmp_path / "screened.duckdb")
    write(store, hierarchical_score())
    return TestClient(build_app(store, Guard.for_host("127.0.0.1", None), threshold=0.5),
                      base_url="http://127.0.0.1")


def test_the_conversation_page_marks_each_screened_cell_in_the_heatmap(tmp_path: Path) -> None:
    page = client_over(tmp_path).get("/conversations/conv-1").text
    assert 'data-screened="2"' in page and "2 of 4" in " ".join(page.split())
    [figure] = re.findall(r'id="heatmap-chart" data-figure="([^"]*)"', page)
    marked = [trace for trace in json.loads(unescape(figure))["data"] if trace.get("name") == "screened"]
    assert [(x, y) for trace in marked for x, y in zip(trace["x"], trace["y"], strict=True)] == [
        ("r3", "pets/cat"), ("r5", "pets/cat")]


def test_a_memory_with_only_screened_cells_shows_them_as_screened_and_no_importance(tmp_path: Path) -> None:
    page = " ".join(client_over(tmp_path).get("/memories/pets%2Fcat").text.split())
    assert "importance <b>–</b>" in page and "<b>0</b> exact cells · <b>2</b> screened estimates" in page
    assert page.count("<td>screened</td>") == 2
