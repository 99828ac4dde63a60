package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// keyColumns are the columns of a key read with its company (keyFrom).
const keyColumns = `k.id, k.name, k.status, k.hint, k.scopes, k.metadata, k.created_at, k.created_by, k.updated_at, k.expires_at, k.last_used_at,
	c.id, c.name, c.ref, k.sealed`

const keyFrom = ` FROM keys k JOIN companies c ON c.id = k.company_id `

// listColumns are the columns of a key without its company, which EachKey
// looks up once per company rather than reading it again on every row.
var listColumns = strings.Join(listColumnNames, ", ")

var listColumnNames = []string{"k.id", "k.name", "k.status", "k.hint", "k.scopes", "k.metadata", "k.created_at", "k.created_by", "k.updated_at", "k.expires_at", "k.last_used_at",
	"k.company_id", "k.sealed"}

// keyRow is what a row of keyColumns or listColumns is scanned into. Reused
// from row to row, it spares a list the allocation of every destination on
// every row.
type keyRow struct {
	k                                           apikey.Key
	status, scopes, meta, created, updated, cid string
	expires, lastUsed, ref                      sql.NullString
	dest                                        []any
}

// newKeyRow returns a keyRow for keyColumns (withCompany) or listColumns.
func newKeyRow(withCompany bool) *keyRow {
	r := &keyRow{}
	r.dest = []any{&r.k.ID, &r.k.Name, &r.status, &r.k.Hint, &r.scopes, &r.meta, &r.created, &r.k.CreatedBy, &r.updated, &r.expires, &r.lastUsed}
	if withCompany {
		r.dest = append(r.dest, &r.k.Company.ID, &r.k.Company.Name, &r.ref)
	} else {
		r.dest = append(r.dest, &r.cid)
	}
	r.dest = append(r.dest, &r.k.Sealed)
	return r
}

// scan reads one row. Scan sets every destination, so nothing of the
// previous row remains.
func (r *keyRow) scan(sc interface{ Scan(...any) error }) (apikey.Key, error) {
	if err := sc.Scan(r.dest...); err != nil {
		return apikey.Key{}, err
	}
	return r.key(), nil
}

// key makes the key of the row read last.
func (r *keyRow) key() apikey.Key {
	k := r.k
	k.Status = apikey.Status(r.status)
	k.Company.Ref = r.ref.String
	k.CreatedAt, k.UpdatedAt = parseTime(r.created), parseTime(r.updated)
	k.ExpiresAt, k.LastUsedAt = parseTimePtr(r.expires), parseTimePtr(r.lastUsed)
	k.Scopes, k.Metadata = parseList(r.scopes), parseMap(r.meta)
	return k
}

// scanKey reads one row of keyColumns.
func scanKey(sc interface{ Scan(...any) error }) (apikey.Key, error) {
	return newKeyRow(true).scan(sc)
}

// keyByID reads one key; sql.ErrNoRows when there is none.
func keyByID(ctx context.Context, q querier, id string) (apikey.Key, error) {
	return scanKey(q.QueryRowContext(ctx, `SELECT `+keyColumns+keyFrom+`WHERE k.id = ?`, id))
}

// parseList reads the scopes column, as jsonList wrote it: [] when empty or
// unreadable. Lists of plain strings, nearly all of them, are read without
// encoding/json, which would cost more than the rest of reading a key.
func parseList(s string) []string {
	if s == "[]" {
		return []string{}
	}
	// Counting the quotes sizes the list in one allocation.
	if l, ok := plainStrings(s, '[', ']', nil, make([]string, 0, strings.Count(s, `"`)/2)); ok {
		return l
	}
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil || l == nil {
		return []string{}
	}
	return l
}

// parseMap reads the metadata column as parseList reads scopes.
func parseMap(s string) map[string]string {
	if s == "{}" {
		return map[string]string{}
	}
	var buf [16]string // names and values of up to 8 entries, without an allocation
	if l, ok := plainStrings(s, '{', '}', []byte{':', ','}, buf[:0]); ok && len(l)%2 == 0 {
		m := make(map[string]string, len(l)/2)
		for i := 0; i < len(l); i += 2 {
			m[l[i]] = l[i+1]
		}
		return m
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
		return map[string]string{}
	}
	return m
}

