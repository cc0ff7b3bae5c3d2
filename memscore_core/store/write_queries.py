"""The statements that write conversations and results, many at a time: one result or thousands go through the
same statements.

Rows travel as one JSON text per table (a list of objects, made by :func:`memscore_core.store.queries.listed`),
unnested into columns by :func:`rows`: one parse per statement (a list parameter per column, unnested side by
side, took twice as long). A result's cells and responses name their result by its position ``r`` in the
batch's ``heads``; the memory summary (migration 0009) is computed here from the very cells the same
transaction writes. Cells and responses carry their result's ``scored_at``, entries their conversation's
``ingested_at`` (migration 0010: what point reads filter on to prune).
"""

import orjson

from memscore_core.store.queries import each


def rows(name: str, columns: dict[str, str]) -> str:
    """A CTE ``name`` of the rows of one JSON parameter (a list of objects with these columns and SQL types)."""
    shape = orjson.dumps([columns]).decode()
    return f"{name} AS (SELECT unnest(from_json(?, '{shape}'), recursive := true))"


HEAD_COLUMNS = {"r": "INTEGER", "content_hash": "VARCHAR", "model": "VARCHAR", "config_hash": "VARCHAR",
                "run_id": "VARCHAR", "conversation_id": "VARCHAR", "strategy": "VARCHAR", "scored_at": "TIMESTAMPTZ",
                "requests": "BIGINT", "prompt_tokens": "BIGINT", "chunks": "VARCHAR", "chunk_strategies": "VARCHAR",
                "noise_floor": "DOUBLE", "noise_floor_method": "VARCHAR"}
CELL_COLUMNS = {"r": "INTEGER", "memory_key": "VARCHAR", "memory_idx": "INTEGER", "memory_entry_idx": "INTEGER",
                "column_idx": "INTEGER", "response_entry_idx": "INTEGER", "divergence": "DOUBLE", "signed": "DOUBLE",
                "tokens": "INTEGER", "method": "VARCHAR", "screened": "DOUBLE"}
RESPONSE_COLUMNS = {"r": "INTEGER", "column_idx": "INTEGER", "response_entry_idx": "INTEGER", "score": "DOUBLE",
                    "drop_all": "DOUBLE", "tokens": "INTEGER", "fit_r2": "DOUBLE"}
CONVERSATION_COLUMNS = {"conversation_id": "VARCHAR", "content_hash": "VARCHAR", "source_file": "VARCHAR",
                        "ingested_at": "TIMESTAMPTZ", "meta": "VARCHAR", "system_prompt": "VARCHAR",
                        "context": "VARCHAR", "tools": "VARCHAR", "system_memories": "VARCHAR",
                        "source_format": "VARCHAR"}
ENTRY_COLUMNS = {"conversation_id": "VARCHAR", "content_hash": "VARCHAR", "entry_idx": "INTEGER", "role": "VARCHAR",
                 "memory_key": "VARCHAR", "content": "VARCHAR", "reasoning": "VARCHAR", "tool_call_id": "VARCHAR",
                 "tool_calls": "VARCHAR", "name": "VARCHAR", "ingested_at": "TIMESTAMPTZ"}

WANTED_RESULTS = f"""wanted AS (SELECT {each("VARCHAR")} AS content_hash, {each("VARCHAR")} AS model,
                          {each("VARCHAR")} AS config_hash)"""
STORED_RESULTS = f"""
WITH {WANTED_RESULTS}
SELECT DISTINCT content_hash, model, config_hash FROM results SEMI JOIN wanted USING (content_hash, model, config_hash)
"""
DELETE_RESULTS = [f"""
DELETE FROM {table} USING (SELECT {each("VARCHAR")} AS content_hash, {each("VARCHAR")} AS model,
                                  {each("VARCHAR")} AS config_hash) AS stored
WHERE {table}.content_hash = stored.content_hash AND {table}.model = stored.model
  AND {table}.config_hash = stored.config_hash
""" for table in ("scores", "responses", "memory_summary", "results")]
"""Parameters: the stored results' keys as three lists; one statement per table, whatever the batch: on a DuckLake
each DELETE reads the table's file list and files, so a statement per result made rescoring a batch ~80 scans."""

HEADS = rows("heads", HEAD_COLUMNS)
"""Parameter: the results, one object each."""
CELLS = rows("cells", CELL_COLUMNS)
"""Parameter: the cells, one object each."""

