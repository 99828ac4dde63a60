package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
	"github.com/jackc/pgx/v5"
)

// EachKey calls fn for every key that q selects, in creation order. pgx
// reads the rows off the connection as fn takes them, so memory does not
// grow with the number of keys.
func (e *Engine) EachKey(ctx context.Context, q engine.KeyQuery, fn func(apikey.Key) error) error {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.CompanyID != "" {
		where = append(where, "k.company_id = "+arg(q.CompanyID))
	}
	switch q.Status {
	case apikey.StatusExpired:
		where = append(where, "k.expires_at <= "+arg(q.Now))
	case apikey.StatusActive, apikey.StatusInactive:
		where = append(where, "k.status = "+arg(string(q.Status))+" AND (k.expires_at IS NULL OR k.expires_at > "+arg(q.Now)+")")
	}
	if q.Search != "" {
		p := arg("%" + escapeLike(q.Search) + "%")
		where = append(where, `(k.name_key LIKE `+p+` OR c.name_key LIKE `+p+` OR c.ref_key LIKE `+p+` OR k.id LIKE `+arg(escapeLike(q.Search)+"%")+`)`)
	}
	query := `SELECT ` + keyColumns + keyFrom
	if len(where) > 0 {
		query += "WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY k.seq"
	if q.Limit > 0 {
		query += " LIMIT " + arg(q.Limit)
	}
	r := newKeyRow()
	return e.eachRow(ctx, query, args, func(rows pgx.Rows) error {
		k, err := r.scan(rows)
		if err != nil {
			return err
		}
		return passOn(fn(k))
	})
}

// callerErr carries an error of the caller's function through eachRow,
// which returns it as it is rather than as the store's.
type callerErr struct{ err error }

func (c callerErr) Error() string { return c.err.Error() }

// passOn marks err, the caller's, for eachRow to return as it is.
func passOn(err error) error {
	if err == nil {
		return nil
	}
	return callerErr{err}
}

// eachRow runs a query in a read-only snapshot and calls fn for each row as
// pgx reads it off the connection, so that memory does not grow with the
// rows. An error fn marked with passOn is returned as it is; any other is
// translated.
func (e *Engine) eachRow(ctx context.Context, query string, args []any, fn func(pgx.Rows) error) error {
	var fnErr error
	err := pgx.BeginTxFunc(ctx, e.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := fn(rows); err != nil {
				if c, ok := err.(callerErr); ok {
					fnErr = c.err
				}
				return err
			}
		}
		return rows.Err()
	})
	if fnErr != nil {
		return fnErr
	}
	return e.translate(err)
}

// escapeLike escapes LIKE's wildcards; backslash is LIKE's default escape.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// LookupSecret finds the key whose secret has the given hash, in one query.
func (e *Engine) LookupSecret(ctx context.Context, h apikey.Hash) (p engine.Presented, ok bool, err error) {
	r := newKeyRow()
	var exp *time.Time
	row := e.pool.QueryRow(ctx, `SELECT `+keyColumns+`, s.expires_at FROM secrets s JOIN keys k ON k.id = s.key_id JOIN companies c ON c.id = k.company_id WHERE s.hash = $1`, h[:])
	k, err := r.scan(scanAlso{row, &exp})
	if errors.Is(err, pgx.ErrNoRows) {
		return p, false, nil
	}
	if err != nil {
		return p, false, e.translate(err)
	}
	return engine.Presented{Key: k, SecretExpiresAt: utcPtr(exp)}, true, nil
}

// EachSecretHash reads the secrets table in one pass, streaming.
func (e *Engine) EachSecretHash(ctx context.Context, fn func(engine.SecretHash) error) error {
	var hash []byte
	var exp *time.Time
	return e.eachRow(ctx, `SELECT hash, key_id, expires_at FROM secrets`, nil, func(rows pgx.Rows) error {
		var s engine.SecretHash
		if err := rows.Scan(&hash, &s.KeyID, &exp); err != nil {
			return err
		}
		if len(hash) != len(s.Hash) {
			return nil // not a hash apikey wrote: no secret can match it
		}
		copy(s.Hash[:], hash)
		s.ExpiresAt = utcPtr(exp)
		return passOn(fn(s))
	})
}

// scanAlso scans a row into a key's columns and then more.
type scanAlso struct {
	row  pgx.Row
	more any
}

func (s scanAlso) Scan(dest ...any) error { return s.row.Scan(append(dest, s.more)...) }

// TouchKeys records when keys were last used, in one statement. The keys
// are updated in the order of their ids, as every other writer of many keys
// meets them in no particular order: PostgreSQL breaks a deadlock by
// aborting one side, which is then run again.
func (e *Engine) TouchKeys(ctx context.Context, used []engine.KeyUse) error {
	// Once per key, at its latest time: UPDATE … FROM applies one of the
	// rows that match a key, not the latest.
	latest := make(map[string]engine.KeyUse, len(used))
	for _, u := range used {
		if l, ok := latest[u.KeyID]; !ok || u.At.After(l.At) {
			latest[u.KeyID] = u
		}
	}
	ids := slices.Sorted(maps.Keys(latest))
	created, ats := make([]time.Time, len(ids)), make([]time.Time, len(ids))
	for i, id := range ids {
		created[i], ats[i] = latest[id].CreatedAt, latest[id].At
	}
	var err error
	for attempt := 1; ; attempt++ {
		// The creation time is checked as SQLite's key_uses needs it, so
		// that a use is passed over alike on both.
		_, err = e.pool.Exec(ctx, `UPDATE keys k SET last_used_at = u.at
			FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS u(id, created, at)
			WHERE k.id = u.id AND k.created_at = u.created AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`, ids, created, ats)
		if !retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(attempt*attempt) * 10 * time.Millisecond)
	}
	return e.translate(err)
}

// LastChange returns the sequence number of the newest event.
func (e *Engine) LastChange(ctx context.Context) (int64, error) {
	var seq int64
	err := e.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM events`).Scan(&seq)
	return seq, e.translate(err)
}
