"""The score-conversations flow on ``memscore serve`` (which computes only the assistant messages' log-probs) and
on one answering every position (``--no-scored-roles``) stores the same scores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memscore_core.store import Store
from tests.flows.test_score_flow import run_flow
from tests.support.servers import local_server

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="module")
def every_position(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with local_server(tmp_path_factory.mktemp("every-position"), "--no-scored-roles") as base_url:
        yield base_url


def test_the_flow_stores_the_same_scores_with_and_without_the_roles(corpus: Path, tmp_path: Path, server: str,
                                                                    every_position: str) -> None:
    stores = []
    for name, base_url in (("roles", server), ("all", every_position)):
        run_flow(source=str(corpus), db=str(tmp_path / f"{name}.duckdb"), base_url=base_url)
        stores.append(Store(tmp_path / f"{name}.duckdb"))
    ids = [f"synth-11-0000{i}" for i in range(3)]  # the corpus fixture's valid conversations
    hinted, full = ([store.latest_result(i) for i in ids] for store in stores)
    assert all(result is not None for result in hinted + full)
    assert [(r.matrix, r.signed_matrix, r.drop_all) for r in hinted] == [(r.matrix, r.signed_matrix, r.drop_all)
                                                                        for r in full]