// plainStrings appends to out the strings of open "a" sep "b" sep ...
// close, where the separators alternate through seps (',' alone when seps
// is nil), as encoding/json writes it without spaces. It reports false for anything else, a backslash
// in a string among it, so that the caller falls back to encoding/json:
// without escapes, the bytes between the quotes are the string.
func plainStrings(s string, open, close byte, seps []byte, out []string) ([]string, bool) {
	if len(s) < 2 || s[0] != open || s[len(s)-1] != close {
		return nil, false
	}
	if seps == nil {
		seps = []byte{','}
	}
	i, end := 1, len(s)-1
	for {
		if i >= end || s[i] != '"' {
			return nil, false
		}
		j := i + 1
		for j < end && s[j] != '"' && s[j] != '\\' {
			j++
		}
		if j >= end || s[j] != '"' {
			return nil, false
		}
		out = append(out, s[i+1:j])
		i = j + 1
		if i == end {
			return out, true
		}
		if s[i] != seps[(len(out)-1)%len(seps)] {
			return nil, false
		}
		i++
	}
}

// queryKeys runs a key query whose WHERE/ORDER part is tail.
func queryKeys(ctx context.Context, q querier, tail string, args ...any) ([]apikey.Key, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+keyColumns+keyFrom+tail, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []apikey.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// NewKey is what CreateKey needs. The secret itself is not part of it.
type NewKey struct {
	ID            string
	Company       string // reference
	CreateCompany bool   // create the company (by that name) when it does not exist
	Name          string
	Status        apikey.Status
	Scopes        []string
	Metadata      map[string]string
	ExpiresAt     *time.Time
	Secret        apikey.SecretMaterial
	Actor         string
}

// CreateKey stores a key and its secret and records key.create (and
// company.create when it made the company).
func (s *Store) CreateKey(ctx context.Context, n NewKey) (apikey.Key, error) {
	if err := checkNewKey(n); err != nil {
		return apikey.Key{}, err
	}
	var k apikey.Key
	err := s.tx(ctx, func(tx *sql.Tx) error {
		b, err := newKeyBatch(ctx, tx)
		if err != nil {
			return err
		}
		defer b.close()
		if err := b.add(n, s.clock()); err != nil {
			return err
		}
		k, err = keyByID(ctx, tx, n.ID)
		return err
	})
	return k, err
}

// CreateKeys stores many keys in one transaction, each exactly as CreateKey
// would (the same checks, rows and events), so that seeding a large store
// costs one commit per batch rather than one per key. When one key is
// refused, none is stored.
func (s *Store) CreateKeys(ctx context.Context, keys []NewKey) error {
	for _, n := range keys {
		if err := checkNewKey(n); err != nil {
			return err
		}
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		b, err := newKeyBatch(ctx, tx)
		if err != nil {
			return err
		}
		defer b.close()
		for _, n := range keys {
			if err := b.add(n, s.clock()); err != nil {
				return err
			}
		}
		return nil
	})
}

func checkNewKey(n NewKey) error {
	if err := apikey.ValidateKeyName(n.Name); err != nil {
		return err
	}
	if err := apikey.ValidateScopes(n.Scopes); err != nil {
		return err
	}
	if n.Status != apikey.StatusActive && n.Status != apikey.StatusInactive {
		return apikey.Usagef("invalid status %q", n.Status)
	}
	return nil
}

// keyBatch inserts keys within one transaction through prepared statements,
// remembering the companies it has resolved so that a batch of many keys of
// few companies resolves each company once.
type keyBatch struct {
	ctx                                   context.Context
	tx                                    *sql.Tx
	companies                             map[string]apikey.Company // by reference as given
	sameName, insKey, insSecret, insEvent *sql.Stmt
}

