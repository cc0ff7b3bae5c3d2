-- A per-result summary of each memory's row, written with the result in its transaction (and deleted with it), so
-- `top`, `weights` and the UI's memory pages aggregate one row per (result, memory) instead of every cell (10^6 rows
-- instead of 10^7 at 10^5 conversations). `importance` is the row's sum of exact cells as exact decimals, as
-- migration 0007's view computed it (so `top --json` stays byte-stable); `max` its largest exact cell; `cells` its
-- exact cells, `screened` its screened ones; `helped` the response entries it has an exact cell above 0 for (JSON
-- list, by column); `key_first` marks the first row of its memory key in the result among the rows with a cell
-- (so a key's conversations are counted without a DISTINCT). The result's conversation, run, strategy and time are
-- repeated for filtering. Existing results are summarised here.
-- `stale_results` lists the results that are not their conversation's latest (found among the conversations with
-- more than one result only: cheaper than numbering every result); the memory views read the summary without
-- them, their columns unchanged.
CREATE TABLE memory_summary (
    content_hash     VARCHAR NOT NULL,
    model            VARCHAR NOT NULL,
    config_hash      VARCHAR NOT NULL,
    run_id           VARCHAR NOT NULL,
    conversation_id  VARCHAR NOT NULL,
    strategy         VARCHAR NOT NULL,
    scored_at        TIMESTAMPTZ NOT NULL,
    memory_key       VARCHAR NOT NULL,
    memory_idx       INTEGER NOT NULL,
    memory_entry_idx INTEGER,
    importance       DOUBLE,
    max              DOUBLE,
    cells            BIGINT NOT NULL,
    screened         BIGINT NOT NULL,
    helped           VARCHAR,
    key_first        BOOLEAN NOT NULL
);

INSERT INTO memory_summary
WITH summarised AS (
    SELECT r.content_hash, r.model, r.config_hash, r.run_id, r.conversation_id, r.strategy, r.scored_at,
           s.memory_key, s.memory_idx, s.memory_entry_idx,
           sum(s.divergence::DECIMAL(18, 12))::DOUBLE AS importance,
           max(s.divergence) AS max,
           count(s.divergence) AS cells,
           count(s.screened) FILTER (WHERE s.divergence IS NULL) AS screened,
           to_json(list(s.response_entry_idx ORDER BY s.column_idx)
                   FILTER (WHERE s.divergence > 0 AND s.response_entry_idx IS NOT NULL))::VARCHAR AS helped
    FROM scores s
    JOIN results r USING (content_hash, model, config_hash)
    GROUP BY r.content_hash, r.model, r.config_hash, r.run_id, r.conversation_id, r.strategy, r.scored_at,
             s.memory_key, s.memory_idx, s.memory_entry_idx)
SELECT *, (cells > 0 OR screened > 0) AND row_number() OVER (
           PARTITION BY content_hash, model, config_hash, memory_key, cells > 0 OR screened > 0
           ORDER BY memory_idx) = 1
FROM summarised;

CREATE VIEW stale_results AS
SELECT content_hash, model, config_hash FROM results
WHERE conversation_id IN (SELECT conversation_id FROM results GROUP BY conversation_id HAVING count(*) > 1)
QUALIFY row_number() OVER (PARTITION BY conversation_id
                           ORDER BY scored_at DESC, run_id DESC, model DESC, config_hash DESC) > 1;

DROP VIEW IF EXISTS memory_importance;
DROP VIEW IF EXISTS memory_rows;

CREATE VIEW memory_rows AS
SELECT conversation_id, memory_key, memory_idx, memory_entry_idx, model, scored_at, importance, cells, screened
FROM memory_summary
ANTI JOIN stale_results USING (content_hash, model, config_hash)
WHERE cells > 0 OR screened > 0;

CREATE VIEW memory_importance AS
SELECT memory_key,
       count(*) FILTER (WHERE key_first)                 AS conversations,
       sum(importance::DECIMAL(38, 12))::DOUBLE          AS importance,
       avg(importance::DECIMAL(38, 12))::DOUBLE          AS mean,
       max(importance)                                   AS max,
       max(scored_at)                                    AS last_scored,
       sum(cells)::BIGINT                                AS cells,
       sum(screened)::BIGINT                             AS screened
FROM memory_summary
ANTI JOIN stale_results USING (content_hash, model, config_hash)
WHERE cells > 0 OR screened > 0
GROUP BY memory_key;
