-- Housekeeping (src/db/housekeeping.rs) deletes expired and revoked rows a small batch at a time;
-- these indexes let each batch find its rows without scanning the table.
CREATE INDEX oauth_tokens_by_expiry ON oauth_tokens(expires_at);
CREATE INDEX oauth_tokens_revoked ON oauth_tokens(revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX oauth_codes_by_expiry ON oauth_codes(expires_at);
CREATE INDEX oauth_sessions_by_expiry ON oauth_sessions(expires_at);