func newKeyBatch(ctx context.Context, tx *sql.Tx) (*keyBatch, error) {
	b := &keyBatch{ctx: ctx, tx: tx, companies: map[string]apikey.Company{}}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&b.sameName, checkKeyNameSQL},
		{&b.insKey, `INSERT INTO keys (id, company_id, name, status, hint, scopes, metadata, created_at, created_by, updated_at, expires_at, sealed)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&b.insSecret, insertSecretSQL},
		{&b.insEvent, insertEventSQL},
	} {
		st, err := tx.PrepareContext(ctx, p.sql)
		if err != nil {
			b.close()
			return nil, err
		}
		*p.stmt = st
	}
	return b, nil
}

func (b *keyBatch) close() {
	for _, st := range []*sql.Stmt{b.sameName, b.insKey, b.insSecret, b.insEvent} {
		if st != nil {
			st.Close()
		}
	}
}

// add stores one key that checkNewKey has passed.
func (b *keyBatch) add(n NewKey, now time.Time) error {
	ctx, tx := b.ctx, b.tx
	c, ok := b.companies[n.Company]
	if !ok {
		var err error
		c, err = resolveCompany(ctx, tx, n.Company)
		if apikey.KindOf(err) == apikey.KindNotFound && n.CreateCompany {
			c, err = createCompany(ctx, tx, n.Company, "", n.Actor, now)
		}
		if err != nil {
			return err
		}
		b.companies[n.Company] = c
	}
	var other string
	switch err := b.sameName.QueryRowContext(ctx, c.ID, n.Name, "").Scan(&other); err {
	case nil:
		return keyNameConflict(c, n.Name)
	case sql.ErrNoRows:
	default:
		return err
	}
	scopes, meta := jsonList(n.Scopes), jsonMap(n.Metadata)
	if _, err := b.insKey.ExecContext(ctx, n.ID, c.ID, n.Name, string(n.Status), n.Secret.Hint, scopes, meta,
		fmtTime(now), n.Actor, fmtTime(now), fmtTimePtr(n.ExpiresAt), n.Secret.Sealed != nil); err != nil {
		return err
	}
	if _, err := b.insSecret.ExecContext(ctx, secretArgs(n.ID, n.Secret, now)...); err != nil {
		return err
	}
	details := map[string]any{"status": string(n.Status)}
	if n.ExpiresAt != nil {
		details["expires_at"] = n.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if len(n.Scopes) > 0 {
		details["scopes"] = n.Scopes
	}
	args, err := eventArgs(now, n.Actor, apikey.ActionKeyCreate, companyRef(c), &apikey.KeyRef{ID: n.ID, Name: n.Name}, details)
	if err != nil {
		return err
	}
	_, err = b.insEvent.ExecContext(ctx, args...)
	return err
}

const insertSecretSQL = `INSERT INTO secrets (hash, key_id, sealed, created_at) VALUES (?, ?, ?, ?)`

func secretArgs(keyID string, m apikey.SecretMaterial, now time.Time) []any {
	var sealed any
	if m.Sealed != nil {
		sealed = m.Sealed
	}
	return []any{m.Hash[:], keyID, sealed, fmtTime(now)}
}

func insertSecret(ctx context.Context, tx *sql.Tx, keyID string, m apikey.SecretMaterial, now time.Time) error {
	_, err := tx.ExecContext(ctx, insertSecretSQL, secretArgs(keyID, m, now)...)
	return err
}

const checkKeyNameSQL = `SELECT id FROM keys WHERE company_id = ? AND name = ? AND id <> ?`

func checkKeyName(ctx context.Context, tx *sql.Tx, c apikey.Company, selfID, name string) error {
	var id string
	err := tx.QueryRowContext(ctx, checkKeyNameSQL, c.ID, name, selfID).Scan(&id)
	if err == nil {
		return keyNameConflict(c, name)
	}
	if err == sql.ErrNoRows {
		return nil
	}
	return err
}

func keyNameConflict(c apikey.Company, name string) error {
	return apikey.Conflictf("company %q already has a key named %q", c.Name, name)
}

func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

func jsonMap(m map[string]string) string {
	if m == nil {
		m = map[string]string{}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// KeyFilter selects keys for list and batch delete.
type KeyFilter struct {
	Company string        // reference; "" for all companies
	Status  apikey.Status // "" for any
	Search  string        // substring of key name, company name, ref or id
	Limit   int           // 0: no limit
	Now     time.Time     // what "expired" is measured against
}

// EachKey calls fn for every key that f selects, oldest first, streaming rows
// so that memory does not grow with the number of keys.
func (s *Store) EachKey(ctx context.Context, f KeyFilter, fn func(apikey.Key) error) error {
	var where []string
	var args []any
	if f.Company != "" {
		c, err := resolveCompany(ctx, s.db, f.Company)
		if err != nil {
			return translate(s.path, err)
		}
		where, args = append(where, "k.company_id = ?"), append(args, c.ID)
	}
	now := fmtTime(f.Now)
	switch f.Status {
	case "":
	case apikey.StatusExpired:
		where, args = append(where, "k.expires_at IS NOT NULL AND k.expires_at <= ?"), append(args, now)
	case apikey.StatusActive, apikey.StatusInactive:
		where, args = append(where, "k.status = ? AND (k.expires_at IS NULL OR k.expires_at > ?)"), append(args, string(f.Status), now)
	default:
		return apikey.Usagef("invalid status %q", f.Status)
	}
	if f.Search != "" {
		p := "%" + escapeLike(strings.ToLower(f.Search)) + "%"
		where = append(where, `(lower(k.name) LIKE ? ESCAPE '\' OR lower(c.name) LIKE ? ESCAPE '\' OR lower(coalesce(c.ref, '')) LIKE ? ESCAPE '\' OR k.id LIKE ? ESCAPE '\')`)
		args = append(args, p, p, p, escapeLike(strings.ToLower(f.Search))+"%")
	}
	// The company of each key is looked up once per company, not joined:
	// reading three more columns on every row cost more than the lookups.
	// Only a search, which matches company names and refs, needs the join.
	// The columns come packed into one (see packColumns).
	q := `SELECT ` + packedList + ` FROM keys k `
	if f.Search != "" {
		q = `SELECT ` + packedList + keyFrom
	}
	if len(where) > 0 {
		q += "WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY k.rowid"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	var fnErr error // the caller's, returned as it is
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		company, err := tx.PrepareContext(ctx, `SELECT id, name, ref FROM companies WHERE id = ?`)
		if err != nil {
			return err
		}
		defer company.Close()
		companies := map[string]apikey.CompanyRef{}
		r := newKeyRow(false)
		var packed string
		for rows.Next() {
			if err := rows.Scan(&packed); err != nil {
				return err
			}
			rowid, rest, err := splitRowid(packed)
			if err != nil {
				return err
			}
			if !r.unpack(rest) {
				err := tx.QueryRowContext(ctx, `SELECT `+listColumns+` FROM keys k WHERE k.rowid = ?`, rowid).Scan(r.dest...)
				if err != nil {
					return err
				}
			}
			k := r.key()
			c, ok := companies[r.cid]
			if !ok {
				// Scanned into variables of their own: taking c's address
				// would move c to the heap on every row.
				var id, name string
				var ref sql.NullString
				err := company.QueryRowContext(ctx, r.cid).Scan(&id, &name, &ref)
				if err == sql.ErrNoRows {
					continue // as the join would have left the key out
				}
				if err != nil {
					return err
				}
				c = apikey.CompanyRef{ID: id, Name: name, Ref: ref.String}
				companies[r.cid] = c
			}
			k.Company = c
			if fnErr = fn(k); fnErr != nil {
				return fnErr
			}
		}
		return rows.Err()
	})
	if fnErr != nil {
		return fnErr
	}
	return translate(s.path, err)
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Key resolves a key reference.
func (s *Store) Key(ctx context.Context, ref string) (apikey.Key, error) {
	k, err := resolveKey(ctx, s.db, ref)
	return k, translate(s.path, err)
}

