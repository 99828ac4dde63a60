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
-- ("Straße" and "STRASSE"), the first keeps its old key rather than fail
-- the migration; a reference by that name is then ambiguous, and says so.
UPDATE companies SET name_key = apikey_fold(name)
 WHERE NOT EXISTS (SELECT 1 FROM companies o WHERE o.id <> companies.id AND o.name_key = apikey_fold(companies.name));

-- History finds a deleted company by the name it had, in any case.
ALTER TABLE events ADD COLUMN company_name_key TEXT;
UPDATE events SET company_name_key = apikey_fold(company_name);
