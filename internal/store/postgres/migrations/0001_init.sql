-- apikey's store on PostgreSQL: the same data as on SQLite, in PostgreSQL's
-- own types. Ids, folded names and refs are compared and ordered byte by
-- byte (COLLATE "C"), as SQLite does: a list is in the same order on both
-- engines, and an id prefix is a plain index range.

-- One row: the schema version this store is at, so that an apikey that does
-- not know it refuses the store rather than misread it.
CREATE TABLE apikey_meta (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    version integer NOT NULL
);

CREATE TABLE companies (
    id         text COLLATE "C" PRIMARY KEY,
    name       text NOT NULL,
    name_key   text COLLATE "C" NOT NULL UNIQUE,
    ref        text UNIQUE,
    ref_key    text COLLATE "C",
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX companies_by_ref_key ON companies (ref_key);

-- seq is the order keys were created in, as SQLite's rowid is.
CREATE TABLE keys (
    seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id           text COLLATE "C" PRIMARY KEY,
    company_id   text COLLATE "C" NOT NULL REFERENCES companies (id),
    name         text NOT NULL,
    name_key     text COLLATE "C" NOT NULL,
    status       text NOT NULL CHECK (status IN ('active', 'inactive')),
    hint         text NOT NULL,
    scopes       jsonb NOT NULL DEFAULT '[]',
    metadata     jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL,
    created_by   text NOT NULL,
    updated_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    last_used_at timestamptz,
    sealed       boolean NOT NULL DEFAULT false,
    UNIQUE (company_id, name)
);
CREATE INDEX keys_by_company ON keys (company_id, seq);
CREATE INDEX keys_by_name_key ON keys (name_key);

CREATE TABLE secrets (
    hash       bytea PRIMARY KEY,
    key_id     text COLLATE "C" NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    sealed     bytea,
    created_at timestamptz NOT NULL,
    expires_at timestamptz
);
CREATE INDEX secrets_by_key ON secrets (key_id);

-- The audit trail. db_role is the database role that made the change, as
-- PostgreSQL knows it: unlike the actor, which anyone may declare, a writer
-- cannot choose it.
CREATE TABLE events (
    seq              bigint PRIMARY KEY,
    at               timestamptz NOT NULL,
    actor            text NOT NULL,
    db_role          text NOT NULL,
    action           text NOT NULL,
    company_id       text COLLATE "C",
    company_name     text,
    company_name_key text COLLATE "C",
    key_id           text COLLATE "C",
    key_name         text,
    details          jsonb NOT NULL DEFAULT '{}'
);
CREATE SEQUENCE events_seq OWNED BY events.seq;
CREATE INDEX events_by_company ON events (company_id, seq);
CREATE INDEX events_by_key ON events (key_id, seq);
CREATE INDEX events_by_company_name_key ON events (company_name_key);

-- Every event, whoever inserts it:
-- - takes the writers' lock of this store first and keeps it until commit,
--   then draws its number: numbers are committed in the order they are
--   drawn, so a server that has read up to number N never sees an event
--   below N appear later (a sequence alone is drawn at insert and may
--   commit out of order);
-- - records the session's role, whatever the insert said;
-- - tells listening servers that something changed (one notification per
--   transaction: PostgreSQL folds identical ones).
CREATE FUNCTION apikey_event_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('apikey.write.' || TG_TABLE_SCHEMA, 0));
    NEW.seq := nextval(format('%I.events_seq', TG_TABLE_SCHEMA));
    NEW.db_role := session_user;
    PERFORM pg_notify('apikey_changes', TG_TABLE_SCHEMA);
    RETURN NEW;
END
$$;
CREATE TRIGGER events_stamp BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION apikey_event_stamp();
