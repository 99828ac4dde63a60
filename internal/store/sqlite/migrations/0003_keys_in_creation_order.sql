-- Keys are listed in the order the store recorded them: by rowid, which
-- SQLite assigns in increasing order on every insert (apikey never sets one)
-- and which VACUUM keeps in the same relative order. Reading the table in
-- that order is a plain scan; reading it in (created_at, id) order looked
-- every row up again through an index, a sixth of `list`'s time for 100,000
-- keys. It is also the truer creation order: keys created in one batch share
-- created_at, and the random id used to order them.
--
-- An index on company_id alone holds each company's rowids in order, so a
-- company's keys are read in that same order without a sort.
DROP INDEX keys_by_created;
DROP INDEX keys_by_company;
CREATE INDEX keys_by_company ON keys (company_id);
