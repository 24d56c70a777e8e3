-- Migration 2: quota windows and per-user overrides.
--
-- A limit has a window: 'total' (a lifetime count, what every limit was before), 'day' or 'month'
-- (UTC calendar periods). Counters are kept per period, so past days and months stay readable.

-- The client's window goes with its call_limit: both NULL means the server's default limit and
-- window (--default-call-limit, --default-call-window).
ALTER TABLE oauth_clients ADD COLUMN call_window TEXT CHECK (call_window IN ('total', 'day', 'month'));
UPDATE oauth_clients SET call_window = 'total' WHERE call_limit IS NOT NULL;

-- A limit for one user of one client, which beats the client's own. user_id has no foreign key:
-- in remote user-info mode users live on another server.
CREATE TABLE api_limit_overrides (
    user_id     TEXT NOT NULL,
    client_id   TEXT NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    call_limit  INTEGER NOT NULL CHECK (call_limit >= 0),
    call_window TEXT NOT NULL CHECK (call_window IN ('total', 'day', 'month')),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (user_id, client_id)
) WITHOUT ROWID;

-- api_usage gains the period a count belongs to: 'total', a UTC day '2026-11-30' or a month
-- '2026-11'. The counts so far were lifetime totals, and are kept as such.
CREATE TABLE api_usage_by_period (
    user_id   TEXT NOT NULL,
    client_id TEXT NOT NULL,
    period    TEXT NOT NULL,
    count     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, client_id, period)
) WITHOUT ROWID;
INSERT INTO api_usage_by_period (user_id, client_id, period, count)
    SELECT user_id, client_id, 'total', count FROM api_usage;
DROP TABLE api_usage;
ALTER TABLE api_usage_by_period RENAME TO api_usage;
