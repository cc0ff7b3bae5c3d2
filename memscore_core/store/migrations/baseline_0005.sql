-- Baseline: the schema of migrations 0001-0005 in one step, as a new store (DuckDB file or DuckLake) starts.
-- tests/store/test_schema.py checks that it ends where the migration chain ends, column for column.
-- schema_migrations is created before this file runs (queries.MIGRATIONS_TABLE).

CREATE TABLE conversations (
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

CREATE TABLE entries (
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

CREATE TABLE scoring_runs (
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

CREATE TABLE results (
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

CREATE TABLE responses (
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

CREATE TABLE scores (
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

CREATE TABLE ingest_errors (
    error_key       VARCHAR NOT NULL,
    run_id          VARCHAR,
    file            VARCHAR NOT NULL,
    line            INTEGER,
    conversation_id VARCHAR,
    field           VARCHAR,
    message         VARCHAR NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE candidates (
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

CREATE TABLE exports (
    export_id  VARCHAR NOT NULL,
    name       VARCHAR NOT NULL,
    format     VARCHAR NOT NULL,
    directory  VARCHAR NOT NULL,
    selection  JSON NOT NULL,
    n_examples INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE export_items (
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

CREATE TABLE memory_weights (
    memory_key     VARCHAR NOT NULL,
    weight         DOUBLE NOT NULL,
    n_scored       INTEGER NOT NULL,
    last_scored_at TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

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
