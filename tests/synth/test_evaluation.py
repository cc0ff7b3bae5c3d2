"""Attribution quality against planted ground truth: each metric on a hand-built score, then ``memscore eval``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from memscore_core.model.conversation import Conversation, Entry
from memscore_core.model.result import ConversationScore
from memscore_core.settings import REPO_ROOT
from memscore_core.synth.evaluation import evaluate
from memscore_core.synth.generator import generate_corpus

REQUIRED = {"precision_at_1", "recall_two_memory", "median_used_divergence", "median_unused_divergence",
            "no_memory_under_floor", "n_answers"}


def memory(key: str) -> Entry:
    return Entry(role="user", content=f"Recalled memory: {key}", memory_key=key)


def answer(kind: str, *used: str) -> Entry:
    return Entry(role="assistant", content="answer", meta={"uses_memories": list(used), "kind": kind})


def scored(entries: list[Entry], cells: dict[str, list[float | None]],
           drop_all: list[float | None] | None = None) -> tuple[Conversation, ConversationScore]:
    """The conversation and a score whose ``matrix[m]`` is ``cells[key of memory m]``, one value per response."""
    conversation = Conversation(id="c", entries=entries)
    keys = [e.memory_key for e in entries if e.memory_key is not None]
    responses = conversation.response_indices
    matrix = [cells[key] for key in keys]
    assert all(len(row) == len(responses) for row in matrix)
    score = ConversationScore(
        conversation_id="c", content_hash="h", strategy="exact", model="m", memory_keys=keys,
        memory_entry_indices=conversation.memory_indices, response_entry_indices=responses,
        response_tokens=[1] * len(responses), matrix=matrix, signed_matrix=matrix,
        memory_weights=[0.0] * len(keys), response_scores=[0.0] * len(responses),
        drop_all=drop_all if drop_all is not None else [None] * len(responses), requests=0, prompt_tokens=0)
    return conversation, score


def test_precision_at_1_is_the_share_of_one_memory_answers_whose_top_memory_is_the_used_one() -> None:
    pair = scored([memory("a"), memory("b"), answer("one", "a"), answer("one", "b")],
                  {"a": [5.0, 4.0], "b": [1.0, 2.0]})
    report = evaluate([pair])
    assert (report["n_single"], report["precision_at_1"]) == (2, 0.5)


def test_a_memory_after_an_answer_cannot_be_its_top_memory() -> None:
    pair = scored([memory("a"), answer("one", "a"), memory("late"), answer("one", "late")],
                  {"a": [1.0, 0.5], "late": [9.0, 3.0]})
    assert evaluate([pair])["precision_at_1"] == 1.0


def test_recall_two_memory_is_the_share_of_two_memory_answers_with_both_memories_in_their_top_two() -> None:
    pair = scored([memory("a"), memory("b"), memory("c"), answer("two", "a", "b"), answer("two", "a", "c")],
                  {"a": [3.0, 3.0], "b": [2.0, 2.0], "c": [1.0, 1.0]})
    assert (evaluate([pair])["n_two_memory"], evaluate([pair])["recall_two_memory"]) == (2, 0.5)


def test_used_median_covers_used_cells_and_unused_median_covers_null_and_no_memory_cells() -> None:
    pair = scored([memory("a"), memory("b"), answer("one", "a"), answer("two", "a", "b"), answer("none")],
                  {"a": [4.0, 6.0, 0.3], "b": [0.1, 2.0, 0.5]})
    report = evaluate([pair])
    assert report["median_used_divergence"] == 4.0  # of 4, 6, 2
    assert report["median_unused_divergence"] == 0.3  # of 0.1 (null), 0.3, 0.5 (no-memory answer)
    assert report["used_unused_ratio"] == pytest.approx(4.0 / 0.3)


def test_unscored_cells_are_left_out_of_every_statistic() -> None:
    pair = scored([memory("a"), memory("b"), answer("one", "a"), answer("none")],
                  {"a": [4.0, None], "b": [None, 0.5]})
    report = evaluate([pair])
    assert (report["precision_at_1"], report["median_used_divergence"], report["median_unused_divergence"]) == \
        (1.0, 4.0, 0.5)


def test_the_noise_floor_comes_from_null_ablations_and_bounds_no_memory_answers() -> None:
    pair = scored([memory("a"), memory("b"), answer("one", "a"), answer("one", "b"), answer("none"), answer("none")],
                  {"a": [5.0, 1.0, 0.2, 2.0], "b": [0.0, 5.0, 0.5, 0.1]})
    report = evaluate([pair])
    assert report["noise_floor"] == pytest.approx(0.99)  # 99th percentile of the null cells 0 and 1
    assert report["no_memory_under_floor"] == 0.5  # max 0.5 is under it, max 2.0 is not


def test_redundant_answers_report_best_single_copy_and_drop_all_apart_from_precision() -> None:
    entries = [memory("k"), memory("notes/k"), memory("other"),
               answer("redundant", "k", "notes/k"), answer("redundant", "k", "notes/k"),
               answer("redundant", "k", "notes/k"), answer("redundant", "k", "notes/k", "other")]
    pair = scored(entries, {"k": [0.1, 0.2, 0.4, 0.0], "notes/k": [0.3, 0.2, 0.0, 0.0],
                            "other": [0.0, 0.0, 0.0, 9.0]},
                  drop_all=[7.0, 5.0, None, 20.0])
    report = evaluate([pair])
    assert report["n_redundant"] == 3  # the answer that also needs "other" is no pure copy pair
    assert report["redundant_median_best_loo"] == 0.3  # of 0.3, 0.2, 0.4
    assert report["redundant_median_drop_all"] == 6.0  # the uncomputed drop-all is skipped
    assert (report["n_single"], report["precision_at_1"], report["median_used_divergence"]) == (0, None, None)


def test_n_answers_counts_every_answer_with_ground_truth_across_conversations() -> None:
    first = scored([memory("a"), answer("one", "a"), Entry(role="assistant", content="no truth"), answer("none")],
                   {"a": [1.0, 1.0, 1.0]})
    second = scored([memory("a"), answer("none")], {"a": [0.0]})
    assert evaluate([first, second])["n_answers"] == 3


def test_without_evidence_every_rate_and_median_is_none() -> None:
    report = evaluate([scored([memory("a"), answer("one", "a")], {"a": [None]})])
    assert report["n_answers"] == 1
    assert {key: report[key] for key in REQUIRED - {"n_answers"}} == dict.fromkeys(REQUIRED - {"n_answers"})
    assert report["noise_floor"] is None


def test_memscore_eval_json_reports_the_required_metrics_for_synthesized_conversations(tmp_path: Path) -> None:
    conversations = list(generate_corpus(5, seed=1))
    source = tmp_path / "synth.jsonl"
    source.write_text("".join(c.model_dump_json(exclude_none=True) + "\n" for c in conversations))
    done = subprocess.run([sys.executable, "-m", "memscore_core.cli", "eval", str(source), "--json"],
                          capture_output=True, text=True, timeout=300, cwd=REPO_ROOT, env={**os.environ})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) >= REQUIRED
    assert report["n_answers"] == sum("uses_memories" in e.meta for c in conversations for e in c.entries) > 0
    for rate in ("precision_at_1", "recall_two_memory", "no_memory_under_floor"):
        assert 0.0 <= report[rate] <= 1.0, rate
    assert report["median_used_divergence"] > report["median_unused_divergence"] >= 0.0


def eval_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "memscore_core.cli", "eval", *args], capture_output=True, text=True,
                          timeout=300, cwd=REPO_ROOT, env={**os.environ, "MEMSCORE_REQUEST_CACHE": ""})


def test_memscore_eval_counts_the_answers_each_strategys_precision_is_over(tmp_path: Path) -> None:
    source = tmp_path / "synth.jsonl"
    source.write_text("".join(c.model_dump_json(exclude_none=True) + "\n" for c in generate_corpus(2, seed=1)))
    done = eval_cli(str(source), "--strategy", "exact,surrogate", "--masks", "10", "--json")
    assert done.returncode == 0, done.stderr
    exact, surrogate = json.loads(done.stdout)
    assert surrogate["exact_cells"] == 0 and surrogate["median_used_divergence"] is None
    assert surrogate["n_single"] == exact["n_single"] > 0 and surrogate["precision_at_1"] is not None
    assert surrogate["n_two_memory"] == exact["n_two_memory"]


def test_memscore_eval_prints_a_dash_for_a_statistic_over_no_answers(tmp_path: Path) -> None:
    conversation = Conversation(id="none-only", entries=[
        memory("pets/dog"), Entry(role="user", content="Please repeat this word: Zorbu"),
        Entry(role="assistant", content="Zorbu.", meta={"uses_memories": [], "kind": "none"})])
    source = tmp_path / "none.jsonl"
    source.write_text(conversation.model_dump_json(exclude_none=True) + "\n")
    done = eval_cli(str(source), "--strategy", "exact,surrogate", "--masks", "10")
    assert done.returncode == 0, done.stderr
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
            for line in done.stdout.splitlines() if line.count("│") == 4}
    assert rows["n_single"] == ["0", "0"]
    assert rows["precision_at_1"] == rows["recall_two_memory"] == ["—", "—"]
