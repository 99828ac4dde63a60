package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
)

// tx is one transaction. Statements are prepared once per transaction and
// kept, so that a batch of many keys (CreateKeys) runs each statement
// prepared rather than parsed again for every key.
type tx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

var _ engine.Tx = (*tx)(nil)

func newTx(t *sql.Tx) *tx { return &tx{tx: t} }

// stmt returns the statement for query, prepared within the transaction,
// which closes it when it ends.
func (t *tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	st, err := t.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[query] = st
	return st, nil
}

func (t *tx) exec(ctx context.Context, query string, args ...any) error {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return err
	}
	return execShort(ctx, st, args...)
}

// execShort runs a statement of a row or a few, which takes microseconds,
// once ctx is checked, without ctx's end: given a context that can end,
// the driver starts a goroutine per statement to interrupt it, which cost
// an import of 100,000 keys a sixth of its CPU (13.1 and 13.5 s of user
// time against 11.1 and 10.9) and a flush of last uses in a loaded server
// a tenth of its own (perf). A transaction of many statements still stops
// at the next one once ctx ends: database/sql rolls it back, and this
// checks ctx first in any case (TestWriteStopsWhenItsContextEnds).
func execShort(ctx context.Context, st *sql.Stmt, args ...any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := st.ExecContext(context.WithoutCancel(ctx), args...)
	return err
}

func (t *tx) queryRow(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(ctx, args...), nil
}

// found turns sql.ErrNoRows into found == false.
func found(err error) (bool, error) {
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, err
}

const companyColumns = `c.id, c.name, c.ref, c.created_at, c.updated_at, (SELECT count(*) FROM keys k WHERE k.company_id = c.id)`

func scanCompany(sc interface{ Scan(...any) error }) (apikey.Company, error) {
	var c apikey.Company
	var ref sql.NullString
	var created, updated string
	if err := sc.Scan(&c.ID, &c.Name, &ref, &created, &updated, &c.Keys); err != nil {
		return c, err
	}
	c.Ref = ref.String
	c.CreatedAt, c.UpdatedAt = parseTime(created), parseTime(updated)
	return c, nil
}

func (t *tx) companies(ctx context.Context, tail string, args ...any) ([]apikey.Company, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+companyColumns+` FROM companies c `+tail, args...)
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
	row, err := t.queryRow(ctx, `SELECT `+companyColumns+` FROM companies c WHERE c.id = ?`, id)
	if err != nil {
		return apikey.Company{}, false, err
	}
	c, err := scanCompany(row)
	ok, err := found(err)
	return c, ok, err
}

func (t *tx) CompaniesByKey(ctx context.Context, key string) ([]apikey.Company, error) {
	// A name that migration 4 found folding to another's holds key,
	// char(31) and its id (0004_folded_names.sql): it is named by key too.
	return t.companies(ctx, `WHERE c.name_key = ? OR c.ref_key = ? OR (c.name_key > ? AND c.name_key < ?) ORDER BY c.name_key LIMIT ?`,
		key, key, key+"\x1f", key+"\x20", engine.MaxCandidates)
}

// idRange returns bounds such that id >= lo AND id < hi selects the ids that
// start with prefix, using the primary-key index. '~' sorts after every
// character an id holds.
func idRange(prefix string) (lo, hi string) { return prefix, prefix + "~" }

func (t *tx) CompaniesByIDPrefix(ctx context.Context, prefix string) ([]apikey.Company, error) {
	lo, hi := idRange(prefix)
	return t.companies(ctx, `WHERE c.id >= ? AND c.id < ? ORDER BY c.id LIMIT ?`, lo, hi, engine.MaxCandidates)
}

func (t *tx) Companies(ctx context.Context) ([]apikey.Company, error) {
	return t.companies(ctx, `ORDER BY c.name_key`)
}

