-- Migration: the console's rollups are counted by housekeeping, not by a trigger (issue 19).
-- With the trigger, every logged call upserted the same api_calls_hourly (hour, outcome) row; on
-- PostgreSQL that row would be locked until each call's commit, serialising every instance.
-- Now each call-log row is born unrolled (rolled_up = 0); housekeeping adds the rows older than a
-- settle margin to the rollups a batch at a time and marks them, and the console reads the
-- rollups plus the few rows not yet rolled up (the two views below), so its figures stay current.
DROP TRIGGER api_calls_rollup;

ALTER TABLE api_calls ADD COLUMN rolled_up INTEGER NOT NULL DEFAULT 0;
-- Every row so far was counted by the trigger.
UPDATE api_calls SET rolled_up = 1;
-- Only the unrolled rows, a minute's worth or so: housekeeping and the views find them here.
CREATE INDEX api_calls_unrolled ON api_calls(id) WHERE rolled_up = 0;

-- Calls per day by (user, client, outcome), current to the last call.
CREATE VIEW api_calls_by_day AS
SELECT day, user_id, client_id, outcome, sum(calls) AS calls
  FROM (SELECT day, user_id, client_id, outcome, calls FROM api_calls_daily
        UNION ALL
        SELECT substr(at, 1, 10), coalesce(user_id, ''), coalesce(client_id, ''),
               CASE WHEN status = 429 THEN '429' WHEN status >= 500 THEN '5xx'
                    WHEN status >= 400 THEN '4xx' ELSE '2xx' END, 1
          FROM api_calls WHERE rolled_up = 0)
 GROUP BY day, user_id, client_id, outcome;

-- Calls per hour by outcome, current to the last call.
CREATE VIEW api_calls_by_hour AS
SELECT hour, outcome, sum(calls) AS calls
  FROM (SELECT hour, outcome, calls FROM api_calls_hourly
        UNION ALL
        SELECT substr(at, 1, 13),
               CASE WHEN status = 429 THEN '429' WHEN status >= 500 THEN '5xx'
                    WHEN status >= 400 THEN '4xx' ELSE '2xx' END, 1
          FROM api_calls WHERE rolled_up = 0)
 GROUP BY hour, outcome;