// Keys resolves several key references, each key once, in the order given.
func (s *Store) Keys(ctx context.Context, refs []string) ([]apikey.Key, error) {
	ks, err := resolveKeys(ctx, s.db, refs)
	return ks, translate(s.path, err)
}

// StatusChange says what to do with a key's status.
type StatusChange int

const (
	Toggle StatusChange = iota
	Enable
	Disable
)

// StatusResult is one key after a status change, and whether it changed.
type StatusResult struct {
	Key     apikey.Key
	Changed bool
}

// SetStatus enables, disables or toggles the referenced keys in one
// transaction: when one reference is unknown, none changes.
func (s *Store) SetStatus(ctx context.Context, refs []string, change StatusChange, actor string) ([]StatusResult, error) {
	var out []StatusResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		keys, err := resolveKeys(ctx, tx, refs)
		if err != nil {
			return err
		}
		now := s.clock()
		for _, k := range keys {
			want := apikey.StatusActive
			switch change {
			case Disable:
				want = apikey.StatusInactive
			case Toggle:
				if k.Status == apikey.StatusActive {
					want = apikey.StatusInactive
				}
			}
			if want == k.Status {
				out = append(out, StatusResult{Key: k})
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE keys SET status = ?, updated_at = ? WHERE id = ?`, string(want), fmtTime(now), k.ID); err != nil {
				return err
			}
			action := apikey.ActionKeyEnable
			if want == apikey.StatusInactive {
				action = apikey.ActionKeyDisable
			}
			if err := addEvent(ctx, tx, now, actor, action, &k.Company, &apikey.KeyRef{ID: k.ID, Name: k.Name}, nil); err != nil {
				return err
			}
			k.Status, k.UpdatedAt = want, now
			out = append(out, StatusResult{Key: k, Changed: true})
		}
		return nil
	})
	return out, err
}

// KeyUpdate says what to change in a key; nil or false fields stay.
type KeyUpdate struct {
	Name        *string
	ExpiresAt   *time.Time
	ClearExpiry bool
	Scopes      []string          // replaces the scopes when not nil
	Metadata    map[string]string // merged; an empty value removes the entry
}

// UpdateKey changes a key and records key.update with what changed.
func (s *Store) UpdateKey(ctx context.Context, ref string, u KeyUpdate, actor string) (apikey.Key, error) {
	var k apikey.Key
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if k, err = resolveKey(ctx, tx, ref); err != nil {
			return err
		}
		details := map[string]any{}
		if u.Name != nil && *u.Name != k.Name {
			if err := apikey.ValidateKeyName(*u.Name); err != nil {
				return err
			}
			c := apikey.Company{ID: k.Company.ID, Name: k.Company.Name}
			if err := checkKeyName(ctx, tx, c, k.ID, *u.Name); err != nil {
				return err
			}
			details["name"] = map[string]any{"from": k.Name, "to": *u.Name}
			k.Name = *u.Name
		}
		if u.ClearExpiry && k.ExpiresAt != nil {
			details["expires_at"] = map[string]any{"from": k.ExpiresAt.Format(time.RFC3339), "to": nil}
			k.ExpiresAt = nil
		}
		if u.ExpiresAt != nil && (k.ExpiresAt == nil || !k.ExpiresAt.Equal(*u.ExpiresAt)) {
			var from any
			if k.ExpiresAt != nil {
				from = k.ExpiresAt.Format(time.RFC3339)
			}
			details["expires_at"] = map[string]any{"from": from, "to": u.ExpiresAt.UTC().Format(time.RFC3339)}
			t := u.ExpiresAt.UTC()
			k.ExpiresAt = &t
		}
		if u.Scopes != nil && !equalStrings(u.Scopes, k.Scopes) {
			if err := apikey.ValidateScopes(u.Scopes); err != nil {
				return err
			}
			details["scopes"] = map[string]any{"from": k.Scopes, "to": u.Scopes}
			k.Scopes = u.Scopes
		}
		if len(u.Metadata) > 0 {
			merged := make(map[string]string, len(k.Metadata)+len(u.Metadata))
			for key, v := range k.Metadata {
				merged[key] = v
			}
			for key, v := range u.Metadata {
				if v == "" {
					delete(merged, key)
				} else {
					merged[key] = v
				}
			}
			if len(merged) > apikey.MaxMeta {
				return apikey.Usagef("too many metadata entries (%d)", len(merged))
			}
			if jsonMap(merged) != jsonMap(k.Metadata) {
				details["metadata"] = map[string]any{"from": k.Metadata, "to": merged}
				k.Metadata = merged
			}
		}
		if len(details) == 0 {
			return nil
		}
		now := s.clock()
		if _, err := tx.ExecContext(ctx, `UPDATE keys SET name = ?, expires_at = ?, scopes = ?, metadata = ?, updated_at = ? WHERE id = ?`,
			k.Name, fmtTimePtr(k.ExpiresAt), jsonList(k.Scopes), jsonMap(k.Metadata), fmtTime(now), k.ID); err != nil {
			return err
		}
		k.UpdatedAt = now
		return addEvent(ctx, tx, now, actor, apikey.ActionKeyUpdate, &k.Company, &apikey.KeyRef{ID: k.ID, Name: k.Name}, details)
	})
	return k, err
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// RotateKey gives the key keyID a new secret. The old secret keeps working
// for grace (0: it stops at once); secrets whose grace has ended are removed.
func (s *Store) RotateKey(ctx context.Context, keyID string, m apikey.SecretMaterial, grace time.Duration, actor string) (apikey.Key, error) {
	var k apikey.Key
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		k, err = keyByID(ctx, tx, keyID)
		if err == sql.ErrNoRows {
			return apikey.NotFoundf("key %q not found", keyID)
		}
		if err != nil {
			return err
		}
		now := s.clock()
		if _, err := tx.ExecContext(ctx, `DELETE FROM secrets WHERE key_id = ? AND expires_at IS NOT NULL AND expires_at <= ?`, k.ID, fmtTime(now)); err != nil {
			return err
		}
		// Every earlier secret stops when the grace ends at the latest,
		// including one still in the grace of an earlier rotation: a
		// rotation without grace, as after a leak, leaves no old secret
		// working.
		if grace <= 0 {
			_, err = tx.ExecContext(ctx, `DELETE FROM secrets WHERE key_id = ?`, k.ID)
		} else {
			until := fmtTime(now.Add(grace))
			// The old secret is not sealed any longer: only the current one
			// can be revealed.
			_, err = tx.ExecContext(ctx, `UPDATE secrets SET expires_at = ?, sealed = NULL WHERE key_id = ? AND (expires_at IS NULL OR expires_at > ?)`, until, k.ID, until)
		}
		if err != nil {
			return err
		}
		if err := insertSecret(ctx, tx, k.ID, m, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE keys SET hint = ?, sealed = ?, updated_at = ? WHERE id = ?`, m.Hint, m.Sealed != nil, fmtTime(now), k.ID); err != nil {
			return err
		}
		details := map[string]any{"hint": m.Hint, "previous_hint": k.Hint}
		if grace > 0 {
			details["grace_until"] = now.Add(grace).Format(time.RFC3339)
		}
		k.Hint, k.UpdatedAt, k.Sealed = m.Hint, now, m.Sealed != nil
		return addEvent(ctx, tx, now, actor, apikey.ActionKeyRotate, &k.Company, &apikey.KeyRef{ID: k.ID, Name: k.Name}, details)
	})
	return k, err
}

