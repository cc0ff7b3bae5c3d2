"""`memscore ui` over a DuckLake (SQLite catalog): every page answers from the lake, and a review decision lands in
it as `memscore review` would write it; a real server on loopback."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from memscore_core.store import Store
from memscore_core.store.downstream import list_candidates
from tests.support.ui_server import RunningUi, ui_server
from tests.ui.conftest import SAMPLE, memscore


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The sample corpus scored into a DuckLake on the embedded default: (target, data path)."""
    folder = tmp_path_factory.mktemp("ui-lake")
    shutil.copy(SAMPLE, folder / "sample.jsonl")
    target, data_path = f"ducklake:sqlite:{folder / 'catalog.sqlite'}", folder / "lake-data"
    done = memscore("score", str(folder / "sample.jsonl"), "--db", target, "--data-path", str(data_path))
    assert done.returncode == 0, done.stderr
    return target, data_path


@pytest.fixture(scope="module")
def ui(lake: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningUi]:
    target, data_path = lake
    with ui_server(target, tmp_path_factory.mktemp("ui-log"), "--data-path", str(data_path)) as running:
        yield running


def test_the_overview_a_memory_and_a_conversation_of_a_lake_are_pages_that_name_what_the_lake_holds(
        lake: tuple[str, Path], ui: RunningUi) -> None:
    store = Store(lake[0], data_path=lake[1])
    top = store.top_memories(limit=1)[0].memory_key
    overview = httpx.get(f"{ui.url}/")
    assert overview.status_code == 200 and top in overview.text
    link = re.search(r'href="(/memories/[^"?]+)', overview.text)
    assert link is not None
    memory = httpx.get(f"{ui.url}{link.group(1)}")
    assert memory.status_code == 200
    conversation_id = re.search(r'href="/conversations/([^"]+)"', memory.text)
    assert conversation_id is not None
    conversation = httpx.get(f"{ui.url}/conversations/{conversation_id.group(1)}")
    assert conversation.status_code == 200
    assert all(key in conversation.text for key in store.latest_result(unquote(conversation_id.group(1))).memory_keys)


def test_a_review_decision_made_in_the_browser_is_stored_in_the_lake(lake: tuple[str, Path], ui: RunningUi) -> None:
    page = httpx.get(f"{ui.url}/review")
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert page.status_code == 200 and token is not None
    store = Store(lake[0], data_path=lake[1])
    candidate = next(c.candidate_id for c in list_candidates(store) if c.status == "pending")
    answer = httpx.post(f"{ui.url}/review/decide", headers={"Accept": "application/json"},
                        data={"candidate_id": candidate, "decision": "approve", "csrf": token.group(1)})
    assert answer.json() == {"candidate_id": candidate, "status": "approved"}
    assert {c.candidate_id: c.status for c in list_candidates(store)}[candidate] == "approved"