func (t *tx) InsertCompany(ctx context.Context, c apikey.Company) error {
	return t.exec(ctx, `INSERT INTO companies (id, name, name_key, ref, ref_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, apikey.NameKey(c.Name), nullString(c.Ref), nullString(apikey.Fold(c.Ref)), fmtTime(c.CreatedAt), fmtTime(c.UpdatedAt))
}

func (t *tx) UpdateCompany(ctx context.Context, c apikey.Company) error {
	return t.exec(ctx, `UPDATE companies SET name = ?, name_key = ?, ref = ?, ref_key = ?, updated_at = ? WHERE id = ?`,
		c.Name, apikey.NameKey(c.Name), nullString(c.Ref), nullString(apikey.Fold(c.Ref)), fmtTime(c.UpdatedAt), c.ID)
}

func (t *tx) DeleteCompany(ctx context.Context, id string) error {
	return t.exec(ctx, `DELETE FROM companies WHERE id = ?`, id)
}

func (t *tx) keys(ctx context.Context, tail string, args ...any) ([]apikey.Key, error) {
	st, err := t.stmt(ctx, `SELECT `+keyColumns+keyFrom+tail)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []apikey.Key
	r := newKeyRow(true)
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
	row, err := t.queryRow(ctx, `SELECT `+keyColumns+keyFrom+`WHERE k.id = ?`, id)
	if err != nil {
		return apikey.Key{}, false, err
	}
	k, err := scanKey(row)
	ok, err := found(err)
	return k, ok, err
}

func (t *tx) KeysByIDPrefix(ctx context.Context, prefix string) ([]apikey.Key, error) {
	lo, hi := idRange(prefix)
	return t.keys(ctx, `WHERE k.id >= ? AND k.id < ? ORDER BY k.id LIMIT ?`, lo, hi, engine.MaxCandidates)
}

func (t *tx) KeysByName(ctx context.Context, nameKey, companyID string) ([]apikey.Key, error) {
	if companyID != "" {
		return t.keys(ctx, `WHERE k.name_key = ? AND k.company_id = ? ORDER BY k.rowid LIMIT ?`, nameKey, companyID, engine.MaxCandidates)
	}
	return t.keys(ctx, `WHERE k.name_key = ? ORDER BY k.rowid LIMIT ?`, nameKey, engine.MaxCandidates)
}

func (t *tx) KeysOfCompany(ctx context.Context, companyID string) ([]apikey.Key, error) {
	return t.keys(ctx, `WHERE k.company_id = ? ORDER BY k.rowid`, companyID)
}

func (t *tx) KeyNamed(ctx context.Context, companyID, name string) (string, bool, error) {
	row, err := t.queryRow(ctx, `SELECT id FROM keys WHERE company_id = ? AND name = ?`, companyID, name)
	if err != nil {
		return "", false, err
	}
	var id string
	ok, err := found(row.Scan(&id))
	return id, ok, err
}

func (t *tx) InsertKey(ctx context.Context, k apikey.Key) error {
	return t.exec(ctx, `INSERT INTO keys (id, company_id, name, name_key, status, hint, scopes, metadata, created_at, created_by, updated_at, expires_at, sealed,
		rate_limit, allowed_ips, legacy)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Company.ID, k.Name, apikey.Fold(k.Name), string(k.Status), k.Hint, jsonList(k.Scopes), jsonMap(k.Metadata),
		fmtTime(k.CreatedAt), k.CreatedBy, fmtTime(k.UpdatedAt), fmtTimePtr(k.ExpiresAt), k.Sealed,
		nullString(k.RateLimit), jsonList(k.AllowedIPs), k.Legacy)
}

func (t *tx) UpdateKey(ctx context.Context, k apikey.Key) error {
	return t.exec(ctx, `UPDATE keys SET name = ?, name_key = ?, status = ?, hint = ?, scopes = ?, metadata = ?, updated_at = ?, expires_at = ?, sealed = ?,
		rate_limit = ?, allowed_ips = ?, legacy = ? WHERE id = ?`,
		k.Name, apikey.Fold(k.Name), string(k.Status), k.Hint, jsonList(k.Scopes), jsonMap(k.Metadata), fmtTime(k.UpdatedAt), fmtTimePtr(k.ExpiresAt), k.Sealed,
		nullString(k.RateLimit), jsonList(k.AllowedIPs), k.Legacy, k.ID)
}

func (t *tx) DeleteKey(ctx context.Context, id string) error {
	if err := t.exec(ctx, `DELETE FROM secrets WHERE key_id = ?`, id); err != nil {
		return err
	}
	// Its last use, found by its place in key_uses (no foreign key does
	// it: migration 0007 says why).
	if err := t.exec(ctx, `DELETE FROM key_uses WHERE created_at = (SELECT created_at FROM keys WHERE id = ?) AND key_id = ?`, id, id); err != nil {
		return err
	}
	return t.exec(ctx, `DELETE FROM keys WHERE id = ?`, id)
}

func (t *tx) InsertSecret(ctx context.Context, keyID string, m apikey.SecretMaterial, at time.Time) error {
	var sealed any
	if m.Sealed != nil {
		sealed = m.Sealed
	}
	return t.exec(ctx, `INSERT INTO secrets (hash, key_id, sealed, created_at, legacy) VALUES (?, ?, ?, ?, ?)`, m.Hash[:], keyID, sealed, fmtTime(at), m.Legacy)
}

func (t *tx) DropSecrets(ctx context.Context, keyID string, endedBy *time.Time) error {
	if endedBy == nil {
		return t.exec(ctx, `DELETE FROM secrets WHERE key_id = ?`, keyID)
	}
	return t.exec(ctx, `DELETE FROM secrets WHERE key_id = ? AND expires_at IS NOT NULL AND expires_at <= ?`, keyID, fmtTime(*endedBy))
}

