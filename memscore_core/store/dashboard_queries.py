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
LATEST = f"""latest AS (
    SELECT l.content_hash, l.model, l.config_hash, l.conversation_id, l.scored_at,
           l.scored_at::DATE AS day, date_trunc('week', l.scored_at)::DATE AS week
    FROM latest_results l WHERE {scope()})"""
"""The latest results the filters select, their day and week computed once per result (not per cell: a
TIMESTAMPTZ's calendar arithmetic is the costliest step of a query over millions of cells)."""
HAS_PREFIX = """EXISTS (SELECT 1 FROM scores s WHERE s.content_hash = l.content_hash AND s.model = l.model
                   AND s.config_hash = l.config_hash AND starts_with(s.memory_key, ?))"""

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
WITH {LATEST}, top AS (
    SELECT s.memory_key, sum(s.divergence) AS importance, count(s.divergence) AS exact,
           count(s.screened) FILTER (WHERE s.divergence IS NULL) AS screened
    FROM scores s JOIN latest {RESULT_KEY_JOIN}
    WHERE starts_with(s.memory_key, ?)
    GROUP BY s.memory_key
    ORDER BY importance DESC NULLS LAST, s.memory_key LIMIT ?
), weeks AS (
    SELECT s.memory_key, l.week, sum(s.divergence) AS importance, count(DISTINCT s.conversation_id) AS conversations
    FROM (SELECT * FROM scores WHERE memory_key IN (SELECT memory_key FROM top)) s JOIN latest l {RESULT_KEY_JOIN}
    GROUP BY ALL
)
SELECT t.memory_key, t.importance, t.exact, t.screened, w.week, w.importance, w.conversations
FROM top t JOIN weeks w USING (memory_key)
ORDER BY t.importance DESC NULLS LAST, t.memory_key, w.week
"""
"""A conversation's latest result has one scored_at, so its conversations per week add up to the memory's."""

ALL_LATEST = "SELECT count(*) = count(DISTINCT conversation_id) FROM results"
"""Whether every result is its conversation's latest (one result per conversation): then an unfiltered page may
read scores and responses without joining them to ``latest_results``, the costliest step over millions of cells."""
TOP_OF_ALL_CELLS = """top AS (
    SELECT memory_key, sum(divergence) AS importance, count(divergence) AS exact,
           count(screened) FILTER (WHERE divergence IS NULL) AS screened
    FROM scores WHERE starts_with(memory_key, ?)
    GROUP BY memory_key
    ORDER BY importance DESC NULLS LAST, memory_key LIMIT ?
)"""
MEMORY_TRENDS_ALL_LATEST = MEMORY_TRENDS[:MEMORY_TRENDS.index("top AS (")] + TOP_OF_ALL_CELLS \
    + MEMORY_TRENDS[MEMORY_TRENDS.index("), weeks AS (") + 1:]

DEPENDENCE_BINS = f"""
SELECT least(floor(coalesce(p.drop_all, p.score) / p.tokens / ?), ?)::INTEGER AS bin, count(*)
FROM responses p JOIN latest_results l {RESULT_KEY_JOIN}
WHERE p.tokens > 0 AND {scope()}
GROUP BY bin ORDER BY bin
"""

DEPENDENCE_BINS_ALL_LATEST = """
SELECT least(floor(coalesce(p.drop_all, p.score) / p.tokens / ?), ?)::INTEGER AS bin, count(*)
FROM responses p
WHERE p.tokens > 0
GROUP BY bin ORDER BY bin
"""

LATEST_RUNS = f"""
SELECT {RUN_COLUMNS} FROM scoring_runs l
WHERE {scope(time_column="started_at")}
ORDER BY started_at DESC, run_id LIMIT ?
"""

CONVERSATIONS = f"""
SELECT l.conversation_id, l.model, l.strategy, l.scored_at, l.requests, l.prompt_tokens
FROM latest_results l
WHERE {scope()}
ORDER BY l.scored_at DESC, l.conversation_id
LIMIT ? OFFSET ?
"""
CONVERSATIONS_WITH_PREFIX = CONVERSATIONS.replace(f"WHERE {scope()}", f"WHERE {scope()} AND {HAS_PREFIX}")
COUNT_CONVERSATIONS = f"SELECT count(*) FROM latest_results l WHERE {scope()}"
COUNT_CONVERSATIONS_WITH_PREFIX = f"SELECT count(*) FROM latest_results l WHERE {scope()} AND {HAS_PREFIX}"

MEMORY_KNOWN = "SELECT EXISTS (SELECT 1 FROM scores WHERE memory_key = ?)"

MEMORY_CELLS = f"""
SELECT s.conversation_id, s.response_entry_idx, s.column_idx, s.divergence, s.screened, l.scored_at, l.day,
       l.content_hash
