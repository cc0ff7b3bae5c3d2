-- The manifest of incremental reading: what a run consumed of each source file, per reading scope (a hash of the
-- model, configuration, input options and shard), so the next run reads only new files and appended tails.
-- One row per (scope, path), kept so by keyed writes (no keys: DuckLake has none). A row is written only after
-- the results of the bytes it covers are stored; a vanished file keeps its row, marked, and its results.
CREATE TABLE source_files (
    scope         VARCHAR NOT NULL,
    path          VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    config_hash   VARCHAR NOT NULL,
    size          BIGINT NOT NULL,
    mtime_ns      BIGINT NOT NULL,
    consumed      BIGINT NOT NULL,
    lines         BIGINT NOT NULL,
    conversations BIGINT NOT NULL,
    head_hash     VARCHAR NOT NULL,
    tail_hash     VARCHAR NOT NULL,
    content_hash  VARCHAR NOT NULL,
    run_id        VARCHAR,
    read_at       TIMESTAMPTZ NOT NULL,
    vanished_at   TIMESTAMPTZ
);
