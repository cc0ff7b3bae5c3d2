-- One row per distinct input error: the bad line an hourly run meets again is kept once, as first seen.
CREATE TABLE ingest_errors_keyed (
    error_key       VARCHAR PRIMARY KEY,
    run_id          VARCHAR,
    file            VARCHAR NOT NULL,
    line            INTEGER,
    conversation_id VARCHAR,
    field           VARCHAR,
    message         VARCHAR NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL
);

INSERT INTO ingest_errors_keyed
SELECT DISTINCT ON (error_key) error_key, run_id, file, line, conversation_id, field, message, recorded_at
FROM (SELECT md5(json_array(file, line, conversation_id, field, message)::VARCHAR) AS error_key, *
      FROM ingest_errors)
ORDER BY error_key, recorded_at;

DROP TABLE ingest_errors;
ALTER TABLE ingest_errors_keyed RENAME TO ingest_errors;
