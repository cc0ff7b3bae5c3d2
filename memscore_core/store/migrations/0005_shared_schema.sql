-- One schema for the DuckDB file and DuckLake: no PRIMARY KEY, UNIQUE, CHECK, DEFAULT or sequence (DuckLake
-- has none; memscore keeps keys unique itself, see docs/schema.md), and the columns tool calls, system-prompt
-- memories, seed columns past the last assistant entry and noise floors need. Every table is rebuilt with its
-- rows; baseline_0005.sql creates the same schema in one step on a new store.
DROP VIEW IF EXISTS response_dependence;
DROP VIEW IF EXISTS memory_importance;
DROP VIEW IF EXISTS memory_rows;
DROP VIEW IF EXISTS latest_results;

CREATE TABLE schema_migrations_v5 (
    version    INTEGER NOT NULL,
    name       VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
);
INSERT INTO schema_migrations_v5 SELECT version, name, applied_at FROM schema_migrations;
DROP TABLE schema_migrations;
ALTER TABLE schema_migrations_v5 RENAME TO schema_migrations;

CREATE TABLE conversations_v5 (
    conversation_id VARCHAR NOT NULL,
    content_hash    VARCHAR NOT NULL,
    source_file     VARCHAR,
    ingested_at     TIMESTAMPTZ NOT NULL,
    meta            JSON,
    system_prompt   VARCHAR,
    context         VARCHAR,
    tools           JSON,
    system_memories JSON,
    source_format   VARCHAR
);
INSERT INTO conversations_v5
SELECT conversation_id, content_hash, source_file, ingested_at, meta, system_prompt, context, NULL, NULL, NULL
FROM conversations;
DROP TABLE conversations;
ALTER TABLE conversations_v5 RENAME TO conversations;

CREATE TABLE entries_v5 (
    conversation_id VARCHAR NOT NULL,
    content_hash    VARCHAR NOT NULL,
    entry_idx       INTEGER NOT NULL,
    role            VARCHAR NOT NULL,
    memory_key      VARCHAR,
    content         VARCHAR,
    reasoning       VARCHAR,
    tool_call_id    VARCHAR,
    tool_calls      JSON,
    name            VARCHAR
);
INSERT INTO entries_v5
SELECT conversation_id, content_hash, entry_idx, role, memory_key, content, reasoning, tool_call_id, NULL, NULL
FROM entries;
DROP TABLE entries;
ALTER TABLE entries_v5 RENAME TO entries;

CREATE TABLE scoring_runs_v5 (
    run_id             VARCHAR NOT NULL,
    flow_run_id        VARCHAR,
    model              VARCHAR NOT NULL,
    backend            VARCHAR NOT NULL,
    strategy           VARCHAR NOT NULL,
    config             JSON NOT NULL,
    config_hash        VARCHAR NOT NULL,
    started_at         TIMESTAMPTZ NOT NULL,
    finished_at        TIMESTAMPTZ,
    status             VARCHAR NOT NULL,
    requests           BIGINT,
    prompt_tokens      BIGINT,
    noise_floor        DOUBLE,
    noise_floor_method JSON,
    parent_run_id      VARCHAR,
    host               VARCHAR
);
INSERT INTO scoring_runs_v5
SELECT run_id, flow_run_id, model, backend, strategy, config, config_hash, started_at, finished_at, status, requests,
       prompt_tokens, NULL, NULL, NULL, NULL
FROM scoring_runs;
DROP TABLE scoring_runs;
ALTER TABLE scoring_runs_v5 RENAME TO scoring_runs;

CREATE TABLE results_v5 (
    content_hash     VARCHAR NOT NULL,
    model            VARCHAR NOT NULL,
    config_hash      VARCHAR NOT NULL,
    conversation_id  VARCHAR NOT NULL,
    run_id           VARCHAR NOT NULL,
    strategy         VARCHAR NOT NULL,
    scored_at        TIMESTAMPTZ NOT NULL,
    requests         BIGINT NOT NULL,
    prompt_tokens    BIGINT NOT NULL,
    chunks           JSON NOT NULL,
    chunk_strategies JSON
);
INSERT INTO results_v5
SELECT content_hash, model, config_hash, conversation_id, run_id, strategy, scored_at, requests, prompt_tokens, chunks,
       NULL
FROM results;

-- Columns are numbered by response order within each result; rows by memory-entry order within each conversation.
CREATE TABLE responses_v5 (
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
    fit_r2             DOUBLE
);
INSERT INTO responses_v5
SELECT content_hash, model, config_hash, run_id, conversation_id,
       (row_number() OVER (PARTITION BY content_hash, model, config_hash ORDER BY response_entry_idx) - 1)::INTEGER,
       response_entry_idx, score, drop_all, tokens, NULL
FROM responses;

CREATE TABLE scores_v5 (
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
    screened           DOUBLE
);
INSERT INTO scores_v5
SELECT s.content_hash, s.model, s.config_hash, s.run_id, s.conversation_id, s.memory_key, m.memory_idx,
       s.memory_entry_idx, p.column_idx, s.response_entry_idx, s.divergence, s.signed, s.tokens, r.strategy, NULL
FROM scores s
JOIN results_v5 r ON r.content_hash = s.content_hash AND r.model = s.model AND r.config_hash = s.config_hash
JOIN (SELECT conversation_id, content_hash, entry_idx,
             (row_number() OVER (PARTITION BY conversation_id, content_hash ORDER BY entry_idx) - 1)::INTEGER
                 AS memory_idx
      FROM entries WHERE memory_key IS NOT NULL) m
  ON m.conversation_id = s.conversation_id AND m.content_hash = s.content_hash AND m.entry_idx = s.memory_entry_idx
