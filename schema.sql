-- gpt-todo schema. Embedded in the binary; src/store/sqlite/mod.rs applies each numbered migration once and records
-- the number in PRAGMA user_version. This file is migration 1: change it only by adding a new one.
--
-- Ids are TEXT because in remote user-info mode the user and client ids come from another server.
-- Times people read are RFC 3339 UTC text; expiry times are unix seconds, compared in SQL.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,                  -- argon2id PHC string
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE oauth_clients (
    client_id     TEXT PRIMARY KEY,
    secret_hash   TEXT,                           -- SHA-256 of the secret; NULL for a public client
    name          TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,                  -- JSON array, matched by exact string comparison
    call_limit    INTEGER,                        -- NULL: the server's --default-call-limit
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE oauth_codes (
    code_hash      TEXT PRIMARY KEY,              -- SHA-256 of the code
    client_id      TEXT NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL DEFAULT '',
    code_challenge TEXT,                          -- PKCE S256 challenge, when the client sent one
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE oauth_tokens (
    token_hash  TEXT PRIMARY KEY,                 -- SHA-256 of the token; the token itself is never stored
    kind        TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    client_id   TEXT NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scope       TEXT NOT NULL DEFAULT '',
    family_id   TEXT NOT NULL,                    -- every token descending from one grant
    code_hash   TEXT,                             -- the authorization code that started the family
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    rotated_at  INTEGER,                          -- a refresh token already exchanged for a new one
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX oauth_tokens_by_family ON oauth_tokens(family_id);
CREATE INDEX oauth_tokens_by_code ON oauth_tokens(code_hash);

-- Signed-in browser sessions of the authorization pages. The cookie holds a random secret; only
-- its hash is stored. A browser without a row here is signed out (its cookie still keys CSRF).
CREATE TABLE oauth_sessions (
    session_hash TEXT PRIMARY KEY,                -- SHA-256 of the cookie value
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at   INTEGER NOT NULL,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE todos (
    id          INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, so newest first = id descending
    user_id     TEXT NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'pending',
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX todos_by_user ON todos(user_id, id);
CREATE INDEX todos_by_user_status ON todos(user_id, status, id);

CREATE TABLE api_usage (
    user_id   TEXT NOT NULL,
    client_id TEXT NOT NULL,
    count     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, client_id)
) WITHOUT ROWID;

-- One row per /api/* call, whatever its outcome. Never a token, password or secret.
CREATE TABLE api_calls (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    status      INTEGER NOT NULL,
    user_id     TEXT,                             -- NULL when the caller is unknown (e.g. a 401)
    client_id   TEXT,
    usage_count INTEGER,                          -- the caller's counter after the call
    duration_ms REAL NOT NULL,
    request_id  TEXT NOT NULL,
    user_agent  TEXT,
    error       TEXT
);
