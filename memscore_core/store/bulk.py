"""Bulk writes of synthetic results, for corpus-scale benchmarks: many conversations in one transaction.

The caller supplies the conversations (ids, content hashes, entries, dates); the cells, responses and result
rows are generated here in SQL, deterministically from the conversation and cell indices (DuckDB's
``hash``), so a store of 10^7 cells is written in seconds rather than hours of Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from memscore_core.store import queries as q
from memscore_core.store.store import Store

CONVERSATIONS = f"""
INSERT INTO conversations (conversation_id, content_hash, source_file, ingested_at, meta, system_prompt, context)
SELECT {q.each("VARCHAR")}, {q.each("VARCHAR")}, ?, {q.each("TIMESTAMPTZ")}, '{{}}', 'You are a helpful assistant.', ''
"""
ENTRIES = f"""
INSERT INTO entries (conversation_id, content_hash, entry_idx, role, memory_key, content)
SELECT {q.each("VARCHAR")}, {q.each("VARCHAR")}, {q.each("INTEGER")}, {q.each("VARCHAR")}, {q.each("VARCHAR")},
       {q.each("VARCHAR")}
"""
RUN = """
INSERT INTO scoring_runs (run_id, model, backend, strategy, config, config_hash, started_at, finished_at, status,
                          requests, prompt_tokens)
VALUES (?, ?, 'corpus-builder', 'exact', '{}', ?, ?, ?, 'completed', 0, 0)
"""
RESULTS = f"""
INSERT INTO results (content_hash, model, config_hash, conversation_id, run_id, strategy, scored_at, requests,
                     prompt_tokens, chunks)
SELECT h, ?, ?, c, ?, 'exact', t, ? + 2, (? + 2) * 400, json_array(range(0, ?))
FROM (SELECT {q.each("VARCHAR")} AS c, {q.each("VARCHAR")} AS h, {q.each("TIMESTAMPTZ")} AS t)
"""
CELL_VALUES = f"""
WITH memory AS (
    SELECT {q.each("VARCHAR")} AS conversation_id, {q.each("VARCHAR")} AS content_hash, {q.each("INTEGER")} AS m,
           {q.each("VARCHAR")} AS memory_key
), cell AS (
    SELECT memory.*, j, (hash(content_hash, m, j) % 1000003) / 1000003.0 AS u,
           8 + (hash(content_hash, j) % 40)::INTEGER AS tokens
    FROM memory CROSS JOIN range(0, ?) r(j)
)"""
CELLS = f"""
{CELL_VALUES}
INSERT INTO scores (content_hash, model, config_hash, run_id, conversation_id, memory_key, memory_idx,
                    memory_entry_idx, column_idx, response_entry_idx, divergence, signed, tokens, method)
SELECT content_hash, ?, ?, ?, conversation_id, memory_key, m, m, j, ? + 2 * j + 1,
       round(12 * pow(u, 8), 6), round(12 * pow(u, 8) - 0.01, 6), tokens, 'exact'
FROM cell
"""
RESPONSES = f"""
{CELL_VALUES}
INSERT INTO responses (content_hash, model, config_hash, run_id, conversation_id, column_idx, response_entry_idx,
                       score, drop_all, tokens)
SELECT content_hash, ?, ?, ?, conversation_id, j, ? + 2 * j + 1, sum(round(12 * pow(u, 8), 6)),
       0.4 * sum(round(12 * pow(u, 8), 6)), any_value(tokens)
FROM cell
GROUP BY content_hash, conversation_id, j
"""


class CorpusPart(BaseModel):
    """Conversations to write at once: their ids, content hashes, dates and flattened entries (memories first,
    at entry indices 0..memories-1, then a user turn and an assistant response per column)."""

    run_id: str
    model: str
    config_hash: str
    memories: int
    responses: int
    conversation_ids: list[str]
    content_hashes: list[str]
    scored_at: list[datetime]
    entries: tuple[list[str], list[str], list[int], list[str], list[str | None], list[str]]


def write_corpus_part(store: Store, part: CorpusPart) -> None:
    """Write ``part``'s conversations, entries, results, cells and responses in one transaction."""
    ids, hashes, dates = q.listed(part.conversation_ids), q.listed(part.content_hashes), q.listed(part.scored_at)
    key = [part.model, part.config_hash, part.run_id]
    first, last = min(part.scored_at), max(part.scored_at)
    held = [i for i, memory_key in enumerate(part.entries[4]) if memory_key is not None]
    memory = [q.listed([column[i] for i in held]) for column in (*part.entries[:3], part.entries[4])]

    def write(con: Any) -> None:
        con.execute(RUN, [part.run_id, part.model, part.config_hash, first, last])
        con.execute(CONVERSATIONS, [ids, hashes, "corpus.jsonl", dates])
        con.execute(ENTRIES, [q.listed(column) for column in part.entries])
        con.execute(RESULTS, [part.model, part.config_hash, part.run_id, part.memories, part.memories,
                              part.memories + 2 * part.responses, ids, hashes, dates])
        con.execute(CELLS, [*memory, part.responses, *key, part.memories])
        con.execute(RESPONSES, [*memory, part.responses, *key, part.memories])

    store.write(write, keyed=False)


def entry_columns(rows: Sequence[tuple[str, str, int, str, str | None, str]]
                  ) -> tuple[list[str], list[str], list[int], list[str], list[str | None], list[str]]:
    """(conversation id, content hash, entry idx, role, memory key, content) rows as :class:`CorpusPart` columns."""
    ids, hashes, indices, roles, keys, contents = (list(column) for column in zip(*rows, strict=True))
    return ids, hashes, indices, roles, keys, contents  # type: ignore[return-value]
