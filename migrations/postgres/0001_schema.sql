-- gpt-todo's PostgreSQL schema (PostgreSQL >= 15), the first migration of the PostgreSQL dialect.
--
-- It is the SQLite schema as it stands after schema.sql and migrations/0002..0011, written at
-- once: the same tables, columns (in the same order), meanings, keys, checks and indexes, plus the
-- two console views. It records version 11 in gpt_todo_schema (below): PostgreSQL's numbering
-- mirrors SQLite's PRAGMA user_version, so one number names the schema on both backends, and the
-- next change is migrations/0012_*.sql beside migrations/postgres/0012_*.sql. Change this file
-- only by adding a new one.
--
-- Apply it in one transaction (psql -1, or start-up's own BEGIN … COMMIT; PostgreSQL's DDL is
-- transactional), so a half-applied schema never exists. Two instances starting together on an
-- empty database both try; the loser waits for the winner's commit, then fails on a name already
-- taken (SQLSTATE 23505 on pg_type_typname_nsp_index, or 42P07), and start-up then reads the
-- winner's version instead of failing.
--
-- Where this differs from SQLite, on purpose (scripts/pg-schema-check compares the two):
-- * Integers are BIGINT: SQLite's INTEGER is 64-bit, and the drivers map it to i64 on both
--   backends (PostgreSQL's INTEGER would be i32). REAL is DOUBLE PRECISION for the same reason
--   (PostgreSQL's REAL is 4 bytes; SQLite's is 8).
-- * Text is COLLATE "C": SQLite compares text bytewise (BINARY) unless told otherwise, while
--   PostgreSQL would use the database's locale, which varies per server (en_US.UTF-8 sorts 'B'
--   after 'a' and skips punctuation). With "C", keys, RFC 3339 timestamps, periods ('2026-11',
--   '2026-11-30') and keyset pages sort and compare as on SQLite, whatever the database's locale.
-- * No column default reads the clock: the application writes every timestamp (issue 19 item 4),
--   in the same text form as SQLite's, '2026-12-02T08:03:12.345Z'. Defaults that are constants
--   ('' , 0, 'pending', 'operator', 'console') stay.
-- * Row ids are BIGINT GENERATED ALWAYS AS IDENTITY, for SQLite's INTEGER PRIMARY KEY (with or
--   without AUTOINCREMENT): never reused. An INSERT that carries its own id (gpt-todo copy) needs
--   OVERRIDING SYSTEM VALUE, and afterwards setval() past the largest copied id. Identity values
--   can commit out of order across connections: no code may treat "every id below N is visible"
--   as true (hence rolled_up, not an id watermark).
-- * users.email: SQLite's COLLATE NOCASE becomes a unique index on lower(email) (below), and the
--   store compares lower(email) = lower($1). NOCASE folds ASCII letters only, and so does lower()
--   on a COLLATE "C" value ('É' stays 'É'): both backends agree on which addresses are one.
-- * No WITHOUT ROWID (a SQLite storage choice; PostgreSQL tables are heaps with a primary-key
--   index), no PRAGMA application_id (gpt_todo_schema is the mark), no triggers, no enum types,
--   no sequences beyond the identities.

CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    email         TEXT COLLATE "C" NOT NULL,     -- unique case-insensitively: users_email_nocase
    name          TEXT COLLATE "C" NOT NULL DEFAULT '',
    password_hash TEXT COLLATE "C" NOT NULL,     -- argon2id PHC string
    created_at    TEXT COLLATE "C" NOT NULL,
    disabled_at   BIGINT,                        -- unix seconds; a disabled user's tokens stop at once
    unlocked_at   BIGINT,                        -- unix seconds of the last `user unlock`
    is_admin      BIGINT NOT NULL DEFAULT 0      -- 0 or 1, as on SQLite, so the same SQL text runs
);
-- SQLite's `email TEXT UNIQUE COLLATE NOCASE`: one account per address, whatever its case.
CREATE UNIQUE INDEX users_email_nocase ON users (lower(email));

CREATE TABLE oauth_clients (
    client_id     TEXT COLLATE "C" PRIMARY KEY,
    secret_hash   TEXT COLLATE "C",              -- SHA-256 of the secret; NULL for a public client
    name          TEXT COLLATE "C" NOT NULL,
    redirect_uris TEXT COLLATE "C" NOT NULL,     -- JSON array, matched by exact string comparison
    call_limit    BIGINT,                        -- NULL: the server's --default-call-limit
    created_at    TEXT COLLATE "C" NOT NULL,
    call_window   TEXT COLLATE "C" CHECK (call_window IN ('total', 'day', 'month')),
    registration  TEXT COLLATE "C" NOT NULL DEFAULT 'operator'
                  CHECK (registration IN ('operator', 'dynamic', 'metadata-document')),
    registered_at BIGINT,                        -- unix seconds, for self-registered clients
    authorized_at BIGINT                         -- first given tokens: kept for good from then on
);

