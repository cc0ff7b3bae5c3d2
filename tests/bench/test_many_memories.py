"""`memscore bench many-memories`: every strategy on the same conversations, and issue 14's targets for the shape."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from memscore_core.bench.many_memories import ManyMemoryReport, ManyShapesReport
from memscore_core.bench.strategies import StrategyComparison, StrategyRow, reference_of, top1_agreement, unreachable
from memscore_core.bench.targets import check_many_memory_targets, check_many_shapes_targets
from memscore_core.cli import app
from memscore_core.config import ScoringConfig
from memscore_core.model.result import ConversationScore


def row(name: str, tokens: int, *, precision: float = 1.0, agreement: float | None = 1.0) -> StrategyRow:
    return StrategyRow(name=name, config=ScoringConfig(strategy=name.split()[0]),  # type: ignore[arg-type]
                       conversations=1, failed=0, requests=10, prompt_tokens=tokens, wall_s=1.0,
                       precision_at_1=precision, recall_two_memory=None, n_single=1, n_two_memory=0, quality={},
                       top1_agreement=agreement,
                       top1_agreement_within_floor=agreement,
                       agreement_responses=10, agreement_unreachable=0, exact_cells=10, estimated_cells=0,
                       chunk_strategies={})


def shape_report(memories: int, rows: list[StrategyRow], **shape: str) -> ManyMemoryReport:
    return ManyMemoryReport(memories=memories, used=4, chunks=4, conversations=1, seed=1, chunk_tokens=1000,
                            server="embedded", comparison=StrategyComparison(rows=rows, floors={}),
                            **shape)  # type: ignore[arg-type]


def verdicts(memories: int, rows: list[StrategyRow]) -> dict[str, bool]:
    return {target.name: target.met for target in check_many_memory_targets(shape_report(memories, rows))}


def test_at_64_memories_hierarchical_must_halve_exact_tokens_and_keep_its_answers() -> None:
    met = verdicts(64, [row("exact", 1000, precision=0.96), row("hierarchical", 501, precision=0.96)])
    assert met == {"hierarchical prompt tokens ÷ exact": False,
                   "hierarchical top-1 agreement with exact (above the floor)": True,
                   "hierarchical precision@1 gap to exact": True}


def test_at_256_memories_the_surrogate_is_held_to_its_cost_and_precision() -> None:
    met = verdicts(256, [row("exact", 1000), row("hierarchical", 150, agreement=0.97),
                         row("surrogate", 300, precision=0.89)])
    assert met["hierarchical prompt tokens ÷ exact"] and not met["hierarchical top-1 agreement with exact (above the "
                                                                 "floor)"]
    assert met["surrogate prompt tokens ÷ exact"] and not met["surrogate precision@1"]


def test_windowed_strategies_are_judged_against_windowed_exact() -> None:
    met = verdicts(64, [row("exact", 1000), row("hierarchical", 400), row("exact --window 4", 100),
                        row("hierarchical --window 4", 60), row("auto --window 4", 100)])
    assert met["hierarchical prompt tokens ÷ exact"]
    assert not met["hierarchical --window 4 prompt tokens ÷ exact --window 4"]
    assert met["auto --window 4 prompt tokens ÷ exact --window 4"]


def test_each_shape_is_held_to_the_targets_under_its_own_name() -> None:
    report = ManyShapesReport(shapes=[
        shape_report(64, [row("exact", 1000), row("hierarchical", 400)]),
        shape_report(64, [row("exact", 1000), row("hierarchical", 700)], layout="interleaved", memory_kinds="mixed")])
    met = {target.name: target.met for target in check_many_shapes_targets(report)}
    assert met["grouped: hierarchical prompt tokens ÷ exact"]
    assert not met["interleaved, mixed kinds: hierarchical prompt tokens ÷ exact"]
    assert len(met) == 2 * len(verdicts(64, [row("exact", 1000), row("hierarchical", 400)]))


def test_the_bench_compares_strategies_on_the_embedded_model_and_reports_each_target() -> None:
    result = CliRunner().invoke(app, ["bench", "many-memories", "16", "--used", "2", "--chunks", "1",
                                      "--conversations", "1", "--strategies", "exact,hierarchical,auto", "--shape",
                                      "grouped", "--json"])
    document = json.loads(result.output)
    (shape,) = document["shapes"]
    rows = {row["name"]: row for row in shape["comparison"]["rows"]}
    assert list(rows) == ["exact", "hierarchical", "auto"]
    assert rows["exact"]["requests"] == 16 + 2 and rows["exact"]["chunk_strategies"] == {"exact": 1}
    assert rows["hierarchical"]["estimated_cells"] > 0
    assert rows["hierarchical"]["chunk_strategies"] == {"hierarchical": 1}
    assert (rows["hierarchical"]["agreement_responses"], rows["hierarchical"]["agreement_unreachable"]) == (3, 1)
    assert rows["auto"]["prompt_tokens"] == rows["exact"]["prompt_tokens"]
    targets = {target["name"]: target["met"] for target in document["targets"]}
    assert targets["grouped: auto prompt tokens ÷ exact"] is True
    assert "grouped: hierarchical prompt tokens ÷ exact" not in targets
    assert result.exit_code == (0 if all(targets.values()) else 1)


def test_the_bench_runs_every_shape_on_a_corpus_of_its_own_and_prints_each_shapes_targets() -> None:
    result = CliRunner().invoke(app, ["bench", "many-memories", "8", "--used", "2", "--chunks", "1",
                                      "--conversations", "1", "--strategies", "exact,hierarchical", "--kinds",
                                      "contacts,mixed"])
    lines = result.output.splitlines()
    for label in ("grouped", "grouped, mixed kinds", "interleaved", "interleaved, mixed kinds"):
        assert any(f"many-memories 8 — {label}: 1 conversations" in line for line in lines), label
        assert any(f"{label}: hierarchical top-1 agreement with exact" in line for line in lines), label
    assert result.exit_code in (0, 1)


def test_an_unknown_shape_is_a_usage_error_naming_the_option() -> None:
    result = CliRunner().invoke(app, ["bench", "many-memories", "8", "--shape", "grouped,spiral"])
    assert result.exit_code == 2 and "--shape" in result.output


def test_the_bench_with_replacement_runs_every_strategy_replacing() -> None:
    result = CliRunner().invoke(app, ["bench", "many-memories", "8", "--used", "2", "--chunks", "1",
                                      "--conversations", "1", "--strategies", "exact,hierarchical", "--ablation",
                                      "replace", "--shape", "interleaved", "--json"])
    rows = json.loads(result.output)["shapes"][0]["comparison"]["rows"]
    assert [(row["name"], row["config"]["ablation"]) for row in rows] == [("exact", "replace"),
                                                                           ("hierarchical", "replace")]
    assert rows[0]["requests"] == 8 + 2 and rows[0]["failed"] == rows[1]["failed"] == 0


def test_the_bench_under_several_ablations_runs_every_strategy_under_each_against_its_own_exact() -> None:
    result = CliRunner().invoke(app, ["bench", "many-memories", "8", "--used", "2", "--chunks", "1",
                                      "--conversations", "1", "--strategies", "exact,hierarchical", "--ablation",
                                      "replace,remove", "--shape", "grouped", "--json"])
    document = json.loads(result.output)
    rows = {row["name"]: row for row in document["shapes"][0]["comparison"]["rows"]}
    assert {name: row["config"]["ablation"] for name, row in rows.items()} == {
        "exact --ablation replace": "replace", "hierarchical --ablation replace": "replace",
        "exact --ablation remove": "remove", "hierarchical --ablation remove": "remove"}
    replaced, removed = rows["exact --ablation replace"], rows["exact --ablation remove"]
    assert replaced["tokens_vs_exact"] == removed["tokens_vs_exact"] == 1
    assert replaced["prompt_tokens"] > removed["prompt_tokens"]
    targets = {target["name"] for target in document["targets"]}
    assert {"grouped: hierarchical --ablation replace top-1 agreement with exact --ablation replace (above the floor)",
            "grouped: hierarchical --ablation remove top-1 agreement with exact --ablation remove (above the floor)"} \
        <= targets


def test_an_unknown_ablation_is_a_usage_error_naming_the_option() -> None:
    result = CliRunner().invoke(app, ["bench", "many-memories", "8", "--ablation", "replace,erase"])
    assert result.exit_code == 2 and "--ablation" in result.output


def test_each_strategy_is_judged_against_exact_under_its_own_ablation() -> None:
    configs = {"exact --ablation replace": ScoringConfig(ablation="replace"),
               "surrogate --ablation replace": ScoringConfig(strategy="surrogate", ablation="replace"),
               "exact --ablation remove": ScoringConfig(),
               "hierarchical --window 4 --ablation remove": ScoringConfig(strategy="hierarchical", window=4)}
    assert {name: reference_of(name, configs, "exact --ablation replace") for name in configs} == {
        "exact --ablation replace": "exact --ablation replace",
        "surrogate --ablation replace": "exact --ablation replace",
        "exact --ablation remove": "exact --ablation remove",
        "hierarchical --window 4 --ablation remove": "exact --ablation remove"}
    assert reference_of("surrogate", {"exact": ScoringConfig(), "surrogate": ScoringConfig(
        strategy="surrogate", ablation="replace")}, "exact") is None


def test_a_windowed_strategy_is_judged_against_exact_with_the_same_window() -> None:
    configs = {"exact": ScoringConfig(), "hierarchical": ScoringConfig(strategy="hierarchical"),
               "exact --window 4": ScoringConfig(window=4),
               "hierarchical --window 4": ScoringConfig(strategy="hierarchical", window=4),
               "surrogate --window 2": ScoringConfig(strategy="surrogate", window=2)}
    assert {name: reference_of(name, configs, "exact") for name in configs} == {
        "exact": "exact", "hierarchical": "exact", "exact --window 4": "exact --window 4",
        "hierarchical --window 4": "exact --window 4", "surrogate --window 2": "exact"}
    assert reference_of("hierarchical", configs, None) is None


def one_response(cells: list[float | None], screened: list[float | None] | None = None) -> ConversationScore:
    """Memories 0..n-1 (entries 0..n-1) and one response (entry n) with these cells."""
    n = len(cells)
    return ConversationScore(conversation_id="c", content_hash="h", strategy="x", model="m",
                             memory_keys=[f"k{m}" for m in range(n)], memory_entry_indices=list(range(n)),
                             response_entry_indices=[n], response_tokens=[3], matrix=[[c] for c in cells],
                             signed_matrix=[[c] for c in cells], memory_weights=[0.0] * n, response_scores=[0.0],
                             drop_all=[None], requests=1, prompt_tokens=1,
                             screened=None if screened is None else [[c] for c in screened])


def test_a_pick_exact_scores_within_the_floor_of_its_top_agrees_only_within_the_floor() -> None:
    exact = one_response([2.0, 1.5, 0.1])
    assert top1_agreement(exact, one_response([None, 1.5, None], screened=[1.2, None, 1.2]), 1.0) == (0, 1, 1)
    assert top1_agreement(exact, one_response([None, None, 0.1], screened=[0.05, 0.05, None]), 1.0) == (0, 0, 1)
    assert top1_agreement(exact, exact, 1.0) == (1, 1, 1)
    assert top1_agreement(exact, exact, 2.0) == (0, 0, 0)


def test_a_judged_response_the_drop_all_did_not_score_or_moved_at_most_the_floor_is_unreachable() -> None:
    moved = {drop_all: one_response([2.0, 0.1]).model_copy(update={"drop_all": [drop_all]})
             for drop_all in (None, 0.5, 1.0, 3.0)}
    assert [unreachable(moved[drop_all], 1.0) for drop_all in (None, 0.5, 1.0, 3.0)] == [1, 1, 1, 0]
    assert unreachable(moved[0.5], 2.0) == 0
