package sqlite

import (
	"context"
	"database/sql"
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
		FROM keys k LEFT JOIN secrets s ON s.key_id = k.id`+where+` ORDER BY k.rowid`, args...)
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

// SQLite answers in the process, without a round trip: the batch methods
// run one prepared statement per item.

func (t *tx) KeyRecords(ctx context.Context, ids []string) ([]engine.KeyRecord, error) {
	key, err := t.stmt(ctx, `SELECT `+listColumns+` FROM keys k WHERE k.id = ?`)
	if err != nil {
		return nil, err
	}
	secrets, err := t.stmt(ctx, `SELECT hash, sealed, created_at, expires_at, legacy FROM secrets WHERE key_id = ?`)
	if err != nil {
		return nil, err
	}
	var out []engine.KeyRecord
	r := newKeyRow(false)
	for _, id := range ids {
		if err := key.QueryRowContext(ctx, id).Scan(r.dest...); err == sql.ErrNoRows {
			continue
		} else if err != nil {
			return nil, err
		}
		rec := engine.KeyRecord{Key: r.key()}
		rec.Key.Company = apikey.CompanyRef{ID: r.cid}
		if err := func() error {
			rows, err := secrets.QueryContext(ctx, id)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var s secretRow
				if err := rows.Scan(s.dest()...); err != nil {
					return err
				}
				if sec, ok := s.secret(); ok {
					rec.Secrets = append(rec.Secrets, sec)
				}
			}
			return rows.Err()
		}(); err != nil {
			return nil, err
		}
		sortSecrets(rec.Secrets)
		out = append(out, rec)
	}
	return out, nil
}

func (t *tx) KeysNamed(ctx context.Context, names []engine.KeyName) (map[engine.KeyName]string, error) {
	out := map[engine.KeyName]string{}
	for _, n := range names {
		id, ok, err := t.KeyNamed(ctx, n.CompanyID, n.Name)
		if err != nil {
			return nil, err
		}
		if ok {
			out[n] = id
		}
	}
	return out, nil
}

func (t *tx) SecretOwners(ctx context.Context, hashes []apikey.Hash) (map[apikey.Hash]string, error) {
	st, err := t.stmt(ctx, `SELECT key_id FROM secrets WHERE hash = ?`)
	if err != nil {
		return nil, err
	}
	out := map[apikey.Hash]string{}
	for _, h := range hashes {
		var id string
		if err := st.QueryRowContext(ctx, h[:]).Scan(&id); err == sql.ErrNoRows {
			continue
		} else if err != nil {
			return nil, err
		}
		out[h] = id
	}
	return out, nil
}

func (t *tx) InsertKeyRecords(ctx context.Context, recs []engine.KeyRecord) error {
	for _, rec := range recs {
		k := rec.Key
		err := t.exec(ctx, `INSERT INTO keys (id, company_id, name, name_key, status, hint, scopes, metadata, created_at, created_by, updated_at, expires_at, last_used_at, sealed,
			rate_limit, allowed_ips, legacy)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Company.ID, k.Name, apikey.Fold(k.Name), string(k.Status), k.Hint, jsonList(k.Scopes), jsonMap(k.Metadata),
			fmtTime(k.CreatedAt), k.CreatedBy, fmtTime(k.UpdatedAt), fmtTimePtr(k.ExpiresAt), fmtTimePtr(k.LastUsedAt), k.Sealed,
			nullString(k.RateLimit), jsonList(k.AllowedIPs), k.Legacy)
		if err != nil {
			return err
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

func (t *tx) EventsPresent(ctx context.Context, events []apikey.Event) ([]bool, error) {
	// IS compares NULL with NULL as equal. The index on at finds the few
	// events of that instant.
	st, err := t.stmt(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE at = ? AND action = ? AND actor = ? AND company_id IS ? AND key_id IS ?)`)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(events))
	for i, e := range events {
		var cid, kid any
		if e.Company != nil {
			cid = e.Company.ID
		}
		if e.Key != nil {
			kid = e.Key.ID
		}
		if err := st.QueryRowContext(ctx, fmtTime(e.At), e.Action, e.Actor, cid, kid).Scan(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t *tx) InsertEvents(ctx context.Context, events []apikey.Event) error {
	for _, e := range events {
		if err := t.InsertEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
