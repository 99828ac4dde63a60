package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
)

const insertEventSQL = `INSERT INTO events (at, actor, action, company_id, company_name, key_id, key_name, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

func addEvent(ctx context.Context, tx *sql.Tx, at time.Time, actor, action string, c *apikey.CompanyRef, k *apikey.KeyRef, details map[string]any) error {
	args, err := eventArgs(at, actor, action, c, k, details)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, insertEventSQL, args...)
	return err
}

// eventArgs are the values of insertEventSQL.
func eventArgs(at time.Time, actor, action string, c *apikey.CompanyRef, k *apikey.KeyRef, details map[string]any) ([]any, error) {
	if details == nil {
		details = map[string]any{}
	}
	d, err := json.Marshal(details)
	if err != nil {
		return nil, err
	}
	var cid, cname, kid, kname any
	if c != nil {
		cid, cname = c.ID, c.Name
	}
	if k != nil {
		kid, kname = k.ID, k.Name
	}
	return []any{fmtTime(at), actor, action, cid, cname, kid, kname, string(d)}, nil
}

// EventFilter selects events. Key and Company are references; they may name
// keys and companies that no longer exist, as the trail outlives them.
type EventFilter struct {
	Key     string
	Company string
	Limit   int // 0: all
}

// Events returns the audit trail, newest first.
func (s *Store) Events(ctx context.Context, f EventFilter) ([]apikey.Event, error) {
	var where []string
	var args []any
	if f.Key != "" {
		id, err := s.eventKeyID(ctx, f.Key)
		if err != nil {
			return nil, err
		}
		where, args = append(where, "key_id = ?"), append(args, id)
	}
	if f.Company != "" {
		id, err := s.eventCompanyID(ctx, f.Company)
		if err != nil {
			return nil, err
		}
		where, args = append(where, "company_id = ?"), append(args, id)
	}
	q := `SELECT seq, at, actor, action, company_id, company_name, key_id, key_name, details FROM events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq DESC"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate(s.path, err)
	}
	defer rows.Close()
	out := []apikey.Event{}
	for rows.Next() {
		var e apikey.Event
		var at, details string
		var cid, cname, kid, kname sql.NullString
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &cid, &cname, &kid, &kname, &details); err != nil {
			return nil, translate(s.path, err)
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
	return out, translate(s.path, rows.Err())
}

// eventKeyID resolves a key reference for history: a live key first, else a
// deleted one by the id (or unique prefix) it had in the trail.
func (s *Store) eventKeyID(ctx context.Context, ref string) (string, error) {
	k, err := resolveKey(ctx, s.db, ref)
	if err == nil {
		return k.ID, nil
	}
	if apikey.KindOf(err) != apikey.KindNotFound || !looksLikeIDPrefix(strings.ToLower(ref)) {
		return "", translate(s.path, err)
	}
	lo, hi := idRange(strings.ToLower(ref))
	ids, qerr := s.distinct(ctx, `SELECT DISTINCT key_id, key_name FROM events WHERE key_id >= ? AND key_id < ? LIMIT 6`, lo, hi)
	if qerr != nil {
		return "", qerr
	}
	return pickOne("key", ref, ids, err)
}

// eventCompanyID does for companies what eventKeyID does for keys, matching a
// deleted company by id, the name or ref it had, or id prefix.
func (s *Store) eventCompanyID(ctx context.Context, ref string) (string, error) {
	c, err := resolveCompany(ctx, s.db, ref)
	if err == nil {
		return c.ID, nil
	}
	if apikey.KindOf(err) != apikey.KindNotFound {
		return "", translate(s.path, err)
	}
	ids, qerr := s.distinct(ctx, `SELECT DISTINCT company_id, company_name FROM events WHERE company_id = ? OR lower(company_name) = lower(?) LIMIT 6`, strings.ToLower(ref), ref)
	if qerr != nil {
		return "", qerr
	}
	if len(ids) == 0 {
		// The ref it had, as its company.create and company.update events
		// recorded it (an update records {"from": …, "to": …}).
		if ids, qerr = s.distinct(ctx, `SELECT DISTINCT company_id, company_name FROM events
			WHERE action IN ('company.create', 'company.update') AND json_valid(details)
			AND ? IN (json_extract(details, '$.ref'), json_extract(details, '$.ref.to')) LIMIT 6`, ref); qerr != nil {
			return "", qerr
		}
	}
	if len(ids) == 0 && looksLikeIDPrefix(strings.ToLower(ref)) {
		lo, hi := idRange(strings.ToLower(ref))
		if ids, qerr = s.distinct(ctx, `SELECT DISTINCT company_id, company_name FROM events WHERE company_id >= ? AND company_id < ? LIMIT 6`, lo, hi); qerr != nil {
			return "", qerr
		}
	}
	return pickOne("company", ref, ids, err)
}

type idName struct{ id, name string }

func (s *Store) distinct(ctx context.Context, q string, args ...any) ([]idName, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate(s.path, err)
	}
	defer rows.Close()
	var out []idName
	seen := map[string]bool{}
	for rows.Next() {
		var id, name sql.NullString
		if err := rows.Scan(&id, &name); err != nil {
			return nil, translate(s.path, err)
		}
		if !seen[id.String] {
			seen[id.String] = true
			out = append(out, idName{id.String, name.String})
		}
	}
	return out, translate(s.path, rows.Err())
}

func pickOne(what, ref string, ids []idName, notFound error) (string, error) {
	switch len(ids) {
	case 0:
		return "", notFound
	case 1:
		return ids[0].id, nil
	}
	names := make([]string, 0, len(ids))
	for _, x := range ids {
		names = append(names, x.id+" ("+x.name+")")
	}
	return "", ambiguous(what, ref, names)
}

// LastChange returns the sequence number of the newest event. Every change to
// a company or a key writes an event in the same transaction, so a running
// server that sees this number move knows its cache may be stale.
func (s *Store) LastChange(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT max(seq) FROM events`).Scan(&seq)
	return seq.Int64, translate(s.path, err)
}
