"""The statements that write conversations and results, many at a time (a list parameter per column, see
:mod:`memscore_core.store.queries`): one result or thousands go through the same statements.

A result's cells and responses name their result by its position ``r`` in the batch's ``heads``; the memory
summary (migration 0009) is computed here from the very cells the same transaction writes.
"""

from memscore_core.store.queries import each

WANTED_RESULTS = f"""wanted AS (SELECT {each("VARCHAR")} AS content_hash, {each("VARCHAR")} AS model,
                          {each("VARCHAR")} AS config_hash)"""
STORED_RESULTS = f"""
WITH {WANTED_RESULTS}
SELECT DISTINCT content_hash, model, config_hash FROM results SEMI JOIN wanted USING (content_hash, model, config_hash)
"""
RESULT_KEY = "content_hash = ? AND model = ? AND config_hash = ?"
DELETE_RESULT = [f"DELETE FROM {table} WHERE {RESULT_KEY}"
                 for table in ("scores", "responses", "memory_summary", "results")]

HEADS = f"""heads AS (
    SELECT {each("INTEGER")} AS r, {each("VARCHAR")} AS content_hash, {each("VARCHAR")} AS model,
           {each("VARCHAR")} AS config_hash, {each("VARCHAR")} AS run_id, {each("VARCHAR")} AS conversation_id,
           {each("VARCHAR")} AS strategy, {each("TIMESTAMPTZ")} AS scored_at)"""
"""Parameters: 8 lists, one element per result."""
CELLS = f"""cells AS (
    SELECT {each("INTEGER")} AS r, {each("VARCHAR")} AS memory_key, {each("INTEGER")} AS memory_idx,
           {each("INTEGER")} AS memory_entry_idx, {each("INTEGER")} AS column_idx,
           {each("INTEGER")} AS response_entry_idx, {each("DOUBLE")} AS divergence, {each("DOUBLE")} AS signed,
           {each("INTEGER")} AS tokens, {each("VARCHAR")} AS method, {each("DOUBLE")} AS screened)"""
"""Parameters: 11 lists, one element per cell."""

INSERT_RESULTS = f"""
INSERT INTO results (content_hash, model, config_hash, conversation_id, run_id, strategy, scored_at, requests,
                     prompt_tokens, chunks, chunk_strategies, noise_floor, noise_floor_method)
WITH {HEADS}, rest AS (
    SELECT {each("INTEGER")} AS r, {each("BIGINT")} AS requests, {each("BIGINT")} AS prompt_tokens,
           {each("VARCHAR")} AS chunks, {each("VARCHAR")} AS chunk_strategies, {each("DOUBLE")} AS noise_floor,
           {each("VARCHAR")} AS noise_floor_method)
SELECT h.content_hash, h.model, h.config_hash, h.conversation_id, h.run_id, h.strategy, h.scored_at, t.requests,
       t.prompt_tokens, t.chunks::JSON, t.chunk_strategies::JSON, t.noise_floor, t.noise_floor_method::JSON
FROM heads h JOIN rest t USING (r)
"""
INSERT_SCORES = f"""
INSERT INTO scores (content_hash, model, config_hash, run_id, conversation_id, memory_key, memory_idx,
                    memory_entry_idx, column_idx, response_entry_idx, divergence, signed, tokens, method, screened)
WITH {HEADS}, {CELLS}
SELECT h.content_hash, h.model, h.config_hash, h.run_id, h.conversation_id, c.memory_key, c.memory_idx,
       c.memory_entry_idx, c.column_idx, c.response_entry_idx, c.divergence, c.signed, c.tokens, c.method, c.screened
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
                       score, drop_all, tokens, fit_r2)
WITH {HEADS}, columns AS (
    SELECT {each("INTEGER")} AS r, {each("INTEGER")} AS column_idx, {each("INTEGER")} AS response_entry_idx,
           {each("DOUBLE")} AS score, {each("DOUBLE")} AS drop_all, {each("INTEGER")} AS tokens,
           {each("DOUBLE")} AS fit_r2)
SELECT h.content_hash, h.model, h.config_hash, h.run_id, h.conversation_id, p.column_idx, p.response_entry_idx,
       p.score, p.drop_all, p.tokens, p.fit_r2
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
SELECT {each("VARCHAR")}, {each("VARCHAR")}, {each("VARCHAR")}, {each("TIMESTAMPTZ")}, {each("VARCHAR")}::JSON,
       {each("VARCHAR")}, {each("VARCHAR")}, {each("VARCHAR")}::JSON, {each("VARCHAR")}::JSON, {each("VARCHAR")}
"""
INSERT_ENTRIES = f"""
INSERT INTO entries (conversation_id, content_hash, entry_idx, role, memory_key, content, reasoning, tool_call_id,
                     tool_calls, name)
SELECT {each("VARCHAR")}, {each("VARCHAR")}, {each("INTEGER")}, {each("VARCHAR")}, {each("VARCHAR")},
       {each("VARCHAR")}, {each("VARCHAR")}, {each("VARCHAR")}, {each("VARCHAR")}::JSON, {each("VARCHAR")}
"""
