"""The screening strategies as users reach them: `memscore score --strategy ...` into the store, and `memscore eval`
comparing strategies side by side on the same conversations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memscore_core.store import Store
from memscore_core.synth.many import ManyShape, corpus_chunk_tokens, generate_many_corpus
from tests.cli.test_cli import memscore


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """One synthetic conversation: 24 memories in one chunk, 3 of them asked about; (file, its chunk tokens)."""
    conversations = list(generate_many_corpus(1, 14, ManyShape(memories=24, used=3, chunks=1)))
    path = tmp_path_factory.mktemp("strategies") / "many.jsonl"
    path.write_text("".join(c.model_dump_json(exclude_none=True) + "\n" for c in conversations))
    chunk_tokens = corpus_chunk_tokens(conversations)
    assert chunk_tokens is not None
    return path, chunk_tokens


def test_score_hierarchical_stores_screened_cells_and_a_rerun_prints_the_same_stored_result(
        many: tuple[Path, int], tmp_path: Path) -> None:
    path, chunk_tokens = many
    args = ("score", str(path), "--strategy", "hierarchical", "--chunk-tokens", str(chunk_tokens),
            "--db", str(tmp_path / "h.duckdb"), "--no-cache", "--json")
    first = memscore(*args)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["strategy"] == "hierarchical" and result["chunk_strategies"] == ["hierarchical"]
    cells = [(exact, estimate) for row, estimates in zip(result["matrix"], result["screened"], strict=True)
             for exact, estimate in zip(row, estimates, strict=True)]
    assert any(exact is None and estimate is not None for exact, estimate in cells)
    assert all(estimate is None for exact, estimate in cells if exact is not None)
    assert result["noise_floor"] > 0 and result["noise_floor_method"]["method"] == "filler"
    again = memscore(*args)
    assert again.returncode == 0, again.stderr
    assert "scored 0, skipped 1 already scored" in " ".join(again.stderr.split())
    assert json.loads(again.stdout) == result


def test_score_with_replacement_records_it_with_the_run_and_stores_apart_from_removal(
        many: tuple[Path, int], tmp_path: Path) -> None:
    path, chunk_tokens = many
    db = tmp_path / "r.duckdb"
    args = ("score", str(path), "--chunk-tokens", str(chunk_tokens), "--db", str(db), "--no-cache", "--json")
    removed = memscore(*args)
    assert removed.returncode == 0, removed.stderr
    replaced = memscore(*args, "--ablation", "replace")
    assert replaced.returncode == 0, replaced.stderr
    assert "scored 1," in " ".join(replaced.stderr.split())
    assert sorted(run.config.get("ablation", "remove") for run in Store(db).runs()) == ["remove", "replace"]
    result = json.loads(replaced.stdout)
    assert result["matrix"] != json.loads(removed.stdout)["matrix"]
    shown = memscore("show", result["conversation_id"], "--db", str(db), env={"COLUMNS": "400"})
    assert shown.returncode == 0, shown.stderr
    assert "memories replaced by fillers" in " ".join(shown.stdout.split())


def test_a_stored_hierarchical_replacement_has_every_cell_a_memory_can_see_exact_or_screened(
        many: tuple[Path, int], tmp_path: Path) -> None:
    path, chunk_tokens = many
    db = tmp_path / "h.duckdb"
    scored = memscore("score", str(path), "--strategy", "hierarchical", "--ablation", "replace", "--chunk-tokens",
                      str(chunk_tokens), "--db", str(db), "--no-cache", "--json")
    assert scored.returncode == 0, scored.stderr
    shown = memscore("show", json.loads(scored.stdout)["conversation_id"], "--db", str(db), "--json")
    result = json.loads(shown.stdout)
    seen = [(result["matrix"][m][j], result["screened"][m][j])
            for m, memory in enumerate(result["memory_entry_indices"])
            for j, response in enumerate(result["response_entry_indices"]) if response > memory]
    assert any(exact is None for exact, _ in seen) and any(exact is not None for exact, _ in seen)
    assert all((exact is None) != (estimate is None) for exact, estimate in seen)


def test_eval_with_replacement_compares_strategies_that_all_replace(many: tuple[Path, int]) -> None:
    done = memscore("eval", str(many[0]), "--strategy", "exact,hierarchical", "--ablation", "replace", "--json",
                    "--chunk-tokens", str(many[1]))
    assert done.returncode == 0, done.stderr
    exact, hierarchical = json.loads(done.stdout)
    assert exact["ablation"] == hierarchical["ablation"] == "replace"
    assert exact["requests"] == 24 + 2 and exact["top1_agreement_with_exact"] == 1.0
    assert 0 < hierarchical["tokens_vs_exact"] < 1 and hierarchical["estimated_cells"] > 0


def test_score_seed_with_replacement_exits_2_naming_the_option(many: tuple[Path, int]) -> None:
    done = memscore("score", str(many[0]), "--strategy", "seed", "--ablation", "replace", env={"COLUMNS": "200"})
    assert done.returncode == 2
    stderr = " ".join(done.stderr.split())
    assert "--ablation" in stderr and "the seed strategy removes memories" in stderr


def test_score_with_an_unknown_strategy_exits_2_naming_the_choices(many: tuple[Path, int]) -> None:
    done = memscore("score", str(many[0]), "--strategy", "greedy", env={"COLUMNS": "200"})
    assert done.returncode == 2
    assert "must be one of exact, seed, hierarchical, surrogate, auto" in " ".join(done.stderr.split())


def test_eval_compares_strategies_on_the_same_conversations_with_cost_and_agreement_with_exact(
        many: tuple[Path, int]) -> None:
    done = memscore("eval", str(many[0]), "--strategy", "exact,hierarchical,surrogate", "--masks", "16", "--json",
                    "--chunk-tokens", str(many[1]))
    assert done.returncode == 0, done.stderr
    exact, hierarchical, surrogate = json.loads(done.stdout)
    assert [r["strategy"] for r in (exact, hierarchical, surrogate)] == ["exact", "hierarchical", "surrogate"]
    assert exact["estimated_cells"] == 0 and exact["top1_agreement_with_exact"] == 1.0
    assert exact["tokens_vs_exact"] == 1.0 and exact["chunk_strategies"] == {"exact": 1}
    assert 0 < hierarchical["exact_cells"] < exact["exact_cells"] and hierarchical["estimated_cells"] > 0
    assert surrogate["exact_cells"] == 0 and surrogate["estimated_cells"] > 0
    assert surrogate["requests"] == 16 + 2
    for report in (exact, hierarchical, surrogate):
        assert report["prompt_tokens"] > 0 and report["wall_s"] > 0 and report["failed"] == 0
        assert (report["agreement_responses"], report["agreement_unreachable"]) == (3, 1)
        assert 0.0 <= report["precision_at_1"] <= 1.0
    assert hierarchical["top1_agreement_with_exact"] == pytest.approx(2 / 3)  # all but the unreachable response


def test_eval_with_one_strategy_prints_one_object_with_its_cost(many: tuple[Path, int]) -> None:
    done = memscore("eval", str(many[0]), "--json", env={"MEMSCORE_CHUNK_TOKENS": str(many[1])})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["strategy"] == "exact" and report["requests"] == 24 + 2
    assert report["top1_agreement_with_exact"] == 1.0 and report["estimated_cells"] == 0
