"""The store calls behind `memscore ui`, over a synthetic store: they agree with the CLI's store calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from memscore_core.bench.corpus_store import CorpusShape, build_corpus
from memscore_core.errors import StoreError
from memscore_core.store import Store
from memscore_core.store import dashboard as d
from memscore_core.store.downstream import export_sources, refresh_candidates

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("dashboard") / "synthetic.duckdb")
    build_corpus(store, CorpusShape(conversations=60, memories=8, responses=4, keys=40, days=20, end=NOW,
                                    models=["model-0", "model-1"], strategies=["exact", "exact", "hierarchical"],
                                    screened_every=10))
    refresh_candidates(store, threshold=0.5)
    return store


def test_a_synthetic_store_reads_back_through_the_store_api(synthetic: Store) -> None:
    result = synthetic.latest_result("corpus-0-0000007")
    assert result is not None and len(result.memory_keys) == 8 and len(result.response_entry_indices) == 4
    assert result.screened is not None and synthetic.count("results") == 60


def test_a_synthetic_store_is_filled_only_into_an_empty_store(synthetic: Store) -> None:
    with pytest.raises(StoreError, match="already holds results"):
        build_corpus(synthetic, CorpusShape(conversations=1))


@pytest.mark.parametrize("prefix", ["", "topic-1"])
def test_top_memories_by_week_rank_and_sum_as_memscore_top_does(synthetic: Store, prefix: str) -> None:
    with synthetic.connect() as con:
        trends = d.memory_trends(con, d.Filters(prefix=prefix), limit=5)
    top = synthetic.top_memories(limit=5, prefix=prefix)
    assert [t.memory_key for t in trends] == [m.memory_key for m in top]
    assert [t.importance for t in trends] == pytest.approx([m.importance for m in top])
    assert [t.conversations for t in trends] == [m.conversations for m in top]
    assert all(sum(v or 0 for _, v in t.weeks) == pytest.approx(t.importance) for t in trends)


def test_a_date_range_takes_whole_days_and_narrows_every_aggregate(synthetic: Store) -> None:
    day = (NOW - timedelta(days=3)).date()
    with synthetic.connect() as con:
        one_day = d.activity(con, d.Filters(since=day, until=day))
        listed = d.conversations(con, d.Filters(since=day, until=day), limit=1000)
    assert [a.day for a in one_day] == [day] and one_day[0].conversations == listed.total == 3
    assert {row.scored_at.date() for row in listed.rows} == {day}


def test_a_memory_summary_adds_up_its_cells_as_the_memory_importance_view_does(synthetic: Store) -> None:
    [top] = synthetic.top_memories(limit=1)
    with synthetic.connect() as con:
        summary, days = d.memory_timeline(con, top.memory_key, d.Filters())
        helped = d.memory_responses(con, top.memory_key, d.Filters(), limit=3)
    assert (summary.importance, summary.exact_cells, summary.screened_cells, summary.conversations) == (
        pytest.approx(top.importance), top.cells, top.screened, top.conversations)
    assert sum(day.exact_cells for day in days) == top.cells
    assert [r.divergence for r in helped] == sorted((r.divergence for r in helped), reverse=True)
    assert all(r.text and r.text.startswith("Fact") for r in helped)


def test_a_review_page_ranks_as_review_list_and_builds_the_sources_export_builds(synthetic: Store) -> None:
    least = 1.2  # about 33 of the 100 candidates: export_sources reads each on its own connection
    with synthetic.connect() as con:
        first = d.review_page(con, d.Filters(), status="pending", min_dependence=least, limit=10)
        second = d.review_page(con, d.Filters(), status="pending", min_dependence=least, limit=10, offset=10)
        narrowed = d.review_page(con, d.Filters(model="model-1"), status=None, min_dependence=least, limit=10)
    exported = {s.candidate.candidate_id: s for s in export_sources(synthetic, threshold=least, approved_only=False)}
    ranked = sorted(exported.values(), key=lambda s: (-s.candidate.dependence, s.candidate.candidate_id))
    shown = [item.candidate.candidate_id for item in first.rows + second.rows]
    assert len(exported) > 20 and shown == [s.candidate.candidate_id for s in ranked[:20]]
    assert first.total == len(exported)
    assert all(item.source == exported[item.candidate.candidate_id] for item in first.rows)
    assert {item.candidate.model for item in narrowed.rows} == {"model-1"}
