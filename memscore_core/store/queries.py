"""Every SQL statement memscore runs, parameterised; the schema itself lives in ``migrations/``.

A list parameter travels as one JSON text (``from_json(?, '["TYPE"]')``, made by :func:`listed`): duckdb's
Python binding converts a Python list element by element, importing pandas for each (~2 failed imports
of a package that is not installed per element, 39 vs 12 ms per stored result)."""

from collections.abc import Sequence
from typing import Any

import orjson


def values(sql_type: str) -> str:
    """A list parameter sent with :func:`listed`, as a list of ``sql_type``."""
    return f"from_json(?, '[\"{sql_type}\"]')"


def each(sql_type: str) -> str:
    """One row per element of a list parameter sent with :func:`listed`."""
    return f"unnest({values(sql_type)})"


MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER NOT NULL, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)
"""
APPLIED_VERSIONS = "SELECT DISTINCT version FROM schema_migrations ORDER BY version"
RECORD_MIGRATION = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"
BUMP_KEYED_WRITES = "UPDATE keyed_writes SET writes = writes + 1, last_write_at = ? WHERE scope = 'store'"

CONVERSATION = """
SELECT system_prompt, context, meta, tools, system_memories, source_format, ingested_at
FROM conversations WHERE conversation_id = ? AND content_hash = ?
ORDER BY ingested_at LIMIT 1
"""
"""A conversation's head, ending with its ``ingested_at`` (what :data:`ENTRIES_OF` prunes by)."""
ENTRIES_OF = """
SELECT entry_idx, role, memory_key, content, reasoning, tool_call_id, tool_calls, name FROM entries
WHERE conversation_id = ? AND content_hash = ? AND ingested_at = ? ORDER BY entry_idx
"""
"""A conversation's entries; the last parameter is its head's ``ingested_at`` (migration 0010: the scan skips every
row group and file whose range of ``ingested_at`` misses it)."""

INSERT_RUN = """
INSERT INTO scoring_runs (run_id, flow_run_id, model, backend, strategy, config, config_hash, started_at, status,
                          parent_run_id, host)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)
"""
FINISH_RUN = """
UPDATE scoring_runs SET finished_at = ?, status = ?, requests = ?, prompt_tokens = ?, noise_floor = ?,
                        noise_floor_method = ?
WHERE run_id = ?
"""
RUN_COLUMNS = """run_id, flow_run_id, model, backend, strategy, config, config_hash, started_at, finished_at, status,
                 requests, prompt_tokens, noise_floor, noise_floor_method, parent_run_id, host"""
RUNS = f"SELECT {RUN_COLUMNS} FROM scoring_runs ORDER BY started_at, run_id"
RUN = f"SELECT {RUN_COLUMNS} FROM scoring_runs WHERE run_id = ?"

RESULT_KEY = "content_hash = ? AND model = ? AND config_hash = ?"
HAS_RESULT = f"SELECT count(*) FROM results WHERE {RESULT_KEY}"
SCORED_HASHES = "SELECT DISTINCT content_hash FROM results WHERE model = ? AND config_hash = ?"
INSERT_INGEST_ERROR = """
INSERT INTO ingest_errors (error_key, run_id, file, line, conversation_id, field, message, recorded_at)
SELECT k, r, f, l, c, fd, m, t
FROM (SELECT md5(json_array(f, l, c, fd, m)::VARCHAR) AS k, *
      FROM (SELECT ?::VARCHAR AS r, ?::VARCHAR AS f, ?::INTEGER AS l, ?::VARCHAR AS c, ?::VARCHAR AS fd,
                   ?::VARCHAR AS m, ?::TIMESTAMPTZ AS t))
WHERE NOT EXISTS (SELECT 1 FROM ingest_errors e WHERE e.error_key = k)
"""

TOP_MEMORIES = """
SELECT memory_key, conversations, importance, mean, max, last_scored, cells, screened
FROM memory_importance
WHERE starts_with(memory_key, ?)
ORDER BY importance DESC NULLS LAST, memory_key
LIMIT ?
"""
TOP_MEMORIES_OF_CONVERSATION = """
SELECT memory_key, count(DISTINCT conversation_id), sum(importance::DECIMAL(38, 12))::DOUBLE,
       avg(importance::DECIMAL(38, 12))::DOUBLE, max(importance),
       max(scored_at), sum(cells)::BIGINT, sum(screened)::BIGINT
FROM memory_rows
WHERE starts_with(memory_key, ?) AND conversation_id = ?
GROUP BY memory_key
ORDER BY 3 DESC NULLS LAST, memory_key
LIMIT ?
"""

RESULT_HEAD = """content_hash, model, config_hash, run_id, strategy, scored_at, requests, prompt_tokens, chunks,
       chunk_strategies, conversation_id, noise_floor, noise_floor_method"""
