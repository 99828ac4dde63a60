package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
	"github.com/jackc/pgx/v5"
)

// tx is one transaction. pgx prepares and caches each statement per
// connection, so a batch of many keys runs its statements prepared.
type tx struct {
	tx        pgx.Tx
	bulkReady bool // bulk has run (portable.go)
}

var _ engine.Tx = (*tx)(nil)

func found(err error) (bool, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

const companyColumns = `c.id, c.name, coalesce(c.ref, ''), c.created_at, c.updated_at, (SELECT count(*) FROM keys k WHERE k.company_id = c.id)`

func scanCompany(row pgx.Row) (apikey.Company, error) {
	var c apikey.Company
	err := row.Scan(&c.ID, &c.Name, &c.Ref, &c.CreatedAt, &c.UpdatedAt, &c.Keys)
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	return c, err
}

func (t *tx) companies(ctx context.Context, tail string, args ...any) ([]apikey.Company, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+companyColumns+` FROM companies c `+tail, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []apikey.Company
	for rows.Next() {
		c, err := scanCompany(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (t *tx) CompanyByID(ctx context.Context, id string) (apikey.Company, bool, error) {
	c, err := scanCompany(t.tx.QueryRow(ctx, `SELECT `+companyColumns+` FROM companies c WHERE c.id = $1`, id))
	ok, err := found(err)
	return c, ok, err
}

func (t *tx) CompaniesByKey(ctx context.Context, key string) ([]apikey.Company, error) {
	return t.companies(ctx, `WHERE c.name_key = $1 OR c.ref_key = $1 ORDER BY c.name_key LIMIT $2`, key, engine.MaxCandidates)
}

// prefixRange returns bounds such that id >= lo AND id < hi selects the ids
// that start with prefix, as a range of the primary key's index (ids are
// compared byte by byte, COLLATE "C"). '~' sorts after every character an id
// holds.
func prefixRange(prefix string) (lo, hi string) { return prefix, prefix + "~" }

func (t *tx) CompaniesByIDPrefix(ctx context.Context, prefix string) ([]apikey.Company, error) {
	lo, hi := prefixRange(prefix)
	return t.companies(ctx, `WHERE c.id >= $1 AND c.id < $2 ORDER BY c.id LIMIT $3`, lo, hi, engine.MaxCandidates)
}

func (t *tx) Companies(ctx context.Context) ([]apikey.Company, error) {
	return t.companies(ctx, `ORDER BY c.name_key`)
}

func (t *tx) InsertCompany(ctx context.Context, c apikey.Company) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO companies (id, name, name_key, ref, ref_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		c.ID, c.Name, apikey.NameKey(c.Name), nullText(c.Ref), nullText(apikey.Fold(c.Ref)), c.CreatedAt, c.UpdatedAt)
	return err
}

func (t *tx) UpdateCompany(ctx context.Context, c apikey.Company) error {
	_, err := t.tx.Exec(ctx, `UPDATE companies SET name = $1, name_key = $2, ref = $3, ref_key = $4, updated_at = $5 WHERE id = $6`,
		c.Name, apikey.NameKey(c.Name), nullText(c.Ref), nullText(apikey.Fold(c.Ref)), c.UpdatedAt, c.ID)
	return err
}

func (t *tx) DeleteCompany(ctx context.Context, id string) error {
	_, err := t.tx.Exec(ctx, `DELETE FROM companies WHERE id = $1`, id)
	return err
}

// keyColumns are the columns of a key read with its company (keyFrom).
const keyColumns = `k.id, k.name, k.status, k.hint, k.scopes, k.metadata, k.created_at, k.created_by, k.updated_at, k.expires_at, k.last_used_at,
	c.id, c.name, coalesce(c.ref, ''), k.sealed, coalesce(k.rate_limit, ''), k.allowed_ips, k.legacy`

const keyFrom = ` FROM keys k JOIN companies c ON c.id = k.company_id `

// keyRow is what a row of keyColumns is scanned into; reused from row to
// row by a list.
type keyRow struct {
	k      apikey.Key
	status string
	dest   []any
}

func newKeyRow() *keyRow {
	r := &keyRow{}
	k := &r.k
	r.dest = []any{&k.ID, &k.Name, &r.status, &k.Hint, &k.Scopes, &k.Metadata, &k.CreatedAt, &k.CreatedBy, &k.UpdatedAt, &k.ExpiresAt, &k.LastUsedAt,
		&k.Company.ID, &k.Company.Name, &k.Company.Ref, &k.Sealed, &k.RateLimit, &k.AllowedIPs, &k.Legacy}
	return r
}

// scan reads one row. Scan sets every destination (a NULL time to nil, the
// lists afresh), so nothing of the previous row remains.
func (r *keyRow) scan(row pgx.Row) (apikey.Key, error) {
	r.k.Scopes, r.k.Metadata, r.k.AllowedIPs = nil, nil, nil
	if err := row.Scan(r.dest...); err != nil {
		return apikey.Key{}, err
	}
	k := r.k
	k.Status = apikey.Status(r.status)
	k.CreatedAt, k.UpdatedAt = utc(k.CreatedAt), utc(k.UpdatedAt)
	k.ExpiresAt, k.LastUsedAt = utcPtr(k.ExpiresAt), utcPtr(k.LastUsedAt)
	if k.Scopes == nil {
		k.Scopes = []string{}
	}
	if k.Metadata == nil {
		k.Metadata = map[string]string{}
	}
	if k.AllowedIPs == nil {
		k.AllowedIPs = []string{}
	}
	return k, nil
}

func (t *tx) keys(ctx context.Context, tail string, args ...any) ([]apikey.Key, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+keyColumns+keyFrom+tail, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []apikey.Key
	r := newKeyRow()
	for rows.Next() {
		k, err := r.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (t *tx) KeyByID(ctx context.Context, id string) (apikey.Key, bool, error) {
	k, err := newKeyRow().scan(t.tx.QueryRow(ctx, `SELECT `+keyColumns+keyFrom+`WHERE k.id = $1`, id))
	ok, err := found(err)
	return k, ok, err
}

func (t *tx) KeysByIDPrefix(ctx context.Context, prefix string) ([]apikey.Key, error) {
	lo, hi := prefixRange(prefix)
	return t.keys(ctx, `WHERE k.id >= $1 AND k.id < $2 ORDER BY k.id LIMIT $3`, lo, hi, engine.MaxCandidates)
}

func (t *tx) KeysByName(ctx context.Context, nameKey, companyID string) ([]apikey.Key, error) {
	if companyID != "" {
		return t.keys(ctx, `WHERE k.name_key = $1 AND k.company_id = $2 ORDER BY k.seq LIMIT $3`, nameKey, companyID, engine.MaxCandidates)
	}
	return t.keys(ctx, `WHERE k.name_key = $1 ORDER BY k.seq LIMIT $2`, nameKey, engine.MaxCandidates)
}

func (t *tx) KeysOfCompany(ctx context.Context, companyID string) ([]apikey.Key, error) {
	return t.keys(ctx, `WHERE k.company_id = $1 ORDER BY k.seq`, companyID)
}

func (t *tx) KeyNamed(ctx context.Context, companyID, name string) (string, bool, error) {
	var id string
	ok, err := found(t.tx.QueryRow(ctx, `SELECT id FROM keys WHERE company_id = $1 AND name = $2`, companyID, name).Scan(&id))
	return id, ok, err
}

func (t *tx) InsertKey(ctx context.Context, k apikey.Key) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO keys (id, company_id, name, name_key, status, hint, scopes, metadata, created_at, created_by, updated_at, expires_at, sealed,
		rate_limit, allowed_ips, legacy)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		k.ID, k.Company.ID, k.Name, apikey.Fold(k.Name), string(k.Status), k.Hint, jsonText(orEmptyList(k.Scopes)), jsonText(orEmptyMap(k.Metadata)),
		k.CreatedAt, k.CreatedBy, k.UpdatedAt, k.ExpiresAt, k.Sealed, nullText(k.RateLimit), jsonText(orEmptyList(k.AllowedIPs)), k.Legacy)
	return err
}

func (t *tx) UpdateKey(ctx context.Context, k apikey.Key) error {
	_, err := t.tx.Exec(ctx, `UPDATE keys SET name = $1, name_key = $2, status = $3, hint = $4, scopes = $5, metadata = $6, updated_at = $7, expires_at = $8, sealed = $9,
		rate_limit = $10, allowed_ips = $11, legacy = $12 WHERE id = $13`,
		k.Name, apikey.Fold(k.Name), string(k.Status), k.Hint, jsonText(orEmptyList(k.Scopes)), jsonText(orEmptyMap(k.Metadata)), k.UpdatedAt, k.ExpiresAt, k.Sealed,
		nullText(k.RateLimit), jsonText(orEmptyList(k.AllowedIPs)), k.Legacy, k.ID)
	return err
}

func orEmptyList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (t *tx) DeleteKey(ctx context.Context, id string) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM secrets WHERE key_id = $1`, id); err != nil {
		return err
	}
	_, err := t.tx.Exec(ctx, `DELETE FROM keys WHERE id = $1`, id)
	return err
}

func (t *tx) InsertSecret(ctx context.Context, keyID string, m apikey.SecretMaterial, at time.Time) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO secrets (hash, key_id, sealed, created_at, legacy) VALUES ($1, $2, $3, $4, $5)`, m.Hash[:], keyID, m.Sealed, at, m.Legacy)
	return err
}

func (t *tx) DropSecrets(ctx context.Context, keyID string, endedBy *time.Time) error {
	var err error
	if endedBy == nil {
		_, err = t.tx.Exec(ctx, `DELETE FROM secrets WHERE key_id = $1`, keyID)
	} else {
		_, err = t.tx.Exec(ctx, `DELETE FROM secrets WHERE key_id = $1 AND expires_at <= $2`, keyID, *endedBy)
	}
	return err
}

func (t *tx) EndSecrets(ctx context.Context, keyID string, until time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE secrets SET expires_at = $1, sealed = NULL WHERE key_id = $2 AND (expires_at IS NULL OR expires_at > $1)`, until, keyID)
	return err
}

func (t *tx) SealedSecret(ctx context.Context, keyID string) ([]byte, bool, error) {
	var sealed []byte
	ok, err := found(t.tx.QueryRow(ctx, `SELECT sealed FROM secrets WHERE key_id = $1 AND expires_at IS NULL AND sealed IS NOT NULL`, keyID).Scan(&sealed))
	return sealed, ok, err
}

func (t *tx) InsertEvent(ctx context.Context, e apikey.Event) error {
	details := e.Details
	if details == nil {
		details = map[string]any{}
	}
	var cid, cname, ckey, kid, kname *string
	if e.Company != nil {
		cid, cname = &e.Company.ID, &e.Company.Name
		key := apikey.Fold(e.Company.Name)
		ckey = &key
	}
	if e.Key != nil {
		kid, kname = &e.Key.ID, &e.Key.Name
	}
	// seq and db_role are the trigger's (migrations/0001_init.sql).
	_, err := t.tx.Exec(ctx, `INSERT INTO events (seq, at, actor, db_role, action, company_id, company_name, company_name_key, key_id, key_name, details)
		VALUES (0, $1, $2, '', $3, $4, $5, $6, $7, $8, $9)`,
		e.At, e.Actor, e.Action, cid, cname, ckey, kid, kname, jsonText(details))
	return err
}

func (t *tx) Events(ctx context.Context, q engine.EventQuery) ([]apikey.Event, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.KeyID != "" {
		where = append(where, "key_id = "+arg(q.KeyID))
	}
	if q.CompanyID != "" {
		where = append(where, "company_id = "+arg(q.CompanyID))
	}
	if q.After > 0 {
		where = append(where, "seq > "+arg(q.After))
	}
	query := `SELECT seq, at, actor, db_role, action, company_id, company_name, key_id, key_name, details FROM events`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	if q.Ascending {
		query += " ORDER BY seq"
	} else {
		query += " ORDER BY seq DESC"
	}
	if q.Limit > 0 {
		query += " LIMIT " + arg(q.Limit)
	}
	rows, err := t.tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []apikey.Event{}
	for rows.Next() {
		var e apikey.Event
		var cid, cname, kid, kname *string
		if err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.DBRole, &e.Action, &cid, &cname, &kid, &kname, &e.Details); err != nil {
			return nil, err
		}
		e.At = utc(e.At)
		if cid != nil {
			e.Company = &apikey.CompanyRef{ID: *cid, Name: deref(cname)}
		}
		if kid != nil {
			e.Key = &apikey.KeyRef{ID: *kid, Name: deref(kname)}
		}
		if e.Details == nil {
			e.Details = map[string]any{}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (t *tx) idNames(ctx context.Context, query string, args ...any) ([]engine.IDName, error) {
	rows, err := t.tx.Query(ctx, query, append(args, engine.MaxCandidates)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []engine.IDName
	seen := map[string]bool{}
	for rows.Next() {
		var id, name *string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		if !seen[deref(id)] {
			seen[deref(id)] = true
			out = append(out, engine.IDName{ID: deref(id), Name: deref(name)})
		}
	}
	return out, rows.Err()
}

func (t *tx) EventKeys(ctx context.Context, prefix string) ([]engine.IDName, error) {
	lo, hi := prefixRange(prefix)
	return t.idNames(ctx, `SELECT DISTINCT key_id, key_name FROM events WHERE key_id >= $1 AND key_id < $2 LIMIT $3`, lo, hi)
}

func (t *tx) EventCompanies(ctx context.Context, m engine.EventCompanyMatch) ([]engine.IDName, error) {
	switch {
	case m.IDPrefix != "":
		lo, hi := prefixRange(m.IDPrefix)
		return t.idNames(ctx, `SELECT DISTINCT company_id, company_name FROM events WHERE company_id >= $1 AND company_id < $2 LIMIT $3`, lo, hi)
	case m.Ref != "":
		// An update records {"from": …, "to": …}.
		return t.idNames(ctx, `SELECT DISTINCT company_id, company_name FROM events
			WHERE action IN ('company.create', 'company.update')
			AND $1 IN (details->>'ref', details->'ref'->>'to') LIMIT $2`, m.Ref)
	}
	return t.idNames(ctx, `SELECT DISTINCT company_id, company_name FROM events WHERE company_id = $1 OR company_name_key = $2 LIMIT $3`, m.ID, m.NameKey)
}
