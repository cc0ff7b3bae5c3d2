-- Downstream: fine-tuning candidates and their review, exports that trace back to scores, memory weights.
CREATE SEQUENCE candidate_ids START 1;

CREATE TABLE candidates (
    candidate_id       BIGINT PRIMARY KEY DEFAULT nextval('candidate_ids'),
    conversation_id    VARCHAR NOT NULL,
    content_hash       VARCHAR NOT NULL,
    model              VARCHAR NOT NULL,
    config_hash        VARCHAR NOT NULL,
    response_entry_idx INTEGER NOT NULL,
    dependence         DOUBLE NOT NULL,
    status             VARCHAR NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at         TIMESTAMPTZ NOT NULL,
    reviewed_at        TIMESTAMPTZ,
    UNIQUE (content_hash, model, config_hash, response_entry_idx)
);

CREATE TABLE exports (
    export_id   VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    format      VARCHAR NOT NULL,
    directory   VARCHAR NOT NULL,
    selection   JSON NOT NULL,
    n_examples  INTEGER NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
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
    dependence         DOUBLE NOT NULL,
    PRIMARY KEY (export_id, example_idx)
);

CREATE TABLE memory_weights (
    memory_key     VARCHAR PRIMARY KEY,
    weight         DOUBLE NOT NULL,
    n_scored       INTEGER NOT NULL,
    last_scored_at TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

-- Exports rebuild prompts from the store alone.
ALTER TABLE conversations ADD COLUMN system_prompt VARCHAR;
ALTER TABLE conversations ADD COLUMN context VARCHAR;
ALTER TABLE entries ADD COLUMN tool_call_id VARCHAR;
