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
ALL_RESULTS = "results"
"""The source of :func:`latest` when every result is its conversation's latest (:data:`ALL_LATEST`): the table
itself, without the window that picks the latest result of each conversation."""
LATEST_RESULTS = "latest_results"


def latest(source: str = LATEST_RESULTS, where: str = "") -> str:
    """The CTE ``latest``: the latest results (of ``source``) the filters select, their day and week computed once
    per result (not per cell: a TIMESTAMPTZ's calendar arithmetic is the costliest step over millions of cells);
    ``where`` narrows it further (its parameters follow the 8 of :func:`scope`)."""
    return f"""latest AS (
    SELECT l.content_hash, l.model, l.config_hash, l.conversation_id, l.scored_at,
           l.scored_at::DATE AS day, date_trunc('week', l.scored_at)::DATE AS week
    FROM {source} l WHERE {scope()} {where})"""

HAS_PREFIX = """EXISTS (SELECT 1 FROM memory_summary m WHERE m.content_hash = l.content_hash AND m.model = l.model
                   AND m.config_hash = l.config_hash AND starts_with(m.memory_key, ?))"""


def latest_rows(source: str) -> str:
    """Narrows ``memory_summary m`` to the latest results: nothing when every result is (``source``
    :data:`ALL_RESULTS`), else without the ``stale_results``; the summary repeats its result's model, strategy and
    time, so :func:`scope` applies to ``m`` itself."""
    return "" if source == ALL_RESULTS else f"ANTI JOIN stale_results {RESULT_KEY_JOIN}"

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

def top_memories(source: str) -> str:
    """The most important memories of the latest results the filters select, ranked and summed as ``memscore top``
    ranks them, from the memory summary. Parameters: 8 of :func:`scope`, the prefix, the limit."""
    return f"""
SELECT m.memory_key, sum(m.importance::DECIMAL(38, 12))::DOUBLE AS importance, sum(m.cells)::BIGINT AS exact,
       sum(m.screened)::BIGINT AS screened
FROM memory_summary m {latest_rows(source)}
WHERE {scope("m")} AND starts_with(m.memory_key, ?)
GROUP BY m.memory_key
ORDER BY importance DESC NULLS LAST, m.memory_key LIMIT ?
"""


def memory_weeks(source: str, keys: int) -> str:
    """Importance and conversations by week of the listed memory keys over the latest results the filters select
    (from the memory summary). Parameters: the keys, then 8 of :func:`scope`. A conversation's latest result has
    one scored_at, so its conversations per week add up to the memory's."""
    return f"""
SELECT m.memory_key, date_trunc('week', m.scored_at)::DATE AS week, sum(m.importance),
       count(DISTINCT m.conversation_id)
FROM (SELECT * FROM memory_summary WHERE memory_key IN ({marks(keys)})) m {latest_rows(source)}
WHERE {scope("m")}
GROUP BY ALL ORDER BY m.memory_key, week
"""


ALL_LATEST = "SELECT count(*) = count(DISTINCT conversation_id) FROM results"
"""Whether every result is its conversation's latest (one result per conversation): then a page may read the
``results`` table where it would read ``latest_results`` (the window over every result is a page's costliest
step after its cells)."""

def dependence_bins(source: str) -> str:
    """(bin, responses) of the latest results' dependence. Parameters: bin width, last bin, 8 of :func:`scope`."""
    return f"""
SELECT least(floor(coalesce(p.drop_all, p.score) / p.tokens / ?), ?)::INTEGER AS bin, count(*)
FROM responses p SEMI JOIN (SELECT content_hash, model, config_hash FROM {source} l WHERE {scope()}) l
     {RESULT_KEY_JOIN}
WHERE p.tokens > 0
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

def conversations(source: str, prefix: bool) -> str:
    """One page of the latest results the filters select, newest first, and how many there are; with ``prefix``,
    those holding a memory whose key starts with it. Parameters: 8 of :func:`scope`, the prefix if any, limit,
    offset."""
    holding = f"AND {HAS_PREFIX}" if prefix else ""
    return f"""
WITH listed AS MATERIALIZED (
    SELECT l.conversation_id, l.model, l.strategy, l.scored_at, l.requests, l.prompt_tokens
    FROM {source} l WHERE {scope()} {holding})
