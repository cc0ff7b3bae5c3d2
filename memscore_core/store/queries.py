"""Every SQL statement memscore runs, parameterised; the schema itself lives in ``migrations/``."""

MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)
"""
APPLIED_VERSIONS = "SELECT version FROM schema_migrations ORDER BY version"
RECORD_MIGRATION = "INSERT INTO schema_migrations VALUES (?, ?, ?)"

INSERT_CONVERSATION = """
INSERT INTO conversations (conversation_id, content_hash, source_file, ingested_at, meta, system_prompt, context)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (conversation_id, content_hash) DO NOTHING
"""
INSERT_ENTRIES = """
INSERT INTO entries (conversation_id, content_hash, entry_idx, role, memory_key, content, reasoning, tool_call_id)
SELECT ?, ?, unnest(?::INTEGER[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]),
       unnest(?::VARCHAR[]), unnest(?::VARCHAR[])
ON CONFLICT DO NOTHING
"""

INSERT_RUN = "INSERT INTO scoring_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 'running', NULL, NULL)"
FINISH_RUN = """
UPDATE scoring_runs SET finished_at = ?, status = ?, requests = ?, prompt_tokens = ? WHERE run_id = ?
"""

RESULT_KEY = "content_hash = ? AND model = ? AND config_hash = ?"
HAS_RESULT = f"SELECT count(*) FROM results WHERE {RESULT_KEY}"
SCORED_HASHES = "SELECT content_hash FROM results WHERE model = ? AND config_hash = ?"
DELETE_RESULT = [f"DELETE FROM {table} WHERE {RESULT_KEY}" for table in ("scores", "responses", "results")]
INSERT_RESULT = "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_SCORES = """
INSERT INTO scores
SELECT ?, ?, ?, ?, ?, unnest(?::VARCHAR[]), unnest(?::INTEGER[]), unnest(?::INTEGER[]), unnest(?::DOUBLE[]),
       unnest(?::DOUBLE[]), unnest(?::INTEGER[])
"""
INSERT_RESPONSES = """
INSERT INTO responses
SELECT ?, ?, ?, ?, ?, unnest(?::INTEGER[]), unnest(?::DOUBLE[]), unnest(?::DOUBLE[]), unnest(?::INTEGER[])
"""

INSERT_INGEST_ERROR = """
INSERT INTO ingest_errors (error_key, run_id, file, line, conversation_id, field, message, recorded_at)
SELECT md5(json_array(f, l, c, fd, m)::VARCHAR), r, f, l, c, fd, m, t
FROM (SELECT ?::VARCHAR AS r, ?::VARCHAR AS f, ?::INTEGER AS l, ?::VARCHAR AS c, ?::VARCHAR AS fd,
             ?::VARCHAR AS m, ?::TIMESTAMPTZ AS t)
ON CONFLICT DO NOTHING
"""

TOP_MEMORIES = """
SELECT memory_key, conversations, importance, mean, max, last_scored
FROM memory_importance
WHERE starts_with(memory_key, ?)
ORDER BY importance DESC, memory_key
LIMIT ?
"""
TOP_MEMORIES_OF_CONVERSATION = """
SELECT memory_key, count(DISTINCT conversation_id), sum(importance), avg(importance), max(importance),
       max(scored_at)
FROM memory_rows
WHERE starts_with(memory_key, ?) AND conversation_id = ?
GROUP BY memory_key
ORDER BY 3 DESC, memory_key
LIMIT ?
"""

LATEST_RESULT = """
SELECT content_hash, model, config_hash, run_id, strategy, scored_at, requests, prompt_tokens, chunks
FROM latest_results WHERE conversation_id = ?
"""
RESULT_BY_KEY = f"""
SELECT content_hash, model, config_hash, run_id, strategy, scored_at, requests, prompt_tokens, chunks,
       conversation_id
FROM results WHERE {RESULT_KEY}
"""
RESULT_CELLS = f"""
SELECT memory_key, memory_entry_idx, response_entry_idx, divergence, signed, tokens
FROM scores WHERE {RESULT_KEY}
ORDER BY memory_entry_idx, response_entry_idx
"""
RESULT_RESPONSES = f"""
SELECT response_entry_idx, score, drop_all, tokens
FROM responses WHERE {RESULT_KEY}
ORDER BY response_entry_idx
"""
CONVERSATION_ENTRIES = """
SELECT entry_idx, role, memory_key, content, reasoning
FROM entries WHERE conversation_id = ? AND content_hash = ?
ORDER BY entry_idx
"""
RUNS = "SELECT * FROM scoring_runs ORDER BY started_at"
RUN = "SELECT * FROM scoring_runs WHERE run_id = ?"
TABLES = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name"


def count_rows(table: str) -> str:
    """Count the rows of ``table`` (a name the caller has checked against :data:`TABLES`)."""
    return f'SELECT count(*) FROM "{table}"'

DEPENDENCE = "coalesce(drop_all_per_token, dependence_per_token)"
REFRESH_CANDIDATES = f"""
INSERT INTO candidates (conversation_id, content_hash, model, config_hash, response_entry_idx, dependence,
                        status, created_at)
SELECT d.conversation_id, l.content_hash, l.model, l.config_hash, d.response_entry_idx, {DEPENDENCE},
       CASE WHEN ? IS NOT NULL AND {DEPENDENCE} >= ? THEN 'approved' ELSE 'pending' END, ?
FROM response_dependence d
JOIN latest_results l USING (conversation_id)
WHERE {DEPENDENCE} >= ?
ON CONFLICT (content_hash, model, config_hash, response_entry_idx) DO NOTHING
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
ENTRIES_OF = """
SELECT entry_idx, role, memory_key, content, reasoning, tool_call_id FROM entries
WHERE conversation_id = ? AND content_hash = ? ORDER BY entry_idx
"""
CONVERSATION_PROMPTS = "SELECT system_prompt, context FROM conversations WHERE conversation_id = ? AND content_hash = ?"
RESPONSE_TOP_MEMORIES = f"""
SELECT memory_key, divergence FROM scores
WHERE {RESULT_KEY} AND response_entry_idx = ? AND divergence IS NOT NULL
ORDER BY divergence DESC, memory_entry_idx LIMIT ?
"""
INSERT_EXPORT = "INSERT INTO exports VALUES (?, ?, ?, ?, ?, ?, ?)"
INSERT_EXPORT_ITEM = "INSERT INTO export_items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"

MEMORY_OBSERVATIONS = """
SELECT m.memory_key, m.conversation_id, m.importance / nullif(m.cells, 0) AS normalised, m.scored_at
FROM memory_rows m
LEFT JOIN memory_weights w USING (memory_key)
WHERE w.last_scored_at IS NULL OR m.scored_at > w.last_scored_at
ORDER BY m.memory_key, m.scored_at, m.conversation_id
"""
MEMORY_WEIGHTS = "SELECT memory_key, weight, n_scored, last_scored_at FROM memory_weights ORDER BY memory_key"
UPSERT_MEMORY_WEIGHT = """
INSERT INTO memory_weights VALUES (?, ?, ?, ?, ?)
ON CONFLICT (memory_key) DO UPDATE SET weight = excluded.weight, n_scored = excluded.n_scored,
    last_scored_at = excluded.last_scored_at, updated_at = excluded.updated_at
"""
STALE_MEMORIES = """
SELECT memory_key, weight, n_scored, last_scored_at FROM memory_weights
WHERE last_scored_at < ? ORDER BY last_scored_at, memory_key
"""