FROM (SELECT * FROM scores WHERE memory_key = ?) s JOIN latest l {RESULT_KEY_JOIN}
"""

MEMORY_TIMELINE = f"""
WITH {LATEST}, cells AS ({MEMORY_CELLS})
SELECT day, sum(divergence), count(divergence), count(screened) FILTER (WHERE divergence IS NULL),
       count(DISTINCT conversation_id), max(divergence)
FROM cells
GROUP BY day ORDER BY day
"""

MEMORY_TOP_RESPONSES = f"""
WITH {LATEST}, cells AS ({MEMORY_CELLS})
SELECT t.conversation_id, t.response_entry_idx, t.divergence, t.screened, t.scored_at, e.content
FROM (SELECT * FROM cells
      ORDER BY coalesce(divergence, screened) DESC NULLS LAST, conversation_id, column_idx
      LIMIT ? OFFSET ?) t
LEFT JOIN entries e ON e.conversation_id = t.conversation_id AND e.content_hash = t.content_hash
                    AND e.entry_idx = t.response_entry_idx
ORDER BY coalesce(t.divergence, t.screened) DESC NULLS LAST, t.conversation_id, t.response_entry_idx
"""

CANDIDATE_SCOPE = f"""FROM candidates c JOIN results l {RESULT_KEY_JOIN}
WHERE (?::VARCHAR IS NULL OR c.status = ?) AND c.dependence >= ? AND {scope()}"""
CANDIDATE_HAS_PREFIX = """(c.content_hash, c.model, c.config_hash, c.response_entry_idx) IN (
    SELECT (content_hash, model, config_hash, response_entry_idx) FROM scores
    WHERE starts_with(memory_key, ?) AND divergence > 0)"""
CANDIDATES = f"""
SELECT c.candidate_id, c.conversation_id, c.content_hash, c.model, c.config_hash, c.response_entry_idx,
       c.dependence, c.status, l.run_id, l.scored_at
{CANDIDATE_SCOPE}
ORDER BY c.dependence DESC, c.candidate_id
LIMIT ? OFFSET ?
"""
CANDIDATES_WITH_PREFIX = CANDIDATES.replace("ORDER BY", f"AND {CANDIDATE_HAS_PREFIX}\nORDER BY")
CANDIDATES_OF_ALL_RESULTS = f"""
SELECT c.candidate_id, c.conversation_id, c.content_hash, c.model, c.config_hash, c.response_entry_idx,
       c.dependence, c.status, l.run_id, l.scored_at
FROM (SELECT * FROM candidates WHERE (?::VARCHAR IS NULL OR status = ?) AND dependence >= ?
      ORDER BY dependence DESC, candidate_id LIMIT ? OFFSET ?) c