SELECT *, (SELECT count(*) FROM listed) FROM listed
ORDER BY scored_at DESC, conversation_id
LIMIT ? OFFSET ?
"""


def count_conversations(source: str, prefix: bool) -> str:
    """How many results :func:`conversations` lists (for a page past the last); its parameters but the last two."""
    return f"SELECT count(*) FROM {source} l WHERE {scope()} {f'AND {HAS_PREFIX}' if prefix else ''}"

MEMORY_KNOWN = "SELECT EXISTS (SELECT 1 FROM memory_summary WHERE memory_key = ?)"

def memory_cells(source: str) -> str:
    """CTEs ``latest`` (restricted to the conversations holding the memory) and ``cells``: the memory's cells in
    the latest results the filters select. Parameters: 8 of :func:`scope`, the memory key twice."""
    holding = "AND l.conversation_id IN (SELECT conversation_id FROM memory_summary WHERE memory_key = ?)"
    return f"""{latest(source, holding)},
cells AS (
    SELECT s.conversation_id, s.response_entry_idx, s.column_idx, s.divergence, s.screened, l.scored_at, l.day,
           l.content_hash
    FROM (SELECT * FROM scores WHERE memory_key = ?) s JOIN latest l {RESULT_KEY_JOIN})"""


def memory_timeline(source: str) -> str:
    """The memory per day its latest results were scored, from the memory summary (parameters: the memory key,
    8 of :func:`scope`)."""
    return f"""
SELECT m.scored_at::DATE AS day, sum(m.importance), sum(m.cells)::BIGINT, sum(m.screened)::BIGINT,
       count(DISTINCT m.conversation_id), max(m.max)
FROM (SELECT * FROM memory_summary WHERE memory_key = ?) m {latest_rows(source)}
WHERE {scope("m")}
GROUP BY day ORDER BY day
"""


def memory_top_responses(source: str) -> str:
    """One page of the responses the memory helped most (parameters of :func:`memory_cells`, limit, offset)."""
    return f"""
WITH {memory_cells(source)}, shown AS (
    SELECT * FROM cells
    ORDER BY coalesce(divergence, screened) DESC NULLS LAST, conversation_id, column_idx
    LIMIT ? OFFSET ?)
SELECT t.conversation_id, t.response_entry_idx, t.divergence, t.screened, t.scored_at, e.content
FROM shown t
LEFT JOIN (SELECT * FROM entries WHERE conversation_id IN (SELECT conversation_id FROM shown)) e
       ON e.conversation_id = t.conversation_id AND e.content_hash = t.content_hash
      AND e.entry_idx = t.response_entry_idx
