-- Whether the current secret of a key has a sealed copy, kept on the key so
-- that reading keys does not look each one up in secrets: listing 100,000
-- keys cost twice as much with that lookup. CreateKey and RotateKey keep it.
ALTER TABLE keys ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
UPDATE keys SET sealed = 1
 WHERE EXISTS (SELECT 1 FROM secrets s WHERE s.key_id = keys.id AND s.expires_at IS NULL AND s.sealed IS NOT NULL);
