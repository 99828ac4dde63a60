package sqlite

import (
	"context"
	"testing"

	"github.com/apikeyhq/apikey/internal/store/engine"
)

// TestWriteStopsWhenItsContextEnds ends the context of a write between two
// of its statements, which run without it (execShort): the next statement
// must not run, and nothing of the transaction may be kept.
func TestWriteStopsWhenItsContextEnds(t *testing.T) {
	e := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	ran := 0
	err := e.Write(ctx, func(etx engine.Tx) error {
		tx := etx.(*tx)
		if err := tx.exec(ctx, `INSERT INTO companies (id, name, name_key, created_at, updated_at) VALUES ('c1', 'Acme', 'acme', '', '')`); err != nil {
			return err
		}
		ran++
		cancel()
		if err := tx.exec(ctx, `INSERT INTO companies (id, name, name_key, created_at, updated_at) VALUES ('c2', 'Initech', 'initech', '', '')`); err != nil {
			return err
		}
		ran++
		return nil
	})
	if err == nil || ran != 1 {
		t.Fatalf("write with its context ended after one statement: %v, %d statements ran", err, ran)
	}
	var n int
	if err := e.db.QueryRow(`SELECT count(*) FROM companies`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d companies kept (%v), want none", n, err)
	}
}
