-- When each key was last used lives in a narrow table of its own. A server
-- writes these times at the rate of its traffic: with a million keys used
-- at random, nearly every request is a key's first use in the minute, some
-- 15,000 rows a second. Written into keys, each dirtied a page of that
-- wide table (26 µs a key at a million keys); here a page holds the times
-- of some fifty keys (7 µs a key: BenchmarkFlushUses, docs/performance.md).
--
-- The rows are kept in the order of the keys' creation, the order of the
-- keys table (migration 0003), so that a list, which reads each key's last
-- use here, reads this table in its own order too: keyed by id alone, a
-- list of 100,000 used keys looked each one up at random and took twice as
-- long. A server writes them in that order too (internal/server), and
-- gives each key's creation time with its id, so that the key is found
-- through keys_by_created, also in that order, rather than through the
-- index of ids, all over it: 16 µs a key that way, 7 µs this way.
--
-- No foreign key: it would need an index by key_id alone to delete a key,
-- which every first use would write as well. Deleting a key deletes its
-- row (tx.go), and a use of a key deleted meanwhile finds no key to be
-- written for (TouchKeys). A key that was never used has no row.
CREATE TABLE key_uses (
    created_at   TEXT NOT NULL, -- the key's
    key_id       TEXT NOT NULL,
    last_used_at TEXT NOT NULL,
    PRIMARY KEY (created_at, key_id)
) WITHOUT ROWID;
INSERT INTO key_uses (created_at, key_id, last_used_at)
    SELECT created_at, id, last_used_at FROM keys WHERE last_used_at IS NOT NULL ORDER BY created_at, id;
ALTER TABLE keys DROP COLUMN last_used_at;
CREATE INDEX keys_by_created ON keys (created_at, id);
