"""The SQL behind ``memscore ui``'s pages, parameterised; aggregated and paginated in the database.

Every statement takes the dashboard's filters through :func:`scope` (model, strategy, scored-at range on the
result ``l``) and, where it lists memories or responses, a memory-key prefix. Importance sums exact cells only,
as ``memscore top`` does; screened estimates are counted beside them.
"""

from memscore_core.store.queries import RUN_COLUMNS


def scope(alias: str = "l", time_column: str = "scored_at") -> str:
    """The filter on a result (or run) ``alias``: 8 parameters from ``Filters.parameters()``."""
    return (f"(?::VARCHAR IS NULL OR {alias}.model = ?) AND (?::VARCHAR IS NULL OR {alias}.strategy = ?) "
            f"AND (?::TIMESTAMPTZ IS NULL OR {alias}.{time_column} >= ?) "
            f"AND (?::TIMESTAMPTZ IS NULL OR {alias}.{time_column} < ?)")


RESULT_KEY_JOIN = "USING (content_hash, model, config_hash)"
HAS_PREFIX = """(? = '' OR EXISTS (SELECT 1 FROM scores s WHERE s.content_hash = l.content_hash AND s.model = l.model
                   AND s.config_hash = l.config_hash AND starts_with(s.memory_key, ?)))"""

CHOICES = """
SELECT 'model' AS kind, model AS value FROM (SELECT DISTINCT model FROM results)
UNION ALL
SELECT 'strategy', strategy FROM (SELECT DISTINCT strategy FROM results)
ORDER BY kind, value
"""

ACTIVITY = f"""
SELECT l.scored_at::DATE AS day, count(*) AS conversations, sum(l.requests)::BIGINT, sum(l.prompt_tokens)::BIGINT
FROM results l
WHERE {scope()}
GROUP BY day ORDER BY day
"""

MEMORY_TRENDS = f"""
WITH cells AS (
    SELECT s.memory_key, l.scored_at, l.conversation_id, s.divergence, s.screened
    FROM scores s JOIN latest_results l {RESULT_KEY_JOIN}
    WHERE starts_with(s.memory_key, ?) AND {scope()}
), top AS (
    SELECT memory_key, sum(divergence) AS importance, count(DISTINCT conversation_id) AS conversations,
           count(divergence) AS exact, count(screened) FILTER (WHERE divergence IS NULL) AS screened
    FROM cells GROUP BY memory_key
    ORDER BY importance DESC NULLS LAST, memory_key LIMIT ?
)
SELECT t.memory_key, t.importance, t.conversations, t.exact, t.screened,
       date_trunc('week', c.scored_at)::DATE AS week, sum(c.divergence)
FROM top t JOIN cells c USING (memory_key)
GROUP BY ALL
ORDER BY t.importance DESC NULLS LAST, t.memory_key, week
"""

DEPENDENCE_BINS = f"""
SELECT least(floor(coalesce(p.drop_all, p.score) / p.tokens / ?), ?)::INTEGER AS bin, count(*)
FROM responses p JOIN latest_results l {RESULT_KEY_JOIN}
WHERE p.tokens > 0 AND {scope()}
GROUP BY bin ORDER BY bin
"""

LATEST_RUNS = f"""
SELECT {RUN_COLUMNS} FROM scoring_runs l
WHERE {scope(time_column="started_at")}
ORDER BY started_at DESC, run_id LIMIT ?
"""

CONVERSATIONS = f"""
SELECT l.conversation_id, l.model, l.strategy, l.scored_at, l.requests, l.prompt_tokens, count(*) OVER () AS total
FROM latest_results l
WHERE {scope()} AND {HAS_PREFIX}
ORDER BY l.scored_at DESC, l.conversation_id
LIMIT ? OFFSET ?
"""

MEMORY_KNOWN = "SELECT EXISTS (SELECT 1 FROM scores WHERE memory_key = ?)"

MEMORY_CELLS = f"""
SELECT s.conversation_id, s.response_entry_idx, s.column_idx, s.divergence, s.screened, l.scored_at,
       l.content_hash
FROM scores s JOIN latest_results l {RESULT_KEY_JOIN}
WHERE s.memory_key = ? AND {scope()}
"""

