-- Companies own keys. name_key is the lower-cased name: uniqueness of names
-- is case-insensitive across Unicode, computed in Go so that it means the
-- same on every database engine.
CREATE TABLE companies (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL UNIQUE,
    ref        TEXT UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE keys (
    id           TEXT PRIMARY KEY,
    company_id   TEXT NOT NULL REFERENCES companies (id),
    name         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
    hint         TEXT NOT NULL,
    scopes       TEXT NOT NULL DEFAULT '[]',
    metadata     TEXT NOT NULL DEFAULT '{}',
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    UNIQUE (company_id, name)
);
CREATE INDEX keys_by_created ON keys (created_at, id);
CREATE INDEX keys_by_company ON keys (company_id, created_at, id);

-- A key has one current secret (expires_at NULL) and, after a rotation with a
-- grace period, old secrets that work until their expires_at. Only hashes are
-- stored; sealed is the secret under the master key, when one is configured.
CREATE TABLE secrets (
    hash       BLOB PRIMARY KEY,
    key_id     TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    sealed     BLOB,
    created_at TEXT NOT NULL,
    expires_at TEXT
);
CREATE INDEX secrets_by_key ON secrets (key_id);

-- The audit trail. It names companies and keys by id and by the name they had,
-- without foreign keys, so that it outlives them. seq orders it and is what a
-- running server watches to learn that something changed.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    company_id   TEXT,
    company_name TEXT,
    key_id       TEXT,
    key_name     TEXT,
    details      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_by_company ON events (company_id, seq);
CREATE INDEX events_by_key ON events (key_id, seq);
