-- The latest result of each conversation id, and what users query: memory importance, response dependence.
CREATE VIEW latest_results AS
SELECT * EXCLUDE (rn) FROM (
    SELECT r.*, row_number() OVER (PARTITION BY conversation_id
                                   ORDER BY scored_at DESC, run_id DESC) AS rn
    FROM results r
) WHERE rn = 1;

CREATE VIEW memory_rows AS
SELECT s.conversation_id, s.memory_key, s.memory_entry_idx, l.model, l.scored_at,
       sum(s.divergence) AS importance, count(s.divergence) AS cells
FROM scores s
JOIN latest_results l USING (content_hash, model, config_hash)
GROUP BY ALL;

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
SELECT p.conversation_id, p.response_entry_idx, l.model, l.scored_at,
       p.score                                          AS dependence,
       p.drop_all,
       p.tokens,
       CASE WHEN p.tokens > 0 THEN p.score / p.tokens END    AS dependence_per_token,
       CASE WHEN p.tokens > 0 THEN p.drop_all / p.tokens END AS drop_all_per_token
FROM responses p
JOIN latest_results l USING (content_hash, model, config_hash);