INSERT_RESULTS = f"""
INSERT INTO results (content_hash, model, config_hash, conversation_id, run_id, strategy, scored_at, requests,
                     prompt_tokens, chunks, chunk_strategies, noise_floor, noise_floor_method)
WITH {HEADS}
SELECT content_hash, model, config_hash, conversation_id, run_id, strategy, scored_at, requests, prompt_tokens,
       chunks::JSON, chunk_strategies::JSON, noise_floor, noise_floor_method::JSON
FROM heads
"""
INSERT_SCORES = f"""
INSERT INTO scores (content_hash, model, config_hash, run_id, conversation_id, memory_key, memory_idx,
                    memory_entry_idx, column_idx, response_entry_idx, divergence, signed, tokens, method, screened,
                    scored_at)
WITH {HEADS}, {CELLS}
SELECT h.content_hash, h.model, h.config_hash, h.run_id, h.conversation_id, c.memory_key, c.memory_idx,
       c.memory_entry_idx, c.column_idx, c.response_entry_idx, c.divergence, c.signed, c.tokens, c.method, c.screened,
       h.scored_at
FROM cells c JOIN heads h USING (r)
"""
INSERT_MEMORY_SUMMARY = f"""
INSERT INTO memory_summary (content_hash, model, config_hash, run_id, conversation_id, strategy, scored_at, memory_key,
                            memory_idx, memory_entry_idx, importance, max, cells, screened, helped, key_first)
WITH {HEADS}, {CELLS}, summarised AS (
    SELECT h.content_hash, h.model, h.config_hash, h.run_id, h.conversation_id, h.strategy, h.scored_at,
           c.memory_key, c.memory_idx, c.memory_entry_idx,
           sum(c.divergence::DECIMAL(18, 12))::DOUBLE AS importance,
           max(c.divergence) AS max,
           count(c.divergence) AS cells,
           count(c.screened) FILTER (WHERE c.divergence IS NULL) AS screened,
           to_json(list(c.response_entry_idx ORDER BY c.column_idx)
                   FILTER (WHERE c.divergence > 0 AND c.response_entry_idx IS NOT NULL))::VARCHAR AS helped
    FROM cells c JOIN heads h USING (r)
    GROUP BY h.content_hash, h.model, h.config_hash, h.run_id, h.conversation_id, h.strategy, h.scored_at,
             c.memory_key, c.memory_idx, c.memory_entry_idx)
SELECT *, (cells > 0 OR screened > 0) AND row_number() OVER (
           PARTITION BY content_hash, model, config_hash, memory_key, cells > 0 OR screened > 0
           ORDER BY memory_idx) = 1
FROM summarised
"""
"""Each memory row's summary, computed as migration 0009 computes it for the results stored before it."""
INSERT_RESPONSES = f"""
INSERT INTO responses (content_hash, model, config_hash, run_id, conversation_id, column_idx, response_entry_idx,
                       score, drop_all, tokens, fit_r2, scored_at)
WITH {HEADS}, {rows("columns", RESPONSE_COLUMNS)}
SELECT h.content_hash, h.model, h.config_hash, h.run_id, h.conversation_id, p.column_idx, p.response_entry_idx,
       p.score, p.drop_all, p.tokens, p.fit_r2, h.scored_at
FROM columns p JOIN heads h USING (r)
"""

WANTED_CONVERSATIONS = f"""wanted AS (SELECT {each("VARCHAR")} AS conversation_id,
                                {each("VARCHAR")} AS content_hash)"""
STORED_CONVERSATIONS = f"""
WITH {WANTED_CONVERSATIONS}
SELECT DISTINCT conversation_id, content_hash FROM conversations SEMI JOIN wanted USING (conversation_id, content_hash)
"""
INSERT_CONVERSATIONS = f"""
INSERT INTO conversations (conversation_id, content_hash, source_file, ingested_at, meta, system_prompt, context,
                           tools, system_memories, source_format)
WITH {rows("added", CONVERSATION_COLUMNS)}
SELECT conversation_id, content_hash, source_file, ingested_at, meta::JSON, system_prompt, context, tools::JSON,
       system_memories::JSON, source_format
FROM added
"""
INSERT_ENTRIES = f"""
INSERT INTO entries (conversation_id, content_hash, entry_idx, role, memory_key, content, reasoning, tool_call_id,
                     tool_calls, name, ingested_at)
WITH {rows("added", ENTRY_COLUMNS)}
SELECT conversation_id, content_hash, entry_idx, role, memory_key, content, reasoning, tool_call_id, tool_calls::JSON,
       name, ingested_at
FROM added
"""
