-- Point reads prune instead of scanning. A result's cells and responses carry its `scored_at`, a conversation's
-- entries its `ingested_at`: values that grow with write order (the writer's clock when it stores them), so
-- DuckDB's zone maps and DuckLake's file statistics on these columns are narrow ranges, and a read that filters on
-- the exact value (known from the small `results` or `conversations` row it fetches first) skips every row group
-- and file but the one or two holding the rows. The ids it filters on besides are random strings that prune nothing.
-- Only how fast a read is depends on the order; what it returns never does (the filter is an equality on a value
-- every row of the result carries). Existing rows are rewritten in that order (a result's or conversation's rows
-- together, as read); rows whose result or conversation is missing are kept, with NULL.
CREATE TABLE scores_v10 (
    content_hash       VARCHAR NOT NULL,
    model              VARCHAR NOT NULL,
    config_hash        VARCHAR NOT NULL,
    run_id             VARCHAR NOT NULL,
    conversation_id    VARCHAR NOT NULL,
    memory_key         VARCHAR NOT NULL,
    memory_idx         INTEGER NOT NULL,
    memory_entry_idx   INTEGER,
    column_idx         INTEGER NOT NULL,
    response_entry_idx INTEGER,
    divergence         DOUBLE,
    signed             DOUBLE,
    tokens             INTEGER NOT NULL,
    method             VARCHAR NOT NULL,
    screened           DOUBLE,
    scored_at          TIMESTAMPTZ
);
INSERT INTO scores_v10
SELECT s.*, r.scored_at
FROM scores s
LEFT JOIN results r USING (content_hash, model, config_hash)
ORDER BY r.scored_at, s.content_hash, s.model, s.config_hash, s.memory_idx, s.column_idx;
DROP TABLE scores;
ALTER TABLE scores_v10 RENAME TO scores;

CREATE TABLE responses_v10 (
    content_hash       VARCHAR NOT NULL,
    model              VARCHAR NOT NULL,
    config_hash        VARCHAR NOT NULL,
    run_id             VARCHAR NOT NULL,
    conversation_id    VARCHAR NOT NULL,
    column_idx         INTEGER NOT NULL,
    response_entry_idx INTEGER,
    score              DOUBLE NOT NULL,
    drop_all           DOUBLE,
    tokens             INTEGER NOT NULL,
    fit_r2             DOUBLE,
    scored_at          TIMESTAMPTZ
);
INSERT INTO responses_v10
SELECT p.*, r.scored_at
FROM responses p
LEFT JOIN results r USING (content_hash, model, config_hash)
ORDER BY r.scored_at, p.content_hash, p.model, p.config_hash, p.column_idx;
DROP TABLE responses;
ALTER TABLE responses_v10 RENAME TO responses;

CREATE TABLE entries_v10 (
    conversation_id VARCHAR NOT NULL,
    content_hash    VARCHAR NOT NULL,
    entry_idx       INTEGER NOT NULL,
    role            VARCHAR NOT NULL,
    memory_key      VARCHAR,
    content         VARCHAR,
    reasoning       VARCHAR,
    tool_call_id    VARCHAR,
    tool_calls      JSON,
    name            VARCHAR,
    ingested_at     TIMESTAMPTZ
);
INSERT INTO entries_v10
SELECT e.*, c.ingested_at
FROM entries e
LEFT JOIN (SELECT conversation_id, content_hash, min(ingested_at) AS ingested_at FROM conversations
           GROUP BY conversation_id, content_hash) c USING (conversation_id, content_hash)
ORDER BY c.ingested_at, e.conversation_id, e.content_hash, e.entry_idx;
DROP TABLE entries;
ALTER TABLE entries_v10 RENAME TO entries;