// DeleteKeys deletes the keys with the given ids, each recorded as key.delete.
// When one of them is gone already, none is deleted.
func (s *Store) DeleteKeys(ctx context.Context, ids []string, actor string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		keys := make([]apikey.Key, 0, len(ids))
		for _, id := range ids {
			k, err := keyByID(ctx, tx, id)
			if err == sql.ErrNoRows {
				return apikey.NotFoundf("key %q not found", id).WithHint("was it deleted meanwhile?")
			}
			if err != nil {
				return err
			}
			keys = append(keys, k)
		}
		return deleteKeys(ctx, tx, keys, actor, s.clock())
	})
}

func deleteKeys(ctx context.Context, tx *sql.Tx, keys []apikey.Key, actor string, now time.Time) error {
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, `DELETE FROM secrets WHERE key_id = ?`, k.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM keys WHERE id = ?`, k.ID); err != nil {
			return err
		}
		if err := addEvent(ctx, tx, now, actor, apikey.ActionKeyDelete, &k.Company, &apikey.KeyRef{ID: k.ID, Name: k.Name}, map[string]any{"hint": k.Hint}); err != nil {
			return err
		}
	}
	return nil
}

// SealedSecret opens the sealed copy of the key's current secret with open
// and records key.reveal, since printing a secret again is worth an audit
// line. The copy is opened inside the transaction, so that a reveal that
// fails (a wrong master key) leaves no trace.
func (s *Store) SealedSecret(ctx context.Context, keyID, actor string, open func(sealed []byte) (string, error)) (string, error) {
	var secret string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		k, err := keyByID(ctx, tx, keyID)
		if err == sql.ErrNoRows {
			return apikey.NotFoundf("key %q not found", keyID)
		}
		if err != nil {
			return err
		}
		var sealed []byte
		err = tx.QueryRowContext(ctx, `SELECT sealed FROM secrets WHERE key_id = ? AND expires_at IS NULL AND sealed IS NOT NULL`, keyID).Scan(&sealed)
		if err == sql.ErrNoRows {
			return apikey.Usagef("the secret of key %s cannot be revealed", k.ID).WithHint("it was created without a master key; rotate it to get a new secret")
		}
		if err != nil {
			return err
		}
		if secret, err = open(sealed); err != nil {
			return err
		}
		return addEvent(ctx, tx, s.clock(), actor, apikey.ActionKeyReveal, &k.Company, &apikey.KeyRef{ID: k.ID, Name: k.Name}, nil)
	})
	return secret, err
}