CREATE TABLE oauth_codes (
    code_hash      TEXT COLLATE "C" PRIMARY KEY, -- SHA-256 of the code
    client_id      TEXT COLLATE "C" NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    user_id        TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri   TEXT COLLATE "C" NOT NULL,
    scope          TEXT COLLATE "C" NOT NULL DEFAULT '',
    code_challenge TEXT COLLATE "C",             -- PKCE S256 challenge, when the client sent one
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    created_at     TEXT COLLATE "C" NOT NULL,
    resource       TEXT COLLATE "C"              -- RFC 8707 resource; NULL: unbound
);

CREATE TABLE oauth_tokens (
    token_hash  TEXT COLLATE "C" PRIMARY KEY,    -- SHA-256 of the token; the token is never stored
    kind        TEXT COLLATE "C" NOT NULL CHECK (kind IN ('access', 'refresh')),
    client_id   TEXT COLLATE "C" NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    user_id     TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scope       TEXT COLLATE "C" NOT NULL DEFAULT '',
    family_id   TEXT COLLATE "C" NOT NULL,       -- every token descending from one grant
    code_hash   TEXT COLLATE "C",                -- the authorization code that started the family
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    rotated_at  BIGINT,                          -- a refresh token already exchanged for a new one
    created_at  TEXT COLLATE "C" NOT NULL,
    resource    TEXT COLLATE "C"                 -- RFC 8707 resource; NULL: unbound
);
CREATE INDEX oauth_tokens_by_family ON oauth_tokens(family_id);
CREATE INDEX oauth_tokens_by_code ON oauth_tokens(code_hash);

-- Signed-in browser sessions of the authorization pages; only the cookie's hash is stored.
CREATE TABLE oauth_sessions (
    session_hash TEXT COLLATE "C" PRIMARY KEY,   -- SHA-256 of the cookie value
    user_id      TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at   BIGINT NOT NULL,
    created_at   TEXT COLLATE "C" NOT NULL
);

CREATE TABLE todos (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- never reused
    user_id     TEXT COLLATE "C" NOT NULL,
    title       TEXT COLLATE "C" NOT NULL,
    description TEXT COLLATE "C" NOT NULL DEFAULT '',
    status      TEXT COLLATE "C" NOT NULL DEFAULT 'pending',
    created_at  TEXT COLLATE "C" NOT NULL,
    updated_at  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX todos_by_user ON todos(user_id, id);
CREATE INDEX todos_by_user_status ON todos(user_id, status, id);

-- Calls counted per period: 'total', a UTC day '2026-11-30' or a month '2026-11'. The quota's
-- claim is one conditional upsert on this key (issue 19 item 3).
CREATE TABLE api_usage (
    user_id   TEXT COLLATE "C" NOT NULL,
    client_id TEXT COLLATE "C" NOT NULL,
    period    TEXT COLLATE "C" NOT NULL,
    count     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, client_id, period)
);

