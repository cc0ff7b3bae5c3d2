-- The memory views sum divergences as exact decimals (12 places, 18 digits per cell) and return doubles: a sum
-- of doubles depends on the order the rows arrive in, which differs between a DuckDB file and a DuckLake, and
-- between two reads of one DuckLake (37.3938 vs 37.393800000000006), so `top --json` was not byte-stable.
-- A decimal sum is exact, hence the same in any order; rounding each cell to 1e-12 nats is far below any
-- difference a model's log-probabilities can show. Columns, names and types are unchanged.
DROP VIEW IF EXISTS memory_importance;
DROP VIEW IF EXISTS memory_rows;

CREATE VIEW memory_rows AS
SELECT s.conversation_id, s.memory_key, s.memory_idx, s.memory_entry_idx, l.model, l.scored_at,
       sum(s.divergence::DECIMAL(18, 12))::DOUBLE                  AS importance,
       count(s.divergence)                                          AS cells,
       count(s.screened) FILTER (WHERE s.divergence IS NULL)        AS screened
FROM scores s
JOIN latest_results l USING (content_hash, model, config_hash)
GROUP BY ALL
HAVING count(s.divergence) > 0 OR count(s.screened) FILTER (WHERE s.divergence IS NULL) > 0;

CREATE VIEW memory_importance AS
SELECT memory_key,
       count(DISTINCT conversation_id)                   AS conversations,
       sum(importance::DECIMAL(38, 12))::DOUBLE          AS importance,
       avg(importance::DECIMAL(38, 12))::DOUBLE          AS mean,
       max(importance)                                   AS max,
       max(scored_at)                                    AS last_scored,
       sum(cells)::BIGINT                                AS cells,
       sum(screened)::BIGINT                             AS screened
FROM memory_rows
GROUP BY memory_key;
