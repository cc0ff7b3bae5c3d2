"""A large synthetic store in a few statements: conversations, entries, runs, results, responses and cells
generated in SQL from ``range()`` (10^5 conversations in seconds, where writing them result by result would
take most of an hour). For benchmarks of reading the store (``memscore bench ui``), never for scores.

Conversation ``i`` (id ``synth-0000042``) has ``memories`` tool entries then ``responses`` user/assistant pairs;
its memory keys come from a vocabulary of ``keys`` (``topic07/memory-00123``), a few of them important in many
conversations; about one cell in ten is screened. Results spread over ``days`` days before ``now``, over two
models and two strategies (a scoring run per day, model and strategy).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from memscore_core.errors import StoreError
from memscore_core.store.store import Store


class SyntheticShape(BaseModel):
    conversations: int = Field(ge=1)
    memories: int = Field(default=8, ge=1)
    responses: int = Field(default=4, ge=1)
    keys: int = Field(default=2000, ge=1)
    days: int = Field(default=90, ge=1)




def key_index(conversation: str, memory: str) -> str:
    """The vocabulary index of a conversation's memory: distinct within a conversation."""
    return f"((hash({conversation}) % $keys) + {memory} * ($keys // $memories)) % $keys"


def key_text(index: str) -> str:
    return f"'topic' || lpad(({index} % 40)::VARCHAR, 2, '0') || '/memory-' || lpad(({index})::VARCHAR, 5, '0')"


CELL = "hash(c.i, m.j, r.k)"
COMMON = """
WITH c AS (SELECT i, 'synth-' || lpad(i::VARCHAR, 7, '0') AS cid, md5('synth' || i) AS h,
                  'model-' || (i % 2) AS model, CASE WHEN i % 3 = 0 THEN 'hierarchical' ELSE 'exact' END AS strategy,
                  'cfg-' || (i % 2) AS cfg,
                  $now::TIMESTAMPTZ - to_days((i % $days)::INTEGER) - to_seconds((i % 86400)::BIGINT) AS ts
           FROM range($conversations) t(i))
"""
RUN_ID = "c.model || '-' || c.strategy || '-' || strftime(c.ts, '%Y%m%d')"

STATEMENTS = [
    COMMON + """
INSERT INTO conversations (conversation_id, content_hash, source_file, ingested_at, meta, system_prompt,
                           source_format)
SELECT cid, h, 'synthetic', ts, '{}', 'You are a concise assistant.', 'memscore' FROM c
""",
    COMMON + f"""
INSERT INTO entries (conversation_id, content_hash, entry_idx, role, memory_key, content, tool_call_id)
SELECT c.cid, c.h, e.j,
       CASE WHEN e.j < $memories THEN 'tool' WHEN (e.j - $memories) % 2 = 0 THEN 'user' ELSE 'assistant' END,
       CASE WHEN e.j < $memories THEN {key_text(key_index('c.i', 'e.j'))} END,
       CASE WHEN e.j < $memories THEN 'Note ' || e.j || ' about the user: value ' || (hash(c.i, e.j) % 10000)
            WHEN (e.j - $memories) % 2 = 0 THEN 'Question ' || ((e.j - $memories) // 2) || '?'
            ELSE 'Answer ' || ((e.j - $memories) // 2) || ': value ' || (hash(c.i, e.j) % 10000) || '.' END,
       CASE WHEN e.j < $memories THEN 'call_' || e.j END
FROM c, range($memories + 2 * $responses) e(j)
""",
    COMMON + f"""
INSERT INTO results (content_hash, model, config_hash, conversation_id, run_id, strategy, scored_at, requests,
                     prompt_tokens, chunks)
SELECT h, model, cfg, cid, {RUN_ID}, strategy, ts, 1 + $memories + $responses, 400 + i % 300,
       to_json([range(0, $memories + 2 * $responses)])
FROM c
""",
    COMMON + f"""
INSERT INTO scores (content_hash, model, config_hash, run_id, conversation_id, memory_key, memory_idx,
                    memory_entry_idx, column_idx, response_entry_idx, divergence, signed, tokens, method, screened)
SELECT c.h, c.model, c.cfg, {RUN_ID}, c.cid, {key_text('x.k')}, m.j, m.j, r.k,
       $memories + 2 * r.k + 1,
       CASE WHEN {CELL} % 10 = 0 THEN NULL ELSE d END, CASE WHEN {CELL} % 10 = 0 THEN NULL ELSE d END, 12,
       CASE WHEN {CELL} % 10 = 0 THEN 'screened' ELSE c.strategy END,
       CASE WHEN {CELL} % 10 = 0 THEN d / 2 END
FROM c, range($memories) m(j), range($responses) r(k),
     LATERAL (SELECT {key_index('c.i', 'm.j')} AS k) x,
     LATERAL (SELECT power(({CELL} % 1000) / 1000.0, 8) * 40 * (1 + 20.0 / (1 + x.k % 200)) AS d) v
""",
    """
INSERT INTO responses (content_hash, model, config_hash, run_id, conversation_id, column_idx, response_entry_idx,
                       score, drop_all, tokens)
SELECT content_hash, model, config_hash, run_id, conversation_id, column_idx, response_entry_idx,
       coalesce(sum(divergence), 0), coalesce(sum(divergence), 0) * 1.2, 12 + column_idx * 3
FROM scores
GROUP BY ALL
""",
    """
INSERT INTO scoring_runs (run_id, model, backend, strategy, config, config_hash, started_at, finished_at, status,
                          requests, prompt_tokens, host)
SELECT run_id, model, 'synthetic', strategy, '{}', config_hash, min(scored_at), max(scored_at), 'completed',
       sum(requests), sum(prompt_tokens), 'synthetic'
FROM results GROUP BY run_id, model, strategy, config_hash
""",
]


def fill_synthetic(store: Store, shape: SyntheticShape, *, now: datetime | None = None) -> None:
    """Write ``shape.conversations`` synthetic scored conversations into an empty ``store`` in one transaction."""
    values: dict[str, Any] = shape.model_dump() | {"now": now or datetime.now(UTC)}

    def fill(con: Any) -> None:
        con.execute("SET enable_progress_bar = false")
        found = con.execute("SELECT count(*) FROM results").fetchone()
        if found and found[0]:
            raise StoreError(f"{store.name} already holds results: a synthetic store is filled into a new file")
        for statement in STATEMENTS:
            con.execute(statement, {name: values[name] for name in values if f"${name}" in statement})

    store.write(fill)
