-- Migration: what strangers can create stays bounded (issue 18).

-- When a client that registered itself (RFC 7591, or a Client ID Metadata Document) was
-- registered, in unix seconds by the server's clock; and when it was first given tokens, which
-- keeps it for good. Clients never authorized are removed beyond a fixed number, and after a day
-- (src/clients.rs, src/db/housekeeping.rs).
ALTER TABLE oauth_clients ADD COLUMN registered_at INTEGER;
ALTER TABLE oauth_clients ADD COLUMN authorized_at INTEGER;
UPDATE oauth_clients SET registered_at = CAST(strftime('%s', created_at) AS INTEGER);
UPDATE oauth_clients SET authorized_at = registered_at
 WHERE client_id IN (SELECT client_id FROM oauth_tokens);

-- The unused self-registered clients, oldest first, without reading the operator's.
CREATE INDEX oauth_clients_unauthorized ON oauth_clients(registered_at)
 WHERE authorized_at IS NULL AND registration <> 'operator';
-- Whether a client holds tokens or codes, and the cascades when one is removed, by index.
CREATE INDEX oauth_tokens_by_client ON oauth_tokens(client_id);
CREATE INDEX oauth_codes_by_client ON oauth_codes(client_id);
CREATE INDEX api_limit_overrides_by_client ON api_limit_overrides(client_id);
