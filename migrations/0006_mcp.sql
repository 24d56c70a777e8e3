-- MCP clients (issue 8): tokens bound to a resource (RFC 8707), clients that registered themselves
-- (RFC 7591) or are known by a Client ID Metadata Document URL, and the MCP tool a logged call ran.

-- The resource (RFC 8707) the code was asked for and the token is bound to; NULL: unbound, as
-- every token issued before this migration and every token of a GPT Action.
ALTER TABLE oauth_codes ADD COLUMN resource TEXT;
ALTER TABLE oauth_tokens ADD COLUMN resource TEXT;

-- How the client came to be known: 'operator' (`client add`), 'dynamic' (POST /api/oauth2/register)
-- or 'metadata-document' (its client_id is the URL of its Client ID Metadata Document).
ALTER TABLE oauth_clients ADD COLUMN registration TEXT NOT NULL DEFAULT 'operator'
    CHECK (registration IN ('operator', 'dynamic', 'metadata-document'));

-- The MCP tool of a `tools/call` on /mcp; NULL for the REST API.
ALTER TABLE api_calls ADD COLUMN tool TEXT;