LATEST_RESULT = f"SELECT {RESULT_HEAD} FROM latest_results WHERE conversation_id = ?"
RESULT_BY_KEY = f"SELECT {RESULT_HEAD} FROM results WHERE {RESULT_KEY} ORDER BY scored_at DESC, run_id DESC LIMIT 1"
RESULT_CELLS = f"""
SELECT memory_idx, column_idx, memory_key, memory_entry_idx, divergence, signed, screened
FROM scores WHERE {RESULT_KEY} AND conversation_id = ? AND scored_at = ?
ORDER BY memory_idx, column_idx
"""
"""One result's cells; the last parameter is its ``scored_at`` (migration 0010: what the scan prunes by)."""
RESULT_RESPONSES = f"""
SELECT column_idx, response_entry_idx, score, drop_all, tokens, fit_r2
FROM responses WHERE {RESULT_KEY} AND scored_at = ?
ORDER BY column_idx
"""
WANTED_KEYS = f"""wanted AS (SELECT {each("VARCHAR")} AS content_hash, {each("VARCHAR")} AS model,
                          {each("VARCHAR")} AS config_hash)"""
WANTED_PAIRS = f"""wanted AS (SELECT {each("VARCHAR")} AS conversation_id, {each("VARCHAR")} AS content_hash)"""
RESULTS_BY_KEYS = f"""
WITH {WANTED_KEYS}
SELECT {RESULT_HEAD} FROM results JOIN wanted USING (content_hash, model, config_hash)
QUALIFY row_number() OVER (PARTITION BY content_hash, model, config_hash ORDER BY scored_at DESC, run_id DESC) = 1
"""
CELLS_BY_KEYS = f"""
WITH {WANTED_KEYS}
SELECT content_hash, model, config_hash, memory_idx, column_idx, memory_key, memory_entry_idx, divergence, signed,
       screened
FROM scores JOIN wanted USING (content_hash, model, config_hash)
ORDER BY content_hash, model, config_hash, memory_idx, column_idx
"""
RESPONSES_BY_KEYS = f"""
WITH {WANTED_KEYS}
SELECT content_hash, model, config_hash, column_idx, response_entry_idx, score, drop_all, tokens, fit_r2
FROM responses JOIN wanted USING (content_hash, model, config_hash)
ORDER BY content_hash, model, config_hash, column_idx
"""
NUMBERED_KEYS = f"""wanted AS (SELECT {each("VARCHAR")} AS content_hash, {each("VARCHAR")} AS model,
                                {each("VARCHAR")} AS config_hash, {each("INTEGER")} AS number)"""
CELLS_BY_NUMBERED_KEYS = f"""
WITH {NUMBERED_KEYS}
SELECT number, memory_idx, column_idx, memory_key, memory_entry_idx, divergence, signed, screened
FROM scores JOIN wanted USING (content_hash, model, config_hash)
ORDER BY number, memory_idx, column_idx
"""
RESPONSES_BY_NUMBERED_KEYS = f"""
WITH {NUMBERED_KEYS}
SELECT number, column_idx, response_entry_idx, score, drop_all, tokens, fit_r2
FROM responses JOIN wanted USING (content_hash, model, config_hash)
ORDER BY number, column_idx
"""
CONVERSATIONS_BY_PAIRS = f"""
WITH {WANTED_PAIRS}
SELECT conversation_id, content_hash, system_prompt, context, meta, tools, system_memories, source_format
FROM conversations JOIN wanted USING (conversation_id, content_hash)
QUALIFY row_number() OVER (PARTITION BY conversation_id, content_hash ORDER BY ingested_at) = 1
"""
ENTRIES_BY_PAIRS = f"""
WITH {WANTED_PAIRS}
SELECT conversation_id, content_hash, entry_idx, role, memory_key, content, reasoning, tool_call_id, tool_calls, name
FROM entries JOIN wanted USING (conversation_id, content_hash)
ORDER BY conversation_id, content_hash, entry_idx
"""
TABLES = """
SELECT table_name FROM information_schema.tables
WHERE table_catalog = current_database() AND table_schema = current_schema()
ORDER BY table_name
"""
BASE_TABLES = """
SELECT table_name FROM information_schema.tables
WHERE table_catalog = current_database() AND table_schema = current_schema() AND table_type = 'BASE TABLE'
ORDER BY table_name
"""
INLINING_SET = """
SELECT scope_entry, value FROM ducklake_options('lake')
WHERE option_name = 'data_inlining_row_limit' AND scope = 'TABLE' AND scope_entry IS NOT NULL
"""
"""Each table's inlining limit where one is set; a table a migration dropped keeps its option, with no name."""
SET_INLINING = "CALL lake.set_option('data_inlining_row_limit', ?::BIGINT, table_name => ?)"
COLUMNS = """
SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
WHERE table_catalog = current_database() AND table_schema = current_schema()
ORDER BY table_name, ordinal_position
"""


def count_rows(table: str) -> str:
    """Count the rows of ``table`` (a name the caller has checked against :data:`TABLES`)."""
    return f'SELECT count(*) FROM "{table}"'