JOIN results l {RESULT_KEY_JOIN}
ORDER BY c.dependence DESC, c.candidate_id
"""
"""One page of candidates when no filter leaves results out: ranked and cut before the join to their results."""
COUNT_CANDIDATES_OF_ALL_RESULTS = """SELECT count(*) FROM candidates
WHERE (?::VARCHAR IS NULL OR status = ?) AND dependence >= ?"""
COUNT_CANDIDATES = f"SELECT count(*) {CANDIDATE_SCOPE}"
COUNT_CANDIDATES_WITH_PREFIX = f"SELECT count(*) {CANDIDATE_SCOPE} AND {CANDIDATE_HAS_PREFIX}"
FINGERPRINT = "SELECT count(*), max(scored_at) FROM results"
"""What changes whenever a result is written or replaced."""

def marks(count: int) -> str:
    """``count`` parameter placeholders for an ``IN (...)`` list: DuckDB filters a column's scan by a list of
    constants (several times faster than by a subquery's rows over millions of cells)."""
    return ", ".join("?" * max(count, 1))


def page_cells(candidates: int) -> str:
    """Each listed candidate's top exact cells (key, divergence), then one row of its exact and screened cell
    counts. Parameters: the candidate ids, their conversation ids, how many top cells."""
    return f"""
WITH page AS (SELECT * FROM candidates WHERE candidate_id IN ({marks(candidates)})), cells AS (
    SELECT p.candidate_id, s.memory_key, s.memory_idx, s.divergence, s.screened
    FROM (SELECT * FROM scores WHERE conversation_id IN ({marks(candidates)})) s
    JOIN page p ON s.content_hash = p.content_hash AND s.model = p.model AND s.config_hash = p.config_hash
               AND s.response_entry_idx = p.response_entry_idx)
SELECT candidate_id, memory_key, divergence, NULL, NULL FROM cells WHERE divergence IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY candidate_id ORDER BY divergence DESC, memory_idx) <= ?
UNION ALL
SELECT candidate_id, NULL, NULL, count(divergence), count(screened) FILTER (WHERE divergence IS NULL)
FROM cells GROUP BY candidate_id
"""


def page_conversations(conversations: int) -> str:
    """The stored head of each listed conversation (parameters: conversation ids)."""
    return f"""
SELECT DISTINCT ON (conversation_id, content_hash) conversation_id, content_hash,
       system_prompt, context, meta, tools, system_memories, source_format
FROM conversations WHERE conversation_id IN ({marks(conversations)})
ORDER BY conversation_id, content_hash, ingested_at
"""


def page_entries(conversations: int) -> str:
    """The entries of each listed conversation, every stored content (parameters: conversation ids)."""
    return f"""
SELECT conversation_id, content_hash, entry_idx, role, memory_key, content, reasoning, tool_call_id, tool_calls, name
FROM entries WHERE conversation_id IN ({marks(conversations)})
ORDER BY conversation_id, content_hash, entry_idx
"""


FINGERPRINT = "SELECT count(*), max(scored_at) FROM results"
"""What changes whenever a result is written or replaced."""

PAGE_RESPONSES = """page AS (
    SELECT * FROM candidates
    WHERE candidate_id IN (SELECT unnest(from_json(?, '["BIGINT"]'))))"""
PAGE_CELLS = f"""
WITH {PAGE_RESPONSES}, cells AS (
    SELECT p.candidate_id, s.memory_key, s.memory_idx, s.divergence, s.screened
    FROM (SELECT * FROM scores WHERE conversation_id IN (SELECT conversation_id FROM page)) s
    JOIN page p ON s.content_hash = p.content_hash AND s.model = p.model AND s.config_hash = p.config_hash
               AND s.response_entry_idx = p.response_entry_idx)
SELECT candidate_id, memory_key, divergence, NULL, NULL FROM cells WHERE divergence IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY candidate_id ORDER BY divergence DESC, memory_idx) <= ?
UNION ALL
SELECT candidate_id, NULL, NULL, count(divergence), count(screened) FILTER (WHERE divergence IS NULL)
FROM cells GROUP BY candidate_id
"""
"""Each candidate's top exact cells (key, divergence), then one row of its exact and screened cell counts."""
PAGE_CONVERSATIONS = f"""
WITH {PAGE_RESPONSES}
SELECT DISTINCT ON (v.conversation_id, v.content_hash) v.conversation_id, v.content_hash,
       v.system_prompt, v.context, v.meta, v.tools, v.system_memories, v.source_format
FROM (SELECT * FROM conversations WHERE conversation_id IN (SELECT conversation_id FROM page)) v
SEMI JOIN page p ON p.conversation_id = v.conversation_id AND p.content_hash = v.content_hash
ORDER BY v.conversation_id, v.content_hash, v.ingested_at
"""
PAGE_ENTRIES = f"""
WITH {PAGE_RESPONSES}
SELECT e.conversation_id, e.content_hash, e.entry_idx, e.role, e.memory_key, e.content, e.reasoning, e.tool_call_id,
       e.tool_calls, e.name
FROM (SELECT * FROM entries WHERE conversation_id IN (SELECT conversation_id FROM page)) e
SEMI JOIN page p ON p.conversation_id = e.conversation_id AND p.content_hash = e.content_hash
ORDER BY e.conversation_id, e.content_hash, e.entry_idx
"""
