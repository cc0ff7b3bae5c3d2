"""`memscore ui` over a store with nothing scored yet: every page answers, with nothing to list."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from memscore_core.store import Store
from memscore_core.ui.app import build_app
from memscore_core.ui.security import Guard


@pytest.mark.parametrize("url", ["/", "/?prefix=a&since=2026-01-01&until=2026-01-31", "/review",
                                 "/review?status=all&prefix=x"])
def test_a_new_store_gives_every_page_empty_but_whole(tmp_path: Path, url: str) -> None:
    app = build_app(Store(tmp_path / "empty.duckdb"), Guard.for_host("127.0.0.1", None), threshold=0.5, prepare=True)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        answer = client.get(url)
    assert answer.status_code == 200 and "error:" not in answer.text
    assert "no scores match these filters" in answer.text or "candidates match these filters" in answer.text
