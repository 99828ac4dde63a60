-- Secrets of another system's format (legacy keys, brought in by import
-- --plaintext), marked and kept in an index of their own: a server counts
-- them after every change, to know whether a secret that is not of apikey's
-- format can be anyone's, and the count reads this index alone, however many
-- other secrets there are. The mark is on the secret, not only on the key:
-- a legacy key rotated with a grace period is no longer legacy, yet its old
-- secret works until the grace ends.
ALTER TABLE secrets ADD COLUMN legacy boolean NOT NULL DEFAULT false;
UPDATE secrets SET legacy = true WHERE key_id IN (SELECT id FROM keys WHERE legacy);
CREATE INDEX secrets_legacy ON secrets (key_id) WHERE legacy;

-- An import finds the events the store holds already by their time and
-- key: an event of a file is the same as a stored one of the same time,
-- actor, action, company and key. The time alone is not enough: the events
-- of one change (a batch of keys, a cascade) share it.
CREATE INDEX events_identity ON events (at, coalesce(key_id, ''));
