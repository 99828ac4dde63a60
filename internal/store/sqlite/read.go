package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
)

// EachKey calls fn for every key that q selects, oldest first, streaming rows
// so that memory does not grow with the number of keys.
func (e *Engine) EachKey(ctx context.Context, q engine.KeyQuery, fn func(apikey.Key) error) error {
	var where []string
	var args []any
	if q.CompanyID != "" {
		where, args = append(where, "k.company_id = ?"), append(args, q.CompanyID)
	}
	now := fmtTime(q.Now)
	switch q.Status {
	case apikey.StatusExpired:
		where, args = append(where, "k.expires_at IS NOT NULL AND k.expires_at <= ?"), append(args, now)
	case apikey.StatusActive, apikey.StatusInactive:
		where, args = append(where, "k.status = ? AND (k.expires_at IS NULL OR k.expires_at > ?)"), append(args, string(q.Status), now)
	}
	if q.Search != "" {
		p := "%" + escapeLike(q.Search) + "%"
		where = append(where, `(k.name_key LIKE ? ESCAPE '\' OR c.name_key LIKE ? ESCAPE '\' OR coalesce(c.ref_key, '') LIKE ? ESCAPE '\' OR k.id LIKE ? ESCAPE '\')`)
		args = append(args, p, p, p, escapeLike(q.Search)+"%")
	}
	// The company of each key is looked up once per company, not joined:
	// reading three more columns on every row cost more than the lookups.
	// Only a search, which matches company names and refs, needs the join.
	// The columns come packed into one (see packColumns).
	query := `SELECT ` + packedList + ` FROM keys k` + usesJoin
	if q.Search != "" {
		query = `SELECT ` + packedList + keyFrom
	}
	if len(where) > 0 {
		query += "WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY k.rowid"
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit)
	}
	var fnErr error // the caller's, returned as it is
	err := e.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
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
				err := tx.QueryRowContext(ctx, `SELECT `+listColumns+` FROM keys k`+usesJoin+`WHERE k.rowid = ?`, rowid).Scan(r.dest...)
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
	return translate(e.path, err)
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// EachSecretHash reads the secrets table in the order it is stored: one
// pass over it, rather than an index search per key as a join would cost.
func (e *Engine) EachSecretHash(ctx context.Context, fn func(engine.SecretHash) error) error {
	rows, err := e.db.QueryContext(ctx, `SELECT hash, key_id, expires_at FROM secrets`)
	if err != nil {
		return translate(e.path, err)
	}
	defer rows.Close()
	var hash []byte
	var exp sql.NullString
	for rows.Next() {
		var s engine.SecretHash
		if err := rows.Scan(&hash, &s.KeyID, &exp); err != nil {
			return translate(e.path, err)
		}
		if len(hash) != len(s.Hash) {
			continue // not a hash apikey wrote: no secret can match it
		}
		copy(s.Hash[:], hash)
		s.ExpiresAt = parseTimePtr(exp)
		if err := fn(s); err != nil {
			return err
		}
	}
	return translate(e.path, rows.Err())
}

// LookupSecret finds the key whose secret has the given hash, in one read.
func (e *Engine) LookupSecret(ctx context.Context, h apikey.Hash) (p engine.Presented, ok bool, err error) {
	var exp sql.NullString
	r := newKeyRow(true)
	r.dest = append(r.dest, &exp)
	err = e.db.QueryRowContext(ctx, `SELECT `+keyColumns+`, s.expires_at FROM secrets s JOIN keys k ON k.id = s.key_id JOIN companies c ON c.id = k.company_id`+usesJoin+`WHERE s.hash = ?`, h[:]).Scan(r.dest...)
	if err == sql.ErrNoRows {
		return p, false, nil
	}
	if err != nil {
		return p, false, translate(e.path, err)
	}
	p.Key = r.key()
	p.SecretExpiresAt = parseTimePtr(exp)
	return p, true, nil
}

// TouchKeys records when keys were last used, in the order given: in the
// store's order (the directory's, internal/server), key_uses is written a
// few neighbouring pages at a time, and each key found in keys_by_created
// next to the one before (migration 0007). A key given twice keeps its
// latest time, which the condition on the stored one sees to. A key
// deleted since its use, or given with another creation time than its
// own, is passed over: the select finds no key to write a use for.
func (e *Engine) TouchKeys(ctx context.Context, used []engine.KeyUse) error {
	return e.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO key_uses (created_at, key_id, last_used_at) SELECT created_at, id, ? FROM keys INDEXED BY keys_by_created WHERE created_at = ? AND id = ?
			ON CONFLICT (created_at, key_id) DO UPDATE SET last_used_at = excluded.last_used_at WHERE excluded.last_used_at > key_uses.last_used_at`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, u := range used {
			if err := execShort(ctx, stmt, fmtTime(u.At), fmtTime(u.CreatedAt), u.KeyID); err != nil {
				return err
			}
		}
		return nil
	})
}

// LastChange returns the sequence number of the newest event.
func (e *Engine) LastChange(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	err := e.db.QueryRowContext(ctx, `SELECT max(seq) FROM events`).Scan(&seq)
	return seq.Int64, translate(e.path, err)
}
