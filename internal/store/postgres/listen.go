package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// channel is the notification channel of every apikey store in a database;
// the payload names the store's schema (migrations/0001_init.sql).
const channel = "apikey_changes"

// ListenerName is the application_name of the connection that listens for
// the store in schema, so that an operator (or a test) can find it in
// pg_stat_activity: "apikey-listen apikey".
func ListenerName(schema string) string {
	name := "apikey-listen " + schema
	if len(name) > 63 { // PostgreSQL's limit; it would cut it anyway
		name = name[:63]
	}
	return name
}

// Listen calls changed after every change committed to this store, from a
// connection of its own, until ctx is done. When that connection is lost it
// says up(false) and connects again, backing off to two seconds; once
// back it says up(true) and calls changed, since changes may have gone
// untold meanwhile. A server polls besides, so a lost connection delays a
// change by a poll interval, never loses it.
func (e *Engine) Listen(ctx context.Context, changed func(), up func(bool)) {
	cfg := e.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = ListenerName(e.schema)
	backoff := 100 * time.Millisecond
	wasUp := true
	for ctx.Err() == nil {
		err := e.listenOnce(ctx, cfg, func() {
			backoff = 100 * time.Millisecond
			if !wasUp {
				wasUp = true
				up(true)
			}
			changed()
		}, changed)
		if ctx.Err() != nil {
			return
		}
		_ = err
		if wasUp {
			wasUp = false
			up(false)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// listenOnce connects, listens, calls connected once listening, and calls
// changed for each notification of this store, until the connection fails.
func (e *Engine) listenOnce(ctx context.Context, cfg *pgx.ConnConfig, connected, changed func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return err
	}
	connected()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Payload == e.schema {
			changed()
		}
	}
}