MEMORY_SUMMARY = f"""
SELECT count(DISTINCT conversation_id), sum(divergence), count(divergence),
       count(screened) FILTER (WHERE divergence IS NULL), max(divergence)
FROM ({MEMORY_CELLS})
"""

MEMORY_TIMELINE = f"""
SELECT scored_at::DATE AS day, sum(divergence), count(divergence), count(DISTINCT conversation_id)
FROM ({MEMORY_CELLS})
GROUP BY day ORDER BY day
"""

MEMORY_TOP_RESPONSES = f"""
SELECT t.conversation_id, t.response_entry_idx, t.divergence, t.screened, t.scored_at, e.content
FROM (SELECT * FROM ({MEMORY_CELLS})
      ORDER BY coalesce(divergence, screened) DESC NULLS LAST, conversation_id, column_idx
      LIMIT ? OFFSET ?) t
LEFT JOIN entries e ON e.conversation_id = t.conversation_id AND e.content_hash = t.content_hash
                    AND e.entry_idx = t.response_entry_idx
ORDER BY coalesce(t.divergence, t.screened) DESC NULLS LAST, t.conversation_id, t.response_entry_idx
"""

CANDIDATES = f"""
SELECT c.candidate_id, c.conversation_id, c.content_hash, c.model, c.config_hash, c.response_entry_idx,
       c.dependence, c.status, l.run_id, l.scored_at, count(*) OVER () AS total
FROM candidates c JOIN results l {RESULT_KEY_JOIN}
WHERE (?::VARCHAR IS NULL OR c.status = ?) AND c.dependence >= ? AND {scope()}
  AND (? = '' OR EXISTS (SELECT 1 FROM scores s WHERE s.content_hash = c.content_hash AND s.model = c.model
                           AND s.config_hash = c.config_hash AND s.response_entry_idx = c.response_entry_idx
                           AND s.divergence > 0 AND starts_with(s.memory_key, ?)))
ORDER BY c.dependence DESC, c.candidate_id
LIMIT ? OFFSET ?
"""

PAGE_CANDIDATES = "FROM candidates c WHERE list_contains(from_json(?, '[\"BIGINT\"]'), c.candidate_id)"
CANDIDATE_CELLS = """JOIN scores s ON s.content_hash = c.content_hash AND s.model = c.model
    AND s.config_hash = c.config_hash AND s.response_entry_idx = c.response_entry_idx"""
PAGE_TOP_MEMORIES = f"""
SELECT c.candidate_id, s.memory_key, s.divergence
{PAGE_CANDIDATES.replace("WHERE", CANDIDATE_CELLS + " WHERE")} AND s.divergence IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY c.candidate_id ORDER BY s.divergence DESC, s.memory_idx) <= ?
ORDER BY c.candidate_id, s.divergence DESC, s.memory_idx
"""
PAGE_CELL_COUNTS = f"""
SELECT c.candidate_id, count(s.divergence), count(s.screened) FILTER (WHERE s.divergence IS NULL)
{PAGE_CANDIDATES.replace("WHERE", CANDIDATE_CELLS + " WHERE")}
GROUP BY c.candidate_id
"""
PAGE_CONVERSATIONS = f"""
SELECT DISTINCT ON (v.conversation_id, v.content_hash) v.conversation_id, v.content_hash,
       v.system_prompt, v.context, v.meta, v.tools, v.system_memories, v.source_format
FROM conversations v
WHERE EXISTS (SELECT 1 {PAGE_CANDIDATES} AND c.conversation_id = v.conversation_id
              AND c.content_hash = v.content_hash)
ORDER BY v.conversation_id, v.content_hash, v.ingested_at
"""
PAGE_ENTRIES = f"""
SELECT e.conversation_id, e.content_hash, e.entry_idx, e.role, e.memory_key, e.content, e.reasoning, e.tool_call_id,
       e.tool_calls, e.name
FROM entries e
WHERE EXISTS (SELECT 1 {PAGE_CANDIDATES} AND c.conversation_id = e.conversation_id
              AND c.content_hash = e.content_hash)
ORDER BY e.conversation_id, e.content_hash, e.entry_idx
"""