func (t *tx) EndSecrets(ctx context.Context, keyID string, until time.Time) error {
	u := fmtTime(until)
	return t.exec(ctx, `UPDATE secrets SET expires_at = ?, sealed = NULL WHERE key_id = ? AND (expires_at IS NULL OR expires_at > ?)`, u, keyID, u)
}

func (t *tx) SealedSecret(ctx context.Context, keyID string) ([]byte, bool, error) {
	row, err := t.queryRow(ctx, `SELECT sealed FROM secrets WHERE key_id = ? AND expires_at IS NULL AND sealed IS NOT NULL`, keyID)
	if err != nil {
		return nil, false, err
	}
	var sealed []byte
	ok, err := found(row.Scan(&sealed))
	return sealed, ok, err
}

func (t *tx) InsertEvent(ctx context.Context, e apikey.Event) error {
	d, err := json.Marshal(e.Details)
	if err != nil {
		return err
	}
	var cid, cname, ckey, kid, kname any
	if e.Company != nil {
		cid, cname, ckey = e.Company.ID, e.Company.Name, apikey.Fold(e.Company.Name)
	}
	if e.Key != nil {
		kid, kname = e.Key.ID, e.Key.Name
	}
	return t.exec(ctx, `INSERT INTO events (at, actor, action, company_id, company_name, company_name_key, key_id, key_name, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		fmtTime(e.At), e.Actor, e.Action, cid, cname, ckey, kid, kname, string(d))
}

func (t *tx) Events(ctx context.Context, q engine.EventQuery) ([]apikey.Event, error) {
	var where []string
	var args []any
	if q.KeyID != "" {
		where, args = append(where, "key_id = ?"), append(args, q.KeyID)
	}
	if q.CompanyID != "" {
		where, args = append(where, "company_id = ?"), append(args, q.CompanyID)
	}
	if q.After > 0 {
		where, args = append(where, "seq > ?"), append(args, q.After)
	}
	query := `SELECT seq, at, actor, action, company_id, company_name, key_id, key_name, details FROM events`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	if q.Ascending {
		query += " ORDER BY seq"
	} else {
		query += " ORDER BY seq DESC"
	}
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit)
	}
	rows, err := t.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []apikey.Event{}
	for rows.Next() {
		var e apikey.Event
		var at, details string
		var cid, cname, kid, kname sql.NullString
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &cid, &cname, &kid, &kname, &details); err != nil {
			return nil, err
		}
		e.At = parseTime(at)
		if cid.Valid {
			e.Company = &apikey.CompanyRef{ID: cid.String, Name: cname.String}
		}
		if kid.Valid {
			e.Key = &apikey.KeyRef{ID: kid.String, Name: kname.String}
		}
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil || e.Details == nil {
			e.Details = map[string]any{}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t *tx) idNames(ctx context.Context, query string, args ...any) ([]engine.IDName, error) {
	rows, err := t.tx.QueryContext(ctx, query, append(args, engine.MaxCandidates)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []engine.IDName
	seen := map[string]bool{}
	for rows.Next() {
		var id, name sql.NullString
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		if !seen[id.String] {
			seen[id.String] = true
			out = append(out, engine.IDName{ID: id.String, Name: name.String})
		}
	}
	return out, rows.Err()
}

func (t *tx) EventKeys(ctx context.Context, prefix string) ([]engine.IDName, error) {
	lo, hi := idRange(prefix)
	return t.idNames(ctx, `SELECT DISTINCT key_id, key_name FROM events WHERE key_id >= ? AND key_id < ? LIMIT ?`, lo, hi)
}

func (t *tx) EventCompanies(ctx context.Context, m engine.EventCompanyMatch) ([]engine.IDName, error) {
	switch {
	case m.IDPrefix != "":
		lo, hi := idRange(m.IDPrefix)
		return t.idNames(ctx, `SELECT DISTINCT company_id, company_name FROM events WHERE company_id >= ? AND company_id < ? LIMIT ?`, lo, hi)
	case m.Ref != "":
		// An update records {"from": …, "to": …}.
		return t.idNames(ctx, `SELECT DISTINCT company_id, company_name FROM events
			WHERE action IN ('company.create', 'company.update') AND json_valid(details)
			AND ? IN (json_extract(details, '$.ref'), json_extract(details, '$.ref.to')) LIMIT ?`, m.Ref)
	}
	return t.idNames(ctx, `SELECT DISTINCT company_id, company_name FROM events WHERE company_id = ? OR company_name_key = ? LIMIT ?`, m.ID, m.NameKey)
}
