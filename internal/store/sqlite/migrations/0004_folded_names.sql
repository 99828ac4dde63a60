-- Names, refs and searches compare under apikey.Fold (Unicode case folding
-- of the composed form), computed in Go, so that "École", "ÜBER" and
-- "Übung" are found by any case on every engine. SQLite's lower() and LIKE
-- fold ASCII only. apikey_fold is apikey.Fold, registered on apikey's
-- connections.
ALTER TABLE keys ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE keys SET name_key = apikey_fold(name);
CREATE INDEX keys_by_name_key ON keys (name_key);

-- A ref is unique in any case, and no company's name may be another's ref:
-- a reference must name exactly one company.
ALTER TABLE companies ADD COLUMN ref_key TEXT;
UPDATE companies SET ref_key = apikey_fold(ref);
CREATE INDEX companies_by_ref_key ON companies (ref_key);

-- name_key was strings.ToLower. Where full folding makes two names one
-- ("Straße" and "STRASSE"), the oldest gets the folded name and each of the
-- others the folded name, char(31) and its id, rather than fail the
-- migration: still unique (no name holds a control character), and found
-- by that name too (CompaniesByKey), so that a reference by that name is
-- ambiguous, and says so. The others are marked first, so that no row is
-- given a key another row still holds.
UPDATE companies SET name_key = apikey_fold(name) || char(31) || id
 WHERE EXISTS (SELECT 1 FROM companies o WHERE o.rowid < companies.rowid AND apikey_fold(o.name) = apikey_fold(companies.name));
UPDATE companies SET name_key = apikey_fold(name)
 WHERE instr(name_key, char(31)) = 0;

-- History finds a deleted company by the name it had, in any case.
ALTER TABLE events ADD COLUMN company_name_key TEXT;
UPDATE events SET company_name_key = apikey_fold(company_name);