ORDER BY coalesce(t.divergence, t.screened) DESC NULLS LAST, t.conversation_id, t.column_idx
"""


CANDIDATE_COLUMNS = """c.candidate_id, c.conversation_id, c.content_hash, c.model, c.config_hash,
       c.response_entry_idx, c.dependence, c.status, l.run_id, l.scored_at"""
CANDIDATE_WHERE = f"(?::VARCHAR IS NULL OR c.status = ?) AND c.dependence >= ? AND {scope()}"


def _candidates_selected(prefix: bool, narrowed: bool = True) -> str:
    hits = """hits AS (SELECT DISTINCT * FROM (
                 SELECT content_hash, model, config_hash,
                        unnest(from_json(helped, '["INTEGER"]')) AS response_entry_idx
                 FROM memory_summary WHERE starts_with(memory_key, ?) AND helped IS NOT NULL)),""" if prefix else ""
    semi = """SEMI JOIN hits h ON h.content_hash = c.content_hash AND h.model = c.model
          AND h.config_hash = c.config_hash AND h.response_entry_idx = c.response_entry_idx""" if prefix else ""
    if not narrowed:
        return f"""WITH {hits} listed AS MATERIALIZED (
    SELECT c.candidate_id, c.dependence FROM candidates c {semi}
    WHERE (?::VARCHAR IS NULL OR c.status = ?) AND c.dependence >= ?)"""
    return f"""WITH {hits} listed AS MATERIALIZED (
    SELECT {CANDIDATE_COLUMNS}
    FROM candidates c {semi}
    JOIN results l {RESULT_KEY_JOIN}
    WHERE {CANDIDATE_WHERE})"""


def candidates(prefix: bool, narrowed: bool = True) -> str:
    """One page of the candidates the filters select (ranked as ``memscore review list`` ranks them), each row
    ending with how many there are; with ``prefix``, those whose response depends on a memory whose key starts
    with it (an exact cell above 0: the responses depending on such memories are found in one pass over the
    cells, then joined). Parameters: the prefix if any, status twice, minimum dependence, 8 of :func:`scope` if
    ``narrowed``, limit, offset. Not ``narrowed`` (no filter leaves a result out), the rows are the candidates'
    ids only, and nothing is joined to the results (:func:`listed_candidates` joins the page's)."""
    return f"""
{_candidates_selected(prefix, narrowed)}
SELECT *, (SELECT count(*) FROM listed) FROM listed
ORDER BY dependence DESC, candidate_id
LIMIT ? OFFSET ?
"""


def count_candidates(prefix: bool, narrowed: bool = True) -> str:
    """How many candidates :func:`candidates` selects (for a page past the last); its parameters but the last two."""
    return f"{_candidates_selected(prefix, narrowed)}\nSELECT count(*) FROM listed"


CANDIDATES_OF_ALL_RESULTS = """
SELECT candidate_id FROM candidates WHERE (?::VARCHAR IS NULL OR status = ?) AND dependence >= ?
ORDER BY dependence DESC, candidate_id LIMIT ? OFFSET ?
"""
"""One page of candidates when no filter leaves results out: ranked and cut before anything is joined."""


def listed_candidates(candidates: int, conversations: int) -> str:
    """The listed candidates (parameters: their ids, then their conversation ids) with their results' run and
    time, in rank order; the results read are those of the listed conversations only."""
    return f"""
SELECT {CANDIDATE_COLUMNS}
FROM (SELECT * FROM candidates WHERE candidate_id IN ({marks(candidates)})) c
JOIN (SELECT * FROM results WHERE conversation_id IN ({marks(conversations)})) l {RESULT_KEY_JOIN}
ORDER BY c.dependence DESC, c.candidate_id
"""
COUNT_CANDIDATES_OF_ALL_RESULTS = """SELECT count(*) FROM candidates
WHERE (?::VARCHAR IS NULL OR status = ?) AND dependence >= ?"""
FINGERPRINT = "SELECT count(*), max(scored_at) FROM results"
"""What changes whenever a result is written or replaced."""
QUIET = "SET enable_progress_bar = false"
"""DuckDB draws a progress bar on stdout for a query over 2 s, inside ``--json`` output: never on the dashboard's
connections."""


def marks(count: int) -> str:
    """``count`` parameter placeholders for an ``IN (...)`` list: DuckDB filters a column's scan by a list of
    constants (several times faster than by a subquery's rows over millions of cells)."""
    return ", ".join("?" * max(count, 1))


def branches(select: str, count: int) -> str:
    """``select`` (a point read ending in equality filters) once per looked-up row, as one ``UNION ALL``: each branch's
    scan prunes by its own constants, where one ``IN`` list over many rows spread in time prunes almost nothing."""
    return " UNION ALL ".join([f"({select})"] * max(count, 1))


PAGE_CELL = """SELECT ?::BIGINT AS candidate_id, memory_key, memory_idx, divergence, screened FROM scores
WHERE content_hash = ? AND model = ? AND config_hash = ? AND response_entry_idx = ? AND scored_at = ?"""


def page_cells(candidates: int) -> str:
    """Each listed candidate's top exact cells (key, divergence), then one row of its exact and screened cell
    counts. Parameters: per candidate its id, result key, response entry and result's scored_at (migration 0010:
    what each branch's scan prunes by); then how many top cells."""
    return f"""
WITH cells AS MATERIALIZED ({branches(PAGE_CELL, candidates)})
SELECT candidate_id, memory_key, divergence, NULL, NULL FROM cells WHERE divergence IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY candidate_id ORDER BY divergence DESC, memory_idx) <= ?
UNION ALL
SELECT candidate_id, NULL, NULL, count(divergence), count(screened) FILTER (WHERE divergence IS NULL)
FROM cells GROUP BY candidate_id
"""


def page_conversations(conversations: int) -> str:
    """The stored head of each listed conversation, ending with its ``ingested_at`` (parameters: conversation
    ids)."""
    return f"""
SELECT DISTINCT ON (conversation_id, content_hash) conversation_id, content_hash,
       system_prompt, context, meta, tools, system_memories, source_format, ingested_at
FROM conversations WHERE conversation_id IN ({marks(conversations)})
ORDER BY conversation_id, content_hash, ingested_at
"""


PAGE_ENTRY = """SELECT conversation_id, content_hash, entry_idx, role, memory_key, content, reasoning, tool_call_id,
       tool_calls, name
FROM entries WHERE conversation_id = ? AND content_hash = ? AND ingested_at = ?"""


def page_entries(conversations: int) -> str:
    """The entries of each listed conversation, every stored content (parameters: per stored content its
    conversation id, content hash and ``ingested_at``, by which its branch's scan prunes)."""
    return f"""{branches(PAGE_ENTRY, conversations)}
ORDER BY conversation_id, content_hash, entry_idx
"""


def conversations_of_candidates(candidates: int) -> str:
    """The conversation ids of the listed candidates (parameters: their ids)."""
    return f"SELECT DISTINCT conversation_id FROM candidates WHERE candidate_id IN ({marks(candidates)})"


DATABASE = "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
"""Which database a connection reads (a DuckDB file's path)."""