JOIN responses_v5 p
  ON p.content_hash = s.content_hash AND p.model = s.model AND p.config_hash = s.config_hash
 AND p.response_entry_idx = s.response_entry_idx;
DROP TABLE scores;
DROP TABLE responses;
DROP TABLE results;
ALTER TABLE results_v5 RENAME TO results;
ALTER TABLE responses_v5 RENAME TO responses;
ALTER TABLE scores_v5 RENAME TO scores;

CREATE TABLE ingest_errors_v5 (
    error_key       VARCHAR NOT NULL,
    run_id          VARCHAR,
    file            VARCHAR NOT NULL,
    line            INTEGER,
    conversation_id VARCHAR,
    field           VARCHAR,
    message         VARCHAR NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL
);
INSERT INTO ingest_errors_v5 SELECT * FROM ingest_errors;
DROP TABLE ingest_errors;
ALTER TABLE ingest_errors_v5 RENAME TO ingest_errors;

CREATE TABLE candidates_v5 (
    candidate_id       BIGINT NOT NULL,
    conversation_id    VARCHAR NOT NULL,
    content_hash       VARCHAR NOT NULL,
    model              VARCHAR NOT NULL,
    config_hash        VARCHAR NOT NULL,
    response_entry_idx INTEGER NOT NULL,
    dependence         DOUBLE NOT NULL,
    status             VARCHAR NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    reviewed_at        TIMESTAMPTZ
);
INSERT INTO candidates_v5 SELECT * FROM candidates;
DROP TABLE candidates;
DROP SEQUENCE candidate_ids;
ALTER TABLE candidates_v5 RENAME TO candidates;

CREATE TABLE exports_v5 (
    export_id  VARCHAR NOT NULL,
    name       VARCHAR NOT NULL,
    format     VARCHAR NOT NULL,
    directory  VARCHAR NOT NULL,
    selection  JSON NOT NULL,
    n_examples INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
INSERT INTO exports_v5 SELECT * FROM exports;
DROP TABLE exports;
ALTER TABLE exports_v5 RENAME TO exports;

CREATE TABLE export_items_v5 (
    export_id          VARCHAR NOT NULL,
    example_idx        INTEGER NOT NULL,
    candidate_id       BIGINT NOT NULL,
    conversation_id    VARCHAR NOT NULL,
    content_hash       VARCHAR NOT NULL,
    model              VARCHAR NOT NULL,
    config_hash        VARCHAR NOT NULL,
    response_entry_idx INTEGER NOT NULL,
    dependence         DOUBLE NOT NULL
);
INSERT INTO export_items_v5 SELECT * FROM export_items;
DROP TABLE export_items;
ALTER TABLE export_items_v5 RENAME TO export_items;

CREATE TABLE memory_weights_v5 (
    memory_key     VARCHAR NOT NULL,
    weight         DOUBLE NOT NULL,
    n_scored       INTEGER NOT NULL,
    last_scored_at TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
INSERT INTO memory_weights_v5 SELECT * FROM memory_weights;
DROP TABLE memory_weights;
ALTER TABLE memory_weights_v5 RENAME TO memory_weights;

-- A write that adds or replaces rows by a logical key bumps this one row in the same transaction, so two such
-- commits that overlap conflict in DuckLake and the later one is retried (docs/schema.md, "Many writers").
CREATE TABLE keyed_writes (
    scope         VARCHAR NOT NULL,
    writes        BIGINT NOT NULL,
    last_write_at TIMESTAMPTZ
);
INSERT INTO keyed_writes VALUES ('store', 0, NULL);

-- The latest result of each conversation id, and what users query. Only exact cells count (divergence NOT NULL);
-- memories are grouped by matrix row (memory_idx), so a system-prompt memory (memory_entry_idx NULL) is one too.
CREATE VIEW latest_results AS
SELECT * EXCLUDE (rn) FROM (
    SELECT r.*, row_number() OVER (PARTITION BY conversation_id
                                   ORDER BY scored_at DESC, run_id DESC, model DESC, config_hash DESC) AS rn
    FROM results r
) WHERE rn = 1;

CREATE VIEW memory_rows AS
SELECT s.conversation_id, s.memory_key, s.memory_idx, s.memory_entry_idx, l.model, l.scored_at,
       sum(s.divergence) AS importance, count(s.divergence) AS cells
FROM scores s
JOIN latest_results l USING (content_hash, model, config_hash)
GROUP BY ALL
HAVING count(s.divergence) > 0;

CREATE VIEW memory_importance AS
SELECT memory_key,
       count(DISTINCT conversation_id) AS conversations,
       sum(importance)                 AS importance,
       avg(importance)                 AS mean,
       max(importance)                 AS max,
       max(scored_at)                  AS last_scored
FROM memory_rows
GROUP BY memory_key;

CREATE VIEW response_dependence AS
SELECT p.conversation_id, p.column_idx, p.response_entry_idx, l.model, l.scored_at,
       p.score                                          AS dependence,
       p.drop_all,
       p.tokens,
       CASE WHEN p.tokens > 0 THEN p.score / p.tokens END    AS dependence_per_token,
       CASE WHEN p.tokens > 0 THEN p.drop_all / p.tokens END AS drop_all_per_token
FROM responses p
JOIN latest_results l USING (content_hash, model, config_hash);
