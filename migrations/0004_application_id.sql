-- Marks the file as a gpt-todo database (SQLite's header field for exactly this; `file` and other
-- tools show it). Set on new files and on the first start of a file made before this migration.
-- The value is db/file.rs's APPLICATION_ID: the ASCII bytes "gtdo".
PRAGMA application_id = 1735681135
