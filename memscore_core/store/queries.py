"""Every SQL statement memscore runs, parameterised; the schema itself lives in ``migrations/``."""

MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)
"""
APPLIED_VERSIONS = "SELECT version FROM schema_migrations ORDER BY version"
RECORD_MIGRATION = "INSERT INTO schema_migrations VALUES (?, ?, ?)"

INSERT_CONVERSATION = """
INSERT INTO conversations VALUES (?, ?, ?, ?, ?)
ON CONFLICT (conversation_id, content_hash) DO NOTHING
"""
INSERT_ENTRIES = """
INSERT INTO entries
SELECT ?, ?, unnest(?::INTEGER[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]),
       unnest(?::VARCHAR[])
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

INSERT_INGEST_ERROR = "INSERT INTO ingest_errors VALUES (?, ?, ?, ?, ?, ?, ?)"

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
TABLES = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name"


def count_rows(table: str) -> str:
    """Count the rows of ``table`` (a name the caller has checked against :data:`TABLES`)."""
    return f'SELECT count(*) FROM "{table}"'
