"""Acceptance: exports of the sample corpus scored on the embedded model (served by the ``server`` fixture)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from memscore_core.backends.factory import backend_name, open_backend
from memscore_core.cli import app
from memscore_core.config import ScoringConfig
from memscore_core.formats.loading import load_conversations
from memscore_core.model.conversation import Conversation
from memscore_core.scoring.batch import direct_scorer
from memscore_core.scoring.run import RunSummary, run_scoring
from memscore_core.scoring.sending import pooled_sender
from memscore_core.settings import REPO_ROOT, Settings
from memscore_core.store import Store

SAMPLE = REPO_ROOT / "data" / "conversations" / "sample.jsonl"
EXPORTED = """
SELECT i.conversation_id, i.response_entry_idx, e.content, e.reasoning
FROM export_items i
JOIN entries e ON e.conversation_id = i.conversation_id AND e.content_hash = i.content_hash
                  AND e.entry_idx = i.response_entry_idx
WHERE i.export_id = (SELECT export_id FROM exports WHERE name = ? ORDER BY created_at DESC LIMIT 1)
ORDER BY i.example_idx
"""


class Export:
    """One export directory: its manifest, its JSONL records and the stored response behind each."""

    def __init__(self, store: Store, directory: Path) -> None:
        self.directory = directory
        self.manifest: dict[str, Any] = json.loads((directory / "manifest.json").read_text())
        self.records = [json.loads(line) for line in (directory / "train.jsonl").read_text().splitlines()]
        with store.connect() as con:
            self.responses: list[tuple[str, int, str, str | None]] = con.execute(
                EXPORTED, [directory.name]).fetchall()

    def files(self) -> dict[str, bytes]:
        return {path.name: path.read_bytes() for path in self.directory.iterdir()}


async def _score(store: Store, base_url: str) -> RunSummary:
    settings = Settings.with_overrides(base_url=base_url)
    backend = open_backend(settings)
    config = ScoringConfig()
    try:
        model = await backend.model()
        async with pooled_sender(backend, config, settings.concurrency) as send:
            return await run_scoring(load_conversations([SAMPLE]), store, config, direct_scorer(send, config, model),
                                     model=model, backend_name=backend_name(settings))
    finally:
        await backend.aclose()


@pytest.fixture(scope="module")
def corpus() -> dict[str, Conversation]:
    return {item.conversation.id: item.conversation for item in load_conversations([SAMPLE]).conversations}


@pytest.fixture(scope="module")
def scored(server: str, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The sample corpus scored on the embedded model into a fresh DuckDB file."""
    store = Store(tmp_path_factory.mktemp("sample") / "memscore.duckdb")
    summary = asyncio.run(_score(store, server))
    assert (summary.scored, summary.failed) == (20, [])
    return store


def export(store: Store, name: str, fmt: str, *extra: str) -> Export:
    """``memscore export`` of every response (threshold 0) into ``<db dir>/exports/<name>``."""
    out = store.path.parent / "exports"
    done = CliRunner().invoke(app, ["export", "--db", str(store.path), "--format", fmt, "--out", str(out),
                                    "--threshold", "0", "--name", name, *extra])
    assert done.exit_code == 0, done.output
    return Export(store, out / name)


@pytest.fixture(scope="module")
def sft(scored: Store) -> Export:
    return export(scored, "sft-sample", "sft")


@pytest.fixture(scope="module")
def dpo(scored: Store, server: str) -> tuple[Export, dict[str, bytes]]:
    """The DPO export, and its files as first written."""
    first = export(scored, "dpo-sample", "dpo", "--base-url", server)
    return first, first.files()


def test_sft_contexts_are_the_conversation_before_the_response_without_its_memory_entries(
        sft: Export, corpus: dict[str, Conversation]) -> None:
    stripped = 0
    for record, (conversation_id, idx, _, _) in zip(sft.records, sft.responses, strict=True):
        conversation = corpus[conversation_id]
        memories = [entry.api_message() for entry in conversation.entries if entry.is_memory]
        context = record["messages"][:-1]
        assert not [message for message in context if message in memories]
        kept = [entry.api_message() for entry in conversation.entries[:idx] if not entry.is_memory]
        assert context[-len(kept):] == kept
        stripped += any(entry.is_memory for entry in conversation.entries[:idx])
    assert stripped > 50


def test_sft_targets_equal_the_stored_response_text(sft: Export) -> None:
    assert len(sft.records) == len(sft.responses) == 99
    for record, (_, _, content, reasoning) in zip(sft.records, sft.responses, strict=True):
        stored = content if reasoning is None else f"<think>{reasoning}</think>{content}"
        assert record["messages"][-1] == {"role": "assistant", "content": stored}


def test_the_sample_manifest_counts_and_hashes_match_the_files(sft: Export, scored: Store) -> None:
    files = sft.files()
    assert set(sft.manifest["files"]) == set(files) - {"manifest.json"}
    for name, digest in sft.manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == digest
    assert sft.manifest["n_examples"] == len(files["train.jsonl"].splitlines()) == len(sft.responses)
    assert sft.manifest["source_runs"] == [run.run_id for run in scored.runs()]


def test_dpo_rejected_differs_from_chosen_where_the_answer_used_a_memory(
        dpo: tuple[Export, dict[str, bytes]], corpus: dict[str, Conversation]) -> None:
    written, _ = dpo
    used = [record for record, (conversation_id, idx, _, _) in zip(written.records, written.responses, strict=True)
            if corpus[conversation_id].entries[idx].meta.get("uses_memories")]
    assert len(used) > 50
    assert [record["chosen"] for record in used if record["rejected"] == record["chosen"]] == []


def test_a_second_dpo_export_with_the_same_parameters_is_byte_identical(
        dpo: tuple[Export, dict[str, bytes]], scored: Store, server: str) -> None:
    _, first = dpo
    assert export(scored, "dpo-sample", "dpo", "--base-url", server).files() == first
