"""Screened results in the store: each result's noise floor, the run's floor, and screened cells that never count."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from memscore_core.config import ScoringConfig
from memscore_core.formats.loading import LoadResult
from memscore_core.model.result import ConversationScore, NoiseFloorMethod
from memscore_core.store import Store, migrations
from memscore_core.store.downstream import memory_observations
from memscore_core.store.store import baseline
from memscore_core.strategies.noise_floor import FILLER
from tests.store.conftest import conversation, score_of
from tests.support.embedded_runs import chunk_tokens, run, synth_many

FILLER_METHOD = NoiseFloorMethod(method="filler", samples=2, quantile=0.99, minimum=1e-3, filler=FILLER)


def hierarchical_score(conversation_id: str = "conv-1") -> ConversationScore:
    """pets/dog refined to a leaf (exact cells); pets/cat never descended into (screened cells only)."""
    matrix: list[list[float | None]] = [[3.0, 0.0], [None, None]]
    return score_of(conversation(conversation_id), matrix).model_copy(update={
        "strategy": "hierarchical", "chunk_strategies": ["hierarchical"], "screened": [[None, None], [0.5, 1.25]],
        "signed_matrix": matrix, "memory_weights": [3.0, 0.0], "response_scores": [3.0, 0.0],
        "noise_floor": 0.25, "noise_floor_method": FILLER_METHOD})


def write(store: Store, score: ConversationScore) -> None:
    run_id = store.record_run_start(model="tiny", backend="embedded", strategy=score.strategy, config={},
                                    config_hash="cfg")
    store.upsert_conversation(conversation(score.conversation_id), score.content_hash, "convs.jsonl")
    store.write_result(run_id, score, "cfg")


def test_a_hierarchical_result_read_back_keeps_its_noise_floor_and_method(any_store: Store) -> None:
    score = hierarchical_score()
    write(any_store, score)
    stored = any_store.result(score.content_hash, "tiny", "cfg")
    assert stored is not None
    assert (stored.noise_floor, stored.noise_floor_method) == (0.25, FILLER_METHOD)
    assert stored.to_score() == score


def test_an_exact_result_reads_back_with_no_noise_floor(store: Store) -> None:
    score = score_of(conversation(), [[3.0, 0.0], [0.5, 2.0]])
    write(store, score)
    stored = store.latest_result("conv-1")
    assert stored is not None and (stored.noise_floor, stored.noise_floor_method) == (None, None)


def test_a_memory_with_only_screened_cells_is_listed_last_in_top_with_no_importance(store: Store) -> None:
    write(store, hierarchical_score())
    top = [(m.memory_key, m.importance, m.cells, m.screened) for m in store.top_memories()]
    assert top == [("pets/dog", 3.0, 2, 0), ("pets/cat", None, 0, 2)]


def test_screened_cells_are_counted_apart_in_one_conversations_top(store: Store) -> None:
    write(store, hierarchical_score("conv-1"))
    write(store, score_of(conversation("conv-2"), [[1.0, 0.0], [0.5, 2.0]]))
    top = [(m.memory_key, m.importance, m.cells, m.screened) for m in store.top_memories(conversation_id="conv-1")]
    assert top == [("pets/dog", 3.0, 2, 0), ("pets/cat", None, 0, 2)]
    assert [(m.memory_key, m.importance, m.cells, m.screened) for m in store.top_memories()] == [
        ("pets/dog", 4.0, 4, 0), ("pets/cat", 2.5, 2, 2)]


def test_memory_weights_fold_only_memories_with_an_exact_cell(store: Store) -> None:
    write(store, hierarchical_score())
    assert [(key, value) for key, _, value, _ in memory_observations(store)] == [("pets/dog", 1.5)]


def test_a_store_at_the_baseline_gains_the_result_noise_floor_keeping_its_results(tmp_path: Path) -> None:
    path = tmp_path / "baseline.duckdb"
    version, sql = baseline()
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE schema_migrations (version INTEGER NOT NULL, name VARCHAR NOT NULL, "
                    "applied_at TIMESTAMPTZ NOT NULL)")
        con.execute(sql)
        for number, name, _ in migrations()[:version]:
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [number, name])
    store = Store(path)
    assert store.schema_version() == migrations()[-1][0] > version
    write(store, hierarchical_score())
    stored = store.latest_result("conv-1")
    assert stored is not None and stored.noise_floor == 0.25


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> LoadResult:
    """Two 8-memory conversations (2 used), one chunk each, written by ``memscore synth``."""
    return synth_many(tmp_path_factory.mktemp("synth") / "many.jsonl", n=2, memories=8)


def test_a_run_that_measures_floors_records_their_median_and_a_summary(many: LoadResult, tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.duckdb")
    summary = run(store, many, ScoringConfig(strategy="hierarchical", chunk_tokens=chunk_tokens(many)))
    assert summary.scored == 2
    results = [store.latest_result(item.conversation.id) for item in many.conversations]
    floors = sorted(r.noise_floor for r in results if r is not None and r.noise_floor is not None)
    samples = sum(r.noise_floor_method.samples for r in results if r is not None and r.noise_floor_method)
    stored = store.run(summary.run_id)
    assert stored is not None and len(floors) == 2
    assert (stored.noise_floor, stored.noise_floor_method) == (sum(floors) / 2, {
        "method": "filler", "scope": "conversation", "quantile": 0.99, "conversations": 2, "samples": samples,
        "min": floors[0], "median": sum(floors) / 2, "max": floors[1]})


def test_a_run_with_a_fixed_floor_records_it_as_fixed(many: LoadResult, tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.duckdb")
    config = ScoringConfig(strategy="hierarchical", chunk_tokens=chunk_tokens(many), noise_floor=0.5)
    stored = store.run(run(store, many, config).run_id)
    assert stored is not None
    assert (stored.status, stored.noise_floor, stored.noise_floor_method) == ("completed", 0.5, {"method": "fixed"})


def test_an_exact_run_records_no_floor(many: LoadResult, tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.duckdb")
    stored = store.run(run(store, many, ScoringConfig(chunk_tokens=chunk_tokens(many))).run_id)
    assert stored is not None
    assert (stored.status, stored.noise_floor, stored.noise_floor_method) == ("completed", None, None)
