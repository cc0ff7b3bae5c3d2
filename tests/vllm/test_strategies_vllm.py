"""The hierarchical screen against the real vLLM server, as users run it: `memscore score --strategy hierarchical`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from memscore_core.bench.strategies import best_cells, top_memory
from memscore_core.config import ScoringConfig
from memscore_core.model.result import ConversationScore
from memscore_core.settings import REPO_ROOT
from memscore_core.synth.many import ManyShape, corpus_chunk_tokens, generate_many_corpus
from tests.support.embedded_scoring import score

TOLERANCE = 1e-3
CONVERSATIONS = list(generate_many_corpus(1, 14, ManyShape(memories=24, used=3, chunks=1)))
CHUNK_TOKENS = corpus_chunk_tokens(CONVERSATIONS)


@pytest.fixture(scope="module")
def scored(vllm_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ConversationScore]:
    """One conversation of 24 memories in one chunk (3 asked about) scored by exact and by hierarchical on vLLM, and
    by exact with ``--ablation replace``."""
    folder = tmp_path_factory.mktemp("strategies-vllm")
    path = folder / "many.jsonl"
    path.write_text("".join(c.model_dump_json(exclude_none=True) + "\n" for c in CONVERSATIONS))
    results = {}
    for name, strategy, ablation in (("exact", "exact", "remove"), ("hierarchical", "hierarchical", "remove"),
                                     ("exact-replace", "exact", "replace")):
        done = subprocess.run([sys.executable, "-m", "memscore_core.cli", "score", str(path), "--strategy", strategy,
                               "--ablation", ablation, "--chunk-tokens", str(CHUNK_TOKENS), "--base-url", vllm_url,
                               "--model", "memscore-tiny", "--db", str(folder / f"{name}.duckdb"), "--no-cache",
                               "--json"], capture_output=True, text=True, timeout=900, cwd=REPO_ROOT)
        assert done.returncode == 0, done.stderr[-2000:]
        results[name] = ConversationScore.model_validate(json.loads(done.stdout))
    return results


def test_hierarchical_measures_its_noise_floor_on_vllm_with_filler_ablations(
        scored: dict[str, ConversationScore]) -> None:
    screened = scored["hierarchical"]
    assert screened.noise_floor is not None and screened.noise_floor > 0
    assert screened.noise_floor_method is not None and screened.noise_floor_method.method == "filler"
    assert screened.noise_floor_method.samples > 0


def test_every_memory_hierarchical_descends_into_on_vllm_has_exacts_cells(
        scored: dict[str, ConversationScore]) -> None:
    exact, screened = scored["exact"], scored["hierarchical"]
    measured = [(row, column) for row, cells in enumerate(screened.matrix) for column, cell in enumerate(cells)
                if cell is not None]
    assert measured
    for row, column in measured:
        assert screened.matrix[row][column] == pytest.approx(exact.matrix[row][column], abs=TOLERANCE)


def test_replacement_on_vllm_keeps_positions_and_scores_the_embedded_defaults_numbers(
        scored: dict[str, ConversationScore]) -> None:
    assert CHUNK_TOKENS is not None
    embedded = score(CONVERSATIONS[0], ScoringConfig(chunk_tokens=CHUNK_TOKENS, ablation="replace"))
    remote = scored["exact-replace"]
    assert remote.response_tokens == embedded.response_tokens
    for got, want in zip(remote.matrix, embedded.matrix, strict=True):
        assert [cell is None for cell in got] == [cell is None for cell in want]
        assert [c for c in got if c is not None] == pytest.approx([c for c in want if c is not None], abs=TOLERANCE)
    assert remote.matrix != scored["exact"].matrix


def test_hierarchical_on_vllm_sends_fewer_tokens_than_exact(scored: dict[str, ConversationScore]) -> None:
    assert scored["hierarchical"].prompt_tokens < scored["exact"].prompt_tokens


def test_hierarchical_on_vllm_finds_every_used_memory_exact_finds_above_the_floor(
        scored: dict[str, ConversationScore]) -> None:
    exact, screened = scored["exact"], scored["hierarchical"]
    assert screened.noise_floor is not None
    found = [(column, row) for column, row, value in used_tops(exact) if value > screened.noise_floor]
    assert found
    for column, row in found:
        assert top_memory(best_cells(screened), screened, column) == row


def used_tops(score: ConversationScore) -> list[tuple[int, int, float]]:
    """(column, row, cell) of each response whose top exact cell is the one memory it uses (the ground truth)."""
    conversation = CONVERSATIONS[0]
    keys = [None if entry is None else conversation.entries[entry].memory_key for entry in score.memory_entry_indices]
    tops = []
    for column, entry in enumerate(score.response_entry_indices):
        used = [] if entry is None else conversation.entries[entry].meta.get("uses_memories", [])
        if len(used) == 1 and used[0] in keys:
            row = keys.index(used[0])
            value = score.matrix[row][column]
            if value is not None and top_memory(score.matrix, score, column) == row:
                tops.append((column, row, value))
    return tops
