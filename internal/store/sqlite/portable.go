package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
)

// LegacySecrets counts the secrets of another system's format, from the
// partial index that holds them alone (migration 6).
func (e *Engine) LegacySecrets(ctx context.Context) (int, error) {
	var n int
	err := e.db.QueryRowContext(ctx, `SELECT count(*) FROM secrets WHERE legacy = 1`).Scan(&n)
	return n, translate(e.path, err)
}

// inCompanies is the condition that keeps the rows of some companies when
// ids is not nil, and the argument it takes. The unary + keeps SQLite from
// reading the rows through the company index, in company order, which the
// order of the export would then have to sort: reading the table in its own
// order and skipping rows costs no memory.
func inCompanies(column string, ids []string) (where string, args []any) {
	if ids == nil {
		return "", nil
	}
	b, _ := json.Marshal(ids)
	return " WHERE +" + column + " IN (SELECT value FROM json_each(?))", []any{string(b)}
}

func (t *tx) EachCompany(ctx context.Context, companyIDs []string, fn func(apikey.Company) error) error {
	where, args := inCompanies("id", companyIDs)
	rows, err := t.tx.QueryContext(ctx, `SELECT id, name, ref, created_at, updated_at FROM companies`+where+` ORDER BY rowid`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c apikey.Company
		var ref sql.NullString
		var created, updated string
		if err := rows.Scan(&c.ID, &c.Name, &ref, &created, &updated); err != nil {
			return err
		}
		c.Ref, c.CreatedAt, c.UpdatedAt = ref.String, parseTime(created), parseTime(updated)
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// secretRow is what the secret columns of a row are scanned into.
type secretRow struct {
	hash, sealed     []byte
	created, expires sql.NullString
	legacy           sql.NullBool
}

func (s *secretRow) dest() []any { return []any{&s.hash, &s.sealed, &s.created, &s.expires, &s.legacy} }

// secret makes the secret of the row read last; ok is false for none (a
// key without secrets, as the outer join gives it).
func (s *secretRow) secret() (engine.Secret, bool) {
	if len(s.hash) != len(apikey.Hash{}) {
		return engine.Secret{}, false
	}
	out := engine.Secret{CreatedAt: parseTime(s.created.String), ExpiresAt: parseTimePtr(s.expires), Legacy: s.legacy.Bool}
	copy(out.Hash[:], s.hash)
	if s.sealed != nil {
		out.Sealed = slices.Clone(s.sealed)
	}
	return out, true
}

// sortSecrets puts a key's secrets oldest first (by hash among equals), the
// order export writes them in on every engine.
func sortSecrets(l []engine.Secret) {
	slices.SortFunc(l, func(a, b engine.Secret) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return slices.Compare(a.Hash[:], b.Hash[:])
	})
}

func (t *tx) EachKeyRecord(ctx context.Context, companyIDs []string, fn func(engine.KeyRecord) error) error {
	where, args := inCompanies("k.company_id", companyIDs)
	// Keys in rowid order, each joined with its secrets through their
	// index: the rows of one key come together, and nothing is sorted.
	rows, err := t.tx.QueryContext(ctx, `SELECT `+listColumns+`, s.hash, s.sealed, s.created_at, s.expires_at, s.legacy
		FROM keys k LEFT JOIN secrets s ON s.key_id = k.id`+usesJoin+where+` ORDER BY k.rowid`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	r := newKeyRow(false)
	var s secretRow
	r.dest = append(r.dest, s.dest()...)
	var cur engine.KeyRecord
	flush := func() error {
		if cur.Key.ID == "" {
			return nil
		}
		sortSecrets(cur.Secrets)
		err := fn(cur)
		cur = engine.KeyRecord{}
		return err
	}
	for rows.Next() {
		s = secretRow{}
		if err := rows.Scan(r.dest...); err != nil {
			return err
		}
		if r.k.ID != cur.Key.ID {
			if err := flush(); err != nil {
				return err
			}
			cur.Key = r.key()
			cur.Key.Company = apikey.CompanyRef{ID: r.cid}
		}
		if sec, ok := s.secret(); ok {
			cur.Secrets = append(cur.Secrets, sec)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return flush()
}

const eventColumns = `seq, at, actor, action, company_id, company_name, key_id, key_name, details`

// scanEvent reads a row of eventColumns.
func scanEvent(sc interface{ Scan(...any) error }) (apikey.Event, error) {
	var e apikey.Event
	var at, details string
	var cid, cname, kid, kname sql.NullString
	if err := sc.Scan(&e.Seq, &at, &e.Actor, &e.Action, &cid, &cname, &kid, &kname, &details); err != nil {
		return e, err
	}
	e.At = parseTime(at)
	if cid.Valid {
		e.Company = &apikey.CompanyRef{ID: cid.String, Name: cname.String}
	}
	if kid.Valid {
		e.Key = &apikey.KeyRef{ID: kid.String, Name: kname.String}
	}
	// Numbers as they were written, so that a large one is moved intact.
	dec := json.NewDecoder(strings.NewReader(details))
	dec.UseNumber()
	if err := dec.Decode(&e.Details); err != nil || e.Details == nil {
		e.Details = map[string]any{}
	}
	return e, nil
}

func (t *tx) EachEvent(ctx context.Context, companyIDs []string, fn func(apikey.Event) error) error {
	where, args := inCompanies("company_id", companyIDs)
	rows, err := t.tx.QueryContext(ctx, `SELECT `+eventColumns+` FROM events`+where+` ORDER BY seq`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// The batch lookups pass their batch as one JSON array, read by json_each:
// one statement per batch rather than one per item, which spares the
// driver's cost of a call (most of the cost of a lookup by primary key).

func jsonArray(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (t *tx) KeyRecords(ctx context.Context, ids []string) ([]engine.KeyRecord, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+listColumns+`, s.hash, s.sealed, s.created_at, s.expires_at, s.legacy
		FROM json_each(?) j JOIN keys k ON k.id = j.value LEFT JOIN secrets s ON s.key_id = k.id`+usesJoin, jsonArray(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []engine.KeyRecord
	r := newKeyRow(false)
	var s secretRow
	r.dest = append(r.dest, s.dest()...)
	for rows.Next() {
		s = secretRow{}
		if err := rows.Scan(r.dest...); err != nil {
			return nil, err
		}
		// The rows of one key come together: one key of the batch
		// after the other.
		if len(out) == 0 || out[len(out)-1].Key.ID != r.k.ID {
			rec := engine.KeyRecord{Key: r.key()}
			rec.Key.Company = apikey.CompanyRef{ID: r.cid}
			out = append(out, rec)
		}
		if sec, ok := s.secret(); ok {
			rec := &out[len(out)-1]
			rec.Secrets = append(rec.Secrets, sec)
		}
	}
	for i := range out {
		sortSecrets(out[i].Secrets)
	}
	return out, rows.Err()
}

func (t *tx) KeysNamed(ctx context.Context, names []engine.KeyName) (map[engine.KeyName]string, error) {
	pairs := make([][2]string, len(names))
	for i, n := range names {
		pairs[i] = [2]string{n.CompanyID, n.Name}
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT k.company_id, k.name, k.id FROM json_each(?) j
		JOIN keys k ON k.company_id = j.value ->> 0 AND k.name = j.value ->> 1`, jsonArray(pairs))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[engine.KeyName]string{}
	for rows.Next() {
		var n engine.KeyName
		var id string
		if err := rows.Scan(&n.CompanyID, &n.Name, &id); err != nil {
			return nil, err
		}
		out[n] = id
	}
	return out, rows.Err()
}

func (t *tx) SecretOwners(ctx context.Context, hashes []apikey.Hash) (map[apikey.Hash]string, error) {
	hexes := make([]string, len(hashes))
	for i, h := range hashes {
		hexes[i] = hex.EncodeToString(h[:])
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT s.hash, s.key_id FROM json_each(?) j JOIN secrets s ON s.hash = unhex(j.value)`, jsonArray(hexes))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[apikey.Hash]string{}
	for rows.Next() {
		var b []byte
		var id string
		if err := rows.Scan(&b, &id); err != nil {
			return nil, err
		}
		var h apikey.Hash
		copy(h[:], b)
		out[h] = id
	}
	return out, rows.Err()
}

func (t *tx) InsertKeyRecords(ctx context.Context, recs []engine.KeyRecord) error {
	for _, rec := range recs {
		k := rec.Key
		err := t.exec(ctx, `INSERT INTO keys (id, company_id, name, name_key, status, hint, scopes, metadata, created_at, created_by, updated_at, expires_at, sealed,
			rate_limit, allowed_ips, legacy)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Company.ID, k.Name, apikey.Fold(k.Name), string(k.Status), k.Hint, jsonList(k.Scopes), jsonMap(k.Metadata),
			fmtTime(k.CreatedAt), k.CreatedBy, fmtTime(k.UpdatedAt), fmtTimePtr(k.ExpiresAt), k.Sealed,
			nullString(k.RateLimit), jsonList(k.AllowedIPs), k.Legacy)
		if err != nil {
			return err
		}
		if k.LastUsedAt != nil {
			if err := t.exec(ctx, `INSERT INTO key_uses (created_at, key_id, last_used_at) VALUES (?, ?, ?)`, fmtTime(k.CreatedAt), k.ID, fmtTime(*k.LastUsedAt)); err != nil {
				return err
			}
		}
		for _, s := range rec.Secrets {
			var sealed any
			if s.Sealed != nil {
				sealed = s.Sealed
			}
			err := t.exec(ctx, `INSERT INTO secrets (hash, key_id, sealed, created_at, expires_at, legacy) VALUES (?, ?, ?, ?, ?, ?)`,
				s.Hash[:], k.ID, sealed, fmtTime(s.CreatedAt), fmtTimePtr(s.ExpiresAt), s.Legacy)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *tx) DeletedKeys(ctx context.Context, ids []string) (map[string]bool, error) {
	return t.deleted(ctx, `SELECT DISTINCT j.value FROM json_each(?) j JOIN events e ON e.key_id = j.value WHERE e.action = 'key.delete'`, ids)
}

func (t *tx) DeletedCompanies(ctx context.Context, ids []string) (map[string]bool, error) {
	return t.deleted(ctx, `SELECT DISTINCT j.value FROM json_each(?) j JOIN events e ON e.company_id = j.value WHERE e.action = 'company.delete'`, ids)
}

func (t *tx) deleted(ctx context.Context, query string, ids []string) (map[string]bool, error) {
	rows, err := t.tx.QueryContext(ctx, query, jsonArray(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

func (t *tx) EventsPresent(ctx context.Context, events []apikey.Event) ([]bool, error) {
	// Each event as [at, action, actor, company id, key id], null for
	// none; IS compares NULL with NULL as equal. The index on at and
	// key_id finds the event, if any.
	batch := make([][5]any, len(events))
	for i, e := range events {
		batch[i] = [5]any{fmtTime(e.At), e.Action, e.Actor, nil, nil}
		if e.Company != nil {
			batch[i][3] = e.Company.ID
		}
		if e.Key != nil {
			batch[i][4] = e.Key.ID
		}
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT j.key FROM json_each(?) j WHERE EXISTS (SELECT 1 FROM events e
		WHERE e.at = j.value ->> 0 AND e.key_id IS j.value ->> 4 AND e.action = j.value ->> 1 AND e.actor = j.value ->> 2 AND e.company_id IS j.value ->> 3)`,
		jsonArray(batch))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]bool, len(events))
	for rows.Next() {
		var i int
		if err := rows.Scan(&i); err != nil {
			return nil, err
		}
		out[i] = true
	}
	return out, rows.Err()
}

func (t *tx) InsertEvents(ctx context.Context, events []apikey.Event) error {
	for _, e := range events {
		if err := t.InsertEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
