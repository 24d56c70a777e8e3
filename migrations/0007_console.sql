-- Migration: the operator console (issue 9).

-- Admins may open /admin. Set with `gpt-todo user add EMAIL --admin` or `user set-admin EMAIL on`.
ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;

-- Calls per day by (user, client, outcome), kept for ever: the charts and totals read these, so
-- the call log itself can be pruned (--call-log-days). user_id and client_id are '' when the
-- caller was unknown (a 401). outcome is '2xx', '4xx', '429' or '5xx'.
CREATE TABLE api_calls_daily (
    day       TEXT NOT NULL,                     -- UTC, '2026-11-30'
    user_id   TEXT NOT NULL,
    client_id TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    calls     INTEGER NOT NULL,
    PRIMARY KEY (day, user_id, client_id, outcome)
) WITHOUT ROWID;

-- Calls per hour by outcome only (a few rows a day), for the overview's calls-per-hour chart.
CREATE TABLE api_calls_hourly (
    hour    TEXT NOT NULL,                       -- UTC, '2026-11-30T14'
    outcome TEXT NOT NULL,
    calls   INTEGER NOT NULL,
    PRIMARY KEY (hour, outcome)
) WITHOUT ROWID;

-- (Replaced in 0011: housekeeping rolls settled rows up instead, without a trigger.)
-- The rollups are counted as each row is logged, in the same transaction as the row: whatever
-- writes the log (the server, a test, an import) cannot leave them behind. Deleting old log rows
-- does not touch them.
CREATE TRIGGER api_calls_rollup AFTER INSERT ON api_calls
BEGIN
    INSERT INTO api_calls_daily (day, user_id, client_id, outcome, calls)
    VALUES (substr(NEW.at, 1, 10), coalesce(NEW.user_id, ''), coalesce(NEW.client_id, ''),
            CASE WHEN NEW.status = 429 THEN '429' WHEN NEW.status >= 500 THEN '5xx'
                 WHEN NEW.status >= 400 THEN '4xx' ELSE '2xx' END, 1)
    ON CONFLICT (day, user_id, client_id, outcome) DO UPDATE SET calls = calls + 1;
    INSERT INTO api_calls_hourly (hour, outcome, calls)
    VALUES (substr(NEW.at, 1, 13),
            CASE WHEN NEW.status = 429 THEN '429' WHEN NEW.status >= 500 THEN '5xx'
                 WHEN NEW.status >= 400 THEN '4xx' ELSE '2xx' END, 1)
    ON CONFLICT (hour, outcome) DO UPDATE SET calls = calls + 1;
END;

-- The log so far, counted once.
INSERT INTO api_calls_daily (day, user_id, client_id, outcome, calls)
    SELECT substr(at, 1, 10), coalesce(user_id, ''), coalesce(client_id, ''),
           CASE WHEN status = 429 THEN '429' WHEN status >= 500 THEN '5xx'
                WHEN status >= 400 THEN '4xx' ELSE '2xx' END AS outcome, count(*)
      FROM api_calls GROUP BY 1, 2, 3, 4;
INSERT INTO api_calls_hourly (hour, outcome, calls)
    SELECT substr(at, 1, 13),
           CASE WHEN status = 429 THEN '429' WHEN status >= 500 THEN '5xx'
                WHEN status >= 400 THEN '4xx' ELSE '2xx' END AS outcome, count(*)
      FROM api_calls GROUP BY 1, 2;

-- Every change made in the console: who (the admin's email at the time), what, when.
CREATE TABLE admin_audit (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    admin_id    TEXT NOT NULL,
    admin_email TEXT NOT NULL,
    action      TEXT NOT NULL,                   -- e.g. 'client.set-limit'
    target      TEXT NOT NULL,                   -- the client id or the user's email
    detail      TEXT NOT NULL DEFAULT ''
);

-- The call log's filters by user and by client, newest first.
CREATE INDEX api_calls_by_user ON api_calls(user_id, id);
CREATE INDEX api_calls_by_client ON api_calls(client_id, id);
