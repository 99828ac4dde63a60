package server

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/pgtest"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/apikeyhq/apikey/internal/store/postgres"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// TestPostgresNotifiesChangesAtOnce runs a server on PostgreSQL that looks
// at the store only once an hour: a key disabled, rotated or deleted through
// another handle (another machine's apikey) can only reach it through
// PostgreSQL's notifications, and must.
func TestPostgresNotifiesChangesAtOnce(t *testing.T) {
	f := newFixtureOn(t, pgtest.New(t))
	k, secret := f.key("Acme", "ci", nil)
	other, otherSecret := f.key("Acme", "shop", nil)
	base, _ := f.run(f.server(Options{PollInterval: time.Hour}))
	ask := func(secret string) func() reply {
		return func() reply { return request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": secret}) }
	}
	if r := ask(secret)(); r.status != 200 {
		t.Fatalf("before: %d %s", r.status, r.body)
	}
	ctx := context.Background()

	if _, err := f.admin.SetStatus(ctx, []string{k.ID}, "", store.Disable, "test"); err != nil {
		t.Fatal(err)
	}
	eventually(t, refusedAs(ask(secret), apikey.ReasonInactive))

	_, m, err := apikey.MintSecret("ak", other.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := ask(otherSecret)(); r.status != 200 {
		t.Fatalf("before rotation: %d %s", r.status, r.body)
	}
	if _, err := f.admin.RotateKey(ctx, other.ID, m, 0, "test"); err != nil {
		t.Fatal(err)
	}
	eventually(t, refusedAs(ask(otherSecret), apikey.ReasonInvalid))

	if err := f.admin.DeleteKeys(ctx, []string{k.ID}, "test"); err != nil {
		t.Fatal(err)
	}
	eventually(t, refusedAs(ask(secret), apikey.ReasonInvalid))
}

// TestPostgresPollsWhenNotificationsStop kills the server's notification
// connection, as a network or an operator would, and checks that changes
// still arrive, by the poll, that the server says so, and that it listens
// again afterwards.
func TestPostgresPollsWhenNotificationsStop(t *testing.T) {
	db := pgtest.New(t)
	f := newFixtureOn(t, db)
	k, secret := f.key("Acme", "ci", nil)
	base, _ := f.run(f.server(Options{}))
	ask := func() reply { return request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": secret}) }
	if r := ask(); r.status != 200 {
		t.Fatalf("before: %d %s", r.status, r.body)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	kill := func() int {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, postgres.ListenerName(pgtest.SchemaOf(db))).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	eventually(t, func() string {
		if kill() == 0 {
			return "no notification connection to kill"
		}
		return ""
	})
	eventually(t, func() string {
		if !strings.Contains(f.log.String(), "notifications of changes stopped") {
			return "the server did not say that notifications stopped:\n" + f.log.String()
		}
		return ""
	})
	// Kill it again and again while the change is made, so that only the
	// poll can deliver it.
	stopKilling := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for {
			select {
			case <-stopKilling:
				return
			case <-time.After(5 * time.Millisecond):
				kill()
			}
		}
	}()
	if _, err := f.admin.SetStatus(ctx, []string{k.ID}, "", store.Disable, "test"); err != nil {
		t.Fatal(err)
	}
	eventually(t, refusedAs(ask, apikey.ReasonInactive))
	close(stopKilling)
	<-killed
	eventually(t, func() string {
		if !strings.Contains(f.log.String(), "notifications of changes are back") {
			return "the server did not listen again:\n" + f.log.String()
		}
		return ""
	})
}

func refusedAs(ask func() reply, reason apikey.Reason) func() string {
	return func() string {
		if r := ask(); r.status != 401 || r.body != refusal(reason) {
			return "still answered " + r.body
		}
		return ""
	}
}

// TestPostgresOutage takes the store away from a running server with no
// stale_for (its schema renamed, so every query fails, as a server that
// went away would): past the three looks that vouch for its memory, the
// server answers 503 for a key it knows as for one it does not, never a
// wrong 200 or 401, and says so on /healthz; once the store is back, so are
// the answers.
func TestPostgresOutage(t *testing.T) {
	db := pgtest.New(t)
	f := newFixtureOn(t, db)
	_, secret := f.key("Acme", "ci", nil)
	_, other := f.key("Acme", "other", nil)
	base, _ := f.run(f.server(Options{PollInterval: 50 * time.Millisecond}))
	ask := func(secret string) reply {
		return request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": secret})
	}
	if r := ask(secret); r.status != 200 {
		t.Fatalf("before: %d %s", r.status, r.body)
	}
	down, back := schemaAway(t, db)
	down()
	eventually(t, func() string {
		if r := request(t, "GET", base+"/healthz", nil); r.status != 503 {
			return "healthz still says " + r.body
		}
		return ""
	})
	for _, s := range []string{secret, other} {
		if r := ask(s); r.status != 503 || r.body != unavailableBody {
			t.Errorf("during the outage: %d %s", r.status, r.body)
		}
	}
	back()
	eventually(t, func() string {
		if r := ask(secret); r.status != 200 {
			return "after the outage: " + r.body
		}
		return ""
	})
	eventually(t, func() string {
		if r := request(t, "GET", base+"/healthz", nil); r.status != 200 {
			return "healthz after the outage: " + r.body
		}
		return ""
	})
}

// TestPostgresOutageUnderLoad is the outage of a server with a stale_for,
// under load, on PostgreSQL: see outageUnderLoad.
func TestPostgresOutageUnderLoad(t *testing.T) {
	db := pgtest.New(t)
	f := newFixtureOn(t, db)
	down, back := schemaAway(t, db)
	outageUnderLoad(t, f, down, back)
}

// schemaAway returns functions that take the store's schema away (renamed,
// so that every query of the server fails) and bring it back.
func schemaAway(t *testing.T, db string) (down, back func()) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	here, away := pgx.Identifier{schema}.Sanitize(), pgx.Identifier{schema + "_away"}.Sanitize()
	gone := false
	down = func() {
		if _, err := conn.Exec(ctx, `ALTER SCHEMA `+here+` RENAME TO `+away); err != nil {
			t.Fatal(err)
		}
		gone = true
	}
	back = func() {
		if gone {
			if _, err := conn.Exec(ctx, `ALTER SCHEMA `+away+` RENAME TO `+here); err != nil {
				t.Fatal(err)
			}
			gone = false
		}
	}
	t.Cleanup(back)
	return down, back
}