-- A limit for one user of one client, which beats the client's own. user_id has no foreign key:
-- in remote user-info mode users live on another server.
CREATE TABLE api_limit_overrides (
    user_id     TEXT COLLATE "C" NOT NULL,
    client_id   TEXT COLLATE "C" NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    call_limit  BIGINT NOT NULL CHECK (call_limit >= 0),
    call_window TEXT COLLATE "C" NOT NULL CHECK (call_window IN ('total', 'day', 'month')),
    created_at  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- One row per /api/* call, whatever its outcome. Never a token, password or secret.
CREATE TABLE api_calls (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TEXT COLLATE "C" NOT NULL,
    method      TEXT COLLATE "C" NOT NULL,
    path        TEXT COLLATE "C" NOT NULL,
    status      BIGINT NOT NULL,
    user_id     TEXT COLLATE "C",                -- NULL when the caller is unknown (e.g. a 401)
    client_id   TEXT COLLATE "C",
    usage_count BIGINT,                          -- the caller's counter after the call
    duration_ms DOUBLE PRECISION NOT NULL,
    request_id  TEXT COLLATE "C" NOT NULL,
    user_agent  TEXT COLLATE "C",
    error       TEXT COLLATE "C",
    tool        TEXT COLLATE "C",                -- the MCP tool of a tools/call; NULL for REST
    rolled_up   BIGINT NOT NULL DEFAULT 0        -- 1 once housekeeping added it to the rollups
);
CREATE INDEX api_calls_by_user ON api_calls(user_id, id);
CREATE INDEX api_calls_by_client ON api_calls(client_id, id);
-- Only the unrolled rows, a minute's worth or so: housekeeping and the views find them here.
CREATE INDEX api_calls_unrolled ON api_calls(id) WHERE rolled_up = 0;

-- Calls per day by (user, client, outcome), kept for ever and added to by housekeeping. user_id
-- and client_id are '' when the caller was unknown. outcome is '2xx', '4xx', '429' or '5xx'.
CREATE TABLE api_calls_daily (
    day       TEXT COLLATE "C" NOT NULL,         -- UTC, '2026-11-30'
    user_id   TEXT COLLATE "C" NOT NULL,
    client_id TEXT COLLATE "C" NOT NULL,
    outcome   TEXT COLLATE "C" NOT NULL,
    calls     BIGINT NOT NULL,
    PRIMARY KEY (day, user_id, client_id, outcome)
);

-- Calls per hour by outcome only (a few rows a day), for the console's hourly chart.
CREATE TABLE api_calls_hourly (
    hour    TEXT COLLATE "C" NOT NULL,           -- UTC, '2026-11-30T14'
    outcome TEXT COLLATE "C" NOT NULL,
    calls   BIGINT NOT NULL,
    PRIMARY KEY (hour, outcome)
);

-- Every change made in the console or with the command line: who, what, when, and how.
CREATE TABLE admin_audit (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TEXT COLLATE "C" NOT NULL,
    admin_id    TEXT COLLATE "C" NOT NULL,       -- empty for a 'cli' row
    admin_email TEXT COLLATE "C" NOT NULL,       -- for 'cli': the system account (and sudo caller)
    action      TEXT COLLATE "C" NOT NULL,       -- e.g. 'client.set-limit'
    target      TEXT COLLATE "C" NOT NULL,       -- the client id or the user's email
    detail      TEXT COLLATE "C" NOT NULL DEFAULT '',
    via         TEXT COLLATE "C" NOT NULL DEFAULT 'console' -- 'console' or 'cli'
);

-- The self-registered clients never authorized, oldest first, without reading the operator's.
CREATE INDEX oauth_clients_unauthorized ON oauth_clients(registered_at)
 WHERE authorized_at IS NULL AND registration <> 'operator';
-- Housekeeping's batches find expired and revoked rows by index.
CREATE INDEX oauth_tokens_by_expiry ON oauth_tokens(expires_at);
CREATE INDEX oauth_tokens_revoked ON oauth_tokens(revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX oauth_codes_by_expiry ON oauth_codes(expires_at);
CREATE INDEX oauth_sessions_by_expiry ON oauth_sessions(expires_at);
-- Whether a client holds tokens or codes, and the cascades when one is removed, by index.
CREATE INDEX oauth_tokens_by_client ON oauth_tokens(client_id);
CREATE INDEX oauth_codes_by_client ON oauth_codes(client_id);
CREATE INDEX api_limit_overrides_by_client ON api_limit_overrides(client_id);

-- The schema steps of extensions, by name and version as each is applied (Tx::apply_migrations),
-- so start-up can tell an extension's tables from foreign ones, and `copy` carries them.
CREATE TABLE extension_migrations (
    name    TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

-- The console's figures: the rollups plus the few rows housekeeping has not rolled up yet, so
-- they stay current to the last call. sum() is cast back to BIGINT: on PostgreSQL, sum(bigint) is
-- NUMERIC, which the drivers would not read as i64. (PostgreSQL 15 needs the subquery's alias.)
CREATE VIEW api_calls_by_day AS
SELECT day, user_id, client_id, outcome, CAST(sum(calls) AS BIGINT) AS calls
  FROM (SELECT day, user_id, client_id, outcome, calls FROM api_calls_daily
        UNION ALL
        SELECT substr(at, 1, 10), coalesce(user_id, ''), coalesce(client_id, ''),
               CASE WHEN status = 429 THEN '429' WHEN status >= 500 THEN '5xx'
                    WHEN status >= 400 THEN '4xx' ELSE '2xx' END, 1
          FROM api_calls WHERE rolled_up = 0) AS calls_so_far
 GROUP BY day, user_id, client_id, outcome;

CREATE VIEW api_calls_by_hour AS
SELECT hour, outcome, CAST(sum(calls) AS BIGINT) AS calls
  FROM (SELECT hour, outcome, calls FROM api_calls_hourly
        UNION ALL
        SELECT substr(at, 1, 13),
               CASE WHEN status = 429 THEN '429' WHEN status >= 500 THEN '5xx'
                    WHEN status >= 400 THEN '4xx' ELSE '2xx' END, 1
          FROM api_calls WHERE rolled_up = 0) AS calls_so_far
 GROUP BY hour, outcome;

-- The schema's version, one row, read by start-up and held FOR UPDATE while it migrates, so
-- instances starting together take turns (issue 20 item 4: a row lock, because not every
-- PostgreSQL-wire engine honours advisory locks). The numbering mirrors SQLite's user_version:
-- 11 is the SQLite schema after migrations/0011. A version above the binary's is refused untouched.
CREATE TABLE gpt_todo_schema (version INTEGER NOT NULL);
INSERT INTO gpt_todo_schema (version) VALUES (11);
