package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/pgtest"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TestRolesOfScalingDoc sets up the roles that docs/scaling.md tells an
// operator to create, with its grants (keep the two in step), and checks
// that each can do what the doc says and no more: the owner migrates, an
// administrator changes keys and appends to the trail but cannot rewrite
// it, a server reads and records last uses only, and the trail records
// each change's role whatever --actor says.
func TestRolesOfScalingDoc(t *testing.T) {
	ctx := context.Background()
	url := pgtest.New(t)
	super, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close(ctx)
	var schema string
	if err := super.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	tag := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	owner, admin, alice, serve := "apikey_owner_"+tag, "apikey_admin_"+tag, "alice_"+tag, "apikey_serve_"+tag
	q := func(sql string) {
		t.Helper()
		if _, err := super.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	q(fmt.Sprintf(`CREATE ROLE %s LOGIN`, owner))
	q(fmt.Sprintf(`CREATE ROLE %s NOLOGIN`, admin))
	q(fmt.Sprintf(`CREATE ROLE %s LOGIN IN ROLE %s`, alice, admin))
	q(fmt.Sprintf(`CREATE ROLE %s LOGIN`, serve))
	t.Cleanup(func() {
		for _, r := range []string{alice, serve, admin, owner} {
			super.Exec(ctx, fmt.Sprintf(`DROP OWNED BY %s CASCADE`, r))
			super.Exec(ctx, fmt.Sprintf(`DROP ROLE %s`, r))
		}
	})
	q(fmt.Sprintf(`ALTER SCHEMA %s OWNER TO %s`, schema, owner))

	as := func(role string) string {
		t.Helper()
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Replace(url, "://"+cfg.User+"@", "://"+role+"@", 1)
	}
	open := func(role string) *store.Store {
		t.Helper()
		st, err := store.Open(ctx, as(role))
		if err != nil {
			t.Fatalf("open as %s: %v", role, err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}

	// The owner's first command makes the tables.
	open(owner)
	ownerConn, err := pgx.Connect(ctx, as(owner))
	if err != nil {
		t.Fatal(err)
	}
	defer ownerConn.Close(ctx)
	for _, sql := range []string{
		`GRANT USAGE ON SCHEMA %[1]s TO %[2]s, %[3]s`,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON %[1]s.companies, %[1]s.keys, %[1]s.secrets TO %[2]s`,
		`GRANT SELECT, INSERT ON %[1]s.events TO %[2]s`,
		`GRANT SELECT ON %[1]s.apikey_meta TO %[2]s`,
		`GRANT USAGE ON SEQUENCE %[1]s.events_seq TO %[2]s`,
		`GRANT SELECT ON ALL TABLES IN SCHEMA %[1]s TO %[3]s`,
		`GRANT UPDATE (last_used_at) ON %[1]s.keys TO %[3]s`,
	} {
		if _, err := ownerConn.Exec(ctx, fmt.Sprintf(sql, schema, admin, serve)); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	// An administrator works, and the trail names her role, not only the
	// actor she declared.
	st := open(alice)
	id := uuid.NewString()
	secret, m, err := apikey.MintSecret("ak", id, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := st.CreateKey(ctx, store.NewKey{ID: id, Company: "Acme", CreateCompany: true, Name: "ci", Status: apikey.StatusActive, Secret: m, Actor: "somebody-else"})
	if err != nil {
		t.Fatalf("create as administrator: %v", err)
	}
	events, err := st.Events(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.DBRole != alice || e.Actor != "somebody-else" {
			t.Errorf("%s recorded actor %q, role %q; want role %q", e.Action, e.Actor, e.DBRole, alice)
		}
	}
	// ... and cannot rewrite the trail, nor forge the role.
	aliceConn, err := pgx.Connect(ctx, as(alice))
	if err != nil {
		t.Fatal(err)
	}
	defer aliceConn.Close(ctx)
	if _, err := aliceConn.Exec(ctx, `UPDATE events SET actor = 'nobody'`); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("an administrator rewrote the trail: %v", err)
	}
	if _, err := aliceConn.Exec(ctx, `DELETE FROM events`); err == nil {
		t.Error("an administrator deleted the trail")
	}
	if _, err := aliceConn.Exec(ctx, `INSERT INTO events (seq, at, actor, db_role, action) VALUES (0, now(), 'x', 'postgres', 'key.create')`); err != nil {
		t.Fatal(err)
	}
	var role string
	if err := aliceConn.QueryRow(ctx, `SELECT db_role FROM events ORDER BY seq DESC LIMIT 1`).Scan(&role); err != nil || role != alice {
		t.Errorf("a forged role was recorded: %q %v", role, err)
	}

	// A server verifies and records last uses, and can change nothing else.
	sv := open(serve)
	p, found, err := sv.LookupSecret(ctx, apikey.HashSecret(secret))
	if err != nil || !found || p.Key.ID != k.ID {
		t.Fatalf("lookup as server: %v %v", found, err)
	}
	if err := sv.TouchKeys(ctx, []store.KeyUse{{KeyID: k.ID, CreatedAt: k.CreatedAt, At: time.Now()}}); err != nil {
		t.Errorf("last use as server: %v", err)
	}
	_, err = sv.SetStatus(ctx, []string{k.ID}, "", store.Disable, "server")
	if apikey.KindOf(err) != apikey.KindRuntime || !strings.Contains(err.Error(), "permission denied on postgres://"+serve+"@") {
		t.Errorf("a server disabled a key: %v", err)
	}
	if strings.Contains(err.Error(), "sql") && strings.Contains(err.Error(), "SQLSTATE") {
		t.Errorf("jargon: %v", err)
	}
}
