package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// Presented is what the store knows of a presented secret: its key, and when
// the secret itself stops working (set for an old secret in its grace period
// after a rotation).
type Presented struct {
	Key             apikey.Key
	SecretExpiresAt *time.Time
}

// LookupSecret finds the key whose secret has the given hash. found is false
// when no key has it. It never writes.
func (s *Store) LookupSecret(ctx context.Context, h apikey.Hash) (p Presented, found bool, err error) {
	var kid string
	var exp sql.NullString
	err = s.db.QueryRowContext(ctx, `SELECT key_id, expires_at FROM secrets WHERE hash = ?`, h[:]).Scan(&kid, &exp)
	if err == sql.ErrNoRows {
		return p, false, nil
	}
	if err != nil {
		return p, false, translate(s.path, err)
	}
	p.SecretExpiresAt = parseTimePtr(exp)
	p.Key, err = keyByID(ctx, s.db, kid)
	if err == sql.ErrNoRows { // deleted between the two reads
		return p, false, nil
	}
	if err != nil {
		return p, false, translate(s.path, err)
	}
	return p, true, nil
}

// TouchKeys records when keys were last used. A server batches these, so that
// a verification never costs a write. A time older than the stored one is
// ignored.
func (s *Store) TouchKeys(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, at := range used {
			t := fmtTime(at)
			if _, err := stmt.ExecContext(ctx, t, id, t); err != nil {
				return err
			}
		}
		return nil
	})
}
