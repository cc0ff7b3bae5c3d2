-- Screening strategies: each result keeps the noise floor its screening used and how it was obtained, and the
-- memory views count a row's screened cells (estimates where the exact cell is NULL) beside its exact cells.
-- Statistics still sum exact cells only; a memory whose row holds only screened cells is listed with importance
-- NULL. A new store applies baseline_0005.sql and then this migration.
DROP VIEW IF EXISTS response_dependence;
DROP VIEW IF EXISTS memory_importance;
DROP VIEW IF EXISTS memory_rows;
DROP VIEW IF EXISTS latest_results;

ALTER TABLE results ADD COLUMN noise_floor DOUBLE;
ALTER TABLE results ADD COLUMN noise_floor_method JSON;

CREATE VIEW latest_results AS
SELECT * EXCLUDE (rn) FROM (
    SELECT r.*, row_number() OVER (PARTITION BY conversation_id
                                   ORDER BY scored_at DESC, run_id DESC, model DESC, config_hash DESC) AS rn
    FROM results r
) WHERE rn = 1;

CREATE VIEW memory_rows AS
SELECT s.conversation_id, s.memory_key, s.memory_idx, s.memory_entry_idx, l.model, l.scored_at,
       sum(s.divergence)                                            AS importance,
       count(s.divergence)                                          AS cells,
       count(s.screened) FILTER (WHERE s.divergence IS NULL)        AS screened
FROM scores s
JOIN latest_results l USING (content_hash, model, config_hash)
GROUP BY ALL
HAVING count(s.divergence) > 0 OR count(s.screened) FILTER (WHERE s.divergence IS NULL) > 0;

CREATE VIEW memory_importance AS
SELECT memory_key,
       count(DISTINCT conversation_id) AS conversations,
       sum(importance)                 AS importance,
       avg(importance)                 AS mean,
       max(importance)                 AS max,
       max(scored_at)                  AS last_scored,
       sum(cells)::BIGINT              AS cells,
       sum(screened)::BIGINT           AS screened
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
