-- Conversations, their entries, scoring runs, results (long format) and ingest errors.
CREATE TABLE conversations (
    conversation_id VARCHAR NOT NULL,
    content_hash    VARCHAR NOT NULL,
    source_file     VARCHAR,
    ingested_at     TIMESTAMPTZ NOT NULL,
    meta            JSON,
    PRIMARY KEY (conversation_id, content_hash)
);

CREATE TABLE entries (
    conversation_id VARCHAR NOT NULL,
    content_hash    VARCHAR NOT NULL,
    entry_idx       INTEGER NOT NULL,
    role            VARCHAR NOT NULL,
    memory_key      VARCHAR,
    content         VARCHAR NOT NULL,
    reasoning       VARCHAR,
    PRIMARY KEY (conversation_id, content_hash, entry_idx)
);

CREATE TABLE scoring_runs (
    run_id        VARCHAR PRIMARY KEY,
    flow_run_id   VARCHAR,
    model         VARCHAR NOT NULL,
    backend       VARCHAR NOT NULL,
    strategy      VARCHAR NOT NULL,
    config        JSON NOT NULL,
    config_hash   VARCHAR NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    status        VARCHAR NOT NULL,
    requests      BIGINT,
    prompt_tokens BIGINT
);

-- One result set per (content_hash, model, config_hash): re-scoring replaces it.
CREATE TABLE results (
    content_hash    VARCHAR NOT NULL,
    model           VARCHAR NOT NULL,
    config_hash     VARCHAR NOT NULL,
    conversation_id VARCHAR NOT NULL,
    run_id          VARCHAR NOT NULL,
    strategy        VARCHAR NOT NULL,
    scored_at       TIMESTAMPTZ NOT NULL,
    requests        BIGINT NOT NULL,
    prompt_tokens   BIGINT NOT NULL,
    chunks          JSON NOT NULL,
    PRIMARY KEY (content_hash, model, config_hash)
);

CREATE TABLE scores (
    content_hash       VARCHAR NOT NULL,
    model              VARCHAR NOT NULL,
    config_hash        VARCHAR NOT NULL,
    run_id             VARCHAR NOT NULL,
    conversation_id    VARCHAR NOT NULL,
    memory_key         VARCHAR NOT NULL,
    memory_entry_idx   INTEGER NOT NULL,
    response_entry_idx INTEGER NOT NULL,
    divergence         DOUBLE,
    signed             DOUBLE,
    tokens             INTEGER NOT NULL,
    PRIMARY KEY (content_hash, model, config_hash, memory_entry_idx, response_entry_idx)
);

CREATE TABLE responses (
    content_hash       VARCHAR NOT NULL,
    model              VARCHAR NOT NULL,
    config_hash        VARCHAR NOT NULL,
    run_id             VARCHAR NOT NULL,
    conversation_id    VARCHAR NOT NULL,
    response_entry_idx INTEGER NOT NULL,
    score              DOUBLE NOT NULL,
    drop_all           DOUBLE,
    tokens             INTEGER NOT NULL,
    PRIMARY KEY (content_hash, model, config_hash, response_entry_idx)
);

CREATE TABLE ingest_errors (
    run_id          VARCHAR,
    file            VARCHAR NOT NULL,
    line            INTEGER,
    conversation_id VARCHAR,
    field           VARCHAR,
    message         VARCHAR NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL
);
