-- Migration: the schema steps of extensions (your own endpoints, `examples/notes.rs`), recorded
-- by name and version as each is applied (`Tx::apply_migrations`), so start-up can tell an
-- extension's tables from foreign ones, and a copy to another database carries them.
CREATE TABLE extension_migrations (
    name    TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;