DEPENDENCE = "coalesce(drop_all_per_token, dependence_per_token)"
REFRESH_CANDIDATES = f"""
INSERT INTO candidates (candidate_id, conversation_id, content_hash, model, config_hash, response_entry_idx,
                        dependence, status, created_at)
SELECT (SELECT coalesce(max(candidate_id), 0) FROM candidates)
           + row_number() OVER (ORDER BY d.conversation_id, d.response_entry_idx, l.model, l.config_hash),
       d.conversation_id, l.content_hash, l.model, l.config_hash, d.response_entry_idx, {DEPENDENCE},
       CASE WHEN ? IS NOT NULL AND {DEPENDENCE} >= ? THEN 'approved' ELSE 'pending' END, ?
FROM response_dependence d
JOIN latest_results l USING (conversation_id)
WHERE {DEPENDENCE} >= ? AND d.response_entry_idx IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM candidates c
                  WHERE c.content_hash = l.content_hash AND c.model = l.model AND c.config_hash = l.config_hash
                    AND c.response_entry_idx = d.response_entry_idx)
"""
CANDIDATE_COLUMNS = """candidate_id, conversation_id, content_hash, model, config_hash, response_entry_idx,
                       dependence, status"""
LIST_CANDIDATES = f"""
SELECT {CANDIDATE_COLUMNS} FROM candidates
WHERE (? IS NULL OR status = ?) AND dependence >= ?
ORDER BY dependence DESC, candidate_id
"""
SET_CANDIDATE_STATUS = "UPDATE candidates SET status = ?, reviewed_at = ? WHERE candidate_id = ?"
CANDIDATE_EXISTS = "SELECT count(*) FROM candidates WHERE candidate_id = ?"
SELECT_FOR_EXPORT = """
SELECT c.candidate_id, c.conversation_id, c.content_hash, c.model, c.config_hash, c.response_entry_idx,
       c.dependence, c.status, l.run_id, l.scored_at
FROM candidates c
JOIN latest_results l USING (content_hash, model, config_hash)
WHERE c.dependence >= ? AND (c.status = 'approved' OR (NOT ? AND c.status = 'pending'))
ORDER BY c.conversation_id, c.response_entry_idx
"""
WANTED_RESPONSES = f"""wanted AS (SELECT {each("VARCHAR")} AS content_hash, {each("VARCHAR")} AS model,
                               {each("VARCHAR")} AS config_hash, {each("INTEGER")} AS response_entry_idx)"""
TOP_MEMORIES_OF_RESPONSES = f"""
WITH {WANTED_RESPONSES}
SELECT content_hash, model, config_hash, response_entry_idx, memory_key, divergence
FROM scores JOIN wanted USING (content_hash, model, config_hash, response_entry_idx)
WHERE divergence IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY content_hash, model, config_hash, response_entry_idx
                           ORDER BY divergence DESC, memory_idx) <= ?
ORDER BY content_hash, model, config_hash, response_entry_idx, divergence DESC, memory_idx
"""
CELLS_OF_RESPONSES = f"""
WITH {WANTED_RESPONSES}
SELECT content_hash, model, config_hash, response_entry_idx, count(divergence),
       count(screened) FILTER (WHERE divergence IS NULL)
FROM scores JOIN wanted USING (content_hash, model, config_hash, response_entry_idx)
GROUP BY content_hash, model, config_hash, response_entry_idx
"""
INSERT_EXPORT = """
INSERT INTO exports (export_id, name, format, directory, selection, n_examples, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
"""
INSERT_EXPORT_ITEMS = f"""
INSERT INTO export_items (export_id, example_idx, candidate_id, conversation_id, content_hash, model, config_hash,
                          response_entry_idx, dependence)
SELECT ?, {each("INTEGER")}, {each("BIGINT")}, {each("VARCHAR")}, {each("VARCHAR")}, {each("VARCHAR")},
       {each("VARCHAR")}, {each("INTEGER")}, {each("DOUBLE")}
"""

MEMORY_OBSERVATIONS = """
SELECT m.memory_key, m.conversation_id, m.importance / nullif(m.cells, 0) AS normalised, epoch_us(m.scored_at)
FROM memory_rows m
LEFT JOIN memory_weights w USING (memory_key)
WHERE m.cells > 0 AND (w.last_scored_at IS NULL OR m.scored_at > w.last_scored_at)
ORDER BY m.memory_key, m.scored_at, m.conversation_id
"""
MEMORY_WEIGHTS = "SELECT memory_key, weight, n_scored, last_scored_at FROM memory_weights ORDER BY memory_key"
DELETE_MEMORY_WEIGHTS = f"DELETE FROM memory_weights WHERE list_contains({values('VARCHAR')}, memory_key)"
INSERT_MEMORY_WEIGHTS = f"""
INSERT INTO memory_weights (memory_key, weight, n_scored, last_scored_at, updated_at)
SELECT {each("VARCHAR")}, {each("DOUBLE")}, {each("INTEGER")}, {each("TIMESTAMPTZ")}, ?
"""
STALE_MEMORIES = """
SELECT memory_key, weight, n_scored, last_scored_at FROM memory_weights
WHERE last_scored_at < ? ORDER BY last_scored_at, memory_key
"""


def listed(values: Sequence[Any]) -> str:
    """A list parameter: JSON text for ``from_json(?, '["TYPE"]')``."""
    return orjson.dumps(list(values), default=str).decode()
