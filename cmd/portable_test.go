package cmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/pgtest"
	"github.com/apikeyhq/apikey/internal/seed"
	"github.com/apikeyhq/apikey/internal/store"
)

// TestMoveAcrossEngines exports a SQLite store of 10,000 keys, imports it
// into PostgreSQL and that store's export into a new SQLite store, all with
// the commands themselves, and checks that the three hold the same keys
// (every field), that secrets verify against both, and that the trail has
// every event, in order, plus one store.import per move.
func TestMoveAcrossEngines(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 10,000 keys")
	}
	pg := pgtest.New(t)
	ctx := context.Background()
	const n = 10_000
	dir := t.TempDir()
	srcDB := filepath.Join(dir, "src.db")
	src, err := store.Open(ctx, srcDB, store.WithCacheSize(seed.CacheSize))
	if err != nil {
		t.Fatal(err)
	}
	var list bytes.Buffer
	if err := seed.Keys(ctx, src, n, apikey.DefaultPrefix, &list); err != nil {
		t.Fatal(err)
	}
	secrets := strings.Fields(list.String())
	// What a live store has besides: a rotation in its grace, a deleted
	// key, a last use.
	var first apikey.Key
	if err := src.EachKey(ctx, store.KeyFilter{Limit: 2, Now: time.Now()}, func(k apikey.Key) error {
		if first.ID == "" {
			first = k
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rotated, m, _ := apikey.MintSecret("ak", first.ID, nil)
	if _, err := src.RotateKey(ctx, first.ID, m, time.Hour, "tester"); err != nil {
		t.Fatal(err)
	}
	if err := src.TouchKeys(ctx, []store.KeyUse{{KeyID: first.ID, CreatedAt: first.CreatedAt, At: time.Now().UTC().Truncate(time.Microsecond)}}); err != nil {
		t.Fatal(err)
	}
	last, err := src.Key(ctx, lastName(t, src), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := src.DeleteKeys(ctx, []string{last.ID}, "tester"); err != nil {
		t.Fatal(err)
	}
	src.Close()

	w := newKeyWorld(t)
	move := func(from, to, file string) {
		t.Helper()
		if code, _, stderr := w.run("", nil, "--db", from, "export", "-f", file); code != 0 {
			t.Fatalf("export %s: %s", from, stderr)
		}
		code, _, stderr := w.run("", nil, "--db", to, "import", file)
		if code != 0 || !strings.HasPrefix(stderr, fmt.Sprintf("Imported %d companies, %d keys and ", seed.Companies(n), n-1)) {
			t.Fatalf("import into %s: %d %s", to, code, stderr)
		}
	}
	start := time.Now()
	move(srcDB, pg, filepath.Join(dir, "a.jsonl"))
	t.Logf("SQLite to PostgreSQL: %v", time.Since(start))
	backDB := filepath.Join(dir, "back.db")
	start = time.Now()
	move(pg, backDB, filepath.Join(dir, "b.jsonl"))
	t.Logf("PostgreSQL to SQLite: %v", time.Since(start))

	open := func(db string) *store.Store {
		st, err := store.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	stores := map[string]*store.Store{"sqlite": open(srcDB), "postgres": open(pg), "back": open(backDB)}
	keys := map[string][]apikey.Key{}
	events := map[string][]apikey.Event{}
	for name, st := range stores {
		if err := st.EachKey(ctx, store.KeyFilter{Now: time.Now()}, func(k apikey.Key) error {
			keys[name] = append(keys[name], k)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if events[name], err = st.EventsAfter(ctx, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if len(keys["sqlite"]) != n-1 {
		t.Fatalf("%d keys in the source", len(keys["sqlite"]))
	}
	for _, name := range []string{"postgres", "back"} {
		if !reflect.DeepEqual(keys[name], keys["sqlite"]) {
			for i := range keys["sqlite"] {
				if i >= len(keys[name]) || !reflect.DeepEqual(keys[name][i], keys["sqlite"][i]) {
					t.Fatalf("%s: key %d differs:\n got %+v\nwant %+v", name, i, keys[name][min(i, len(keys[name])-1)], keys["sqlite"][i])
				}
			}
			t.Fatalf("%s: %d keys, want %d", name, len(keys[name]), len(keys["sqlite"]))
		}
	}
	wantEvents := seed.Companies(n) + n + 2 // company.create, key.create, key.rotate, key.delete
	for name, extra := range map[string]int{"sqlite": 0, "postgres": 1, "back": 2} {
		es := events[name]
		if len(es) != wantEvents+extra {
			t.Errorf("%s: %d events, want %d", name, len(es), wantEvents+extra)
			continue
		}
		for i, e := range events["sqlite"] {
			g := es[i]
			if !g.At.Equal(e.At) || g.Actor != e.Actor || g.Action != e.Action || !reflect.DeepEqual(g.Key, e.Key) || !reflect.DeepEqual(g.Company, e.Company) {
				t.Fatalf("%s: event %d is %+v, want %+v", name, i, g, e)
			}
		}
		for _, e := range es[wantEvents:] {
			if e.Action != store.ActionImport {
				t.Errorf("%s: %s after the moved events", name, e.Action)
			}
		}
	}
	// A sample of secrets verifies against both engines, the rotated
	// key's two, and the deleted key's not at all.
	sample := []string{rotated, secrets[0]}
	for i := 1; i < len(secrets)-1; i += 97 {
		sample = append(sample, secrets[i])
	}
	for name, st := range stores {
		for _, s := range sample {
			p, found, err := st.LookupSecret(ctx, apikey.HashSecret(s))
			if err != nil || !found {
				t.Fatalf("%s: a secret is not found: %v", name, err)
			}
			want := apikey.ReasonNone
			if p.Key.Status == apikey.StatusInactive {
				want = apikey.ReasonInactive
			}
			if r := apikey.Judge(p.Key, p.SecretExpiresAt, p.Key.Company.ID, time.Now()); r != want {
				t.Errorf("%s: key %s judged %q", name, p.Key.Name, r)
			}
		}
		if _, found, _ := st.LookupSecret(ctx, apikey.HashSecret(secrets[len(secrets)-1])); found {
			t.Errorf("%s: the deleted key's secret is found", name)
		}
	}
	// And through verify, the command.
	for _, db := range []string{pg, backDB} {
		if code, stdout, stderr := w.run(secrets[1]+"\n", nil, "--db", db, "verify", "-o", "json"); code != 0 && !strings.Contains(stdout, `"reason":"inactive"`) {
			t.Errorf("verify against %s: %d %s %s", db, code, stdout, stderr)
		}
	}
}

// lastName is the name of the newest key of st.
func lastName(t *testing.T, st *store.Store) string {
	t.Helper()
	var name string
	if err := st.EachKey(context.Background(), store.KeyFilter{Now: time.Now()}, func(k apikey.Key) error {
		name = k.Name
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestLegacyKeysThroughServe imports legacy keys and verifies them through
// a real `apikey serve`, on each engine: by the key header and by a Bearer
// token, refused with another company's id, alongside apikey's own keys;
// and a legacy key rotated with grace works with both secrets.
func TestLegacyKeysThroughServe(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testLegacyThroughServe(t, "") })
	t.Run("postgres", func(t *testing.T) { testLegacyThroughServe(t, pgtest.New(t)) })
}

func testLegacyThroughServe(t *testing.T, db string) {
	w := newKeyWorld(t)
	if db != "" {
		w.env["APIKEY_DB"] = db
	}
	own := w.mustIssue("create", "--company", "Acme", "--create-company", "--name", "own")
	csv := "company,name,secret,scopes\n"
	var legacy []string
	for i := range 50 {
		secret := fmt.Sprintf("legacy-%02d-%s", i, strings.Repeat("x", 4+i%20)+"Zz9")
		legacy = append(legacy, secret)
		company := "Acme"
		if i%2 == 1 {
			company = "Initech"
		}
		csv += fmt.Sprintf("%s,k%02d,%s,read\n", company, i, secret)
	}
	file := filepath.Join(w.dir, "legacy.csv")
	if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := w.run("", nil, "import", "--plaintext", file); code != 0 || stderr != "Imported 50 legacy keys and 1 new company.\n" {
		t.Fatalf("import: %d %s", code, stderr)
	}
	_, out, _ := w.run("", nil, "company", "list", "-o", "json")
	var companies []struct{ ID, Name string }
	if err := json.Unmarshal([]byte(out), &companies); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, c := range companies {
		ids[c.Name] = c.ID
	}

	s := w.serve("--addr", "127.0.0.1:0")
	for i, secret := range legacy {
		company, other := ids["Acme"], ids["Initech"]
		if i%2 == 1 {
			company, other = other, company
		}
		code, _, body := httpDo(t, "GET", s.base+"/v1/me", map[string]string{"X-Api-Key": secret, "X-Company": company})
		if code != 200 || !strings.Contains(body, fmt.Sprintf(`"name":"k%02d"`, i)) || !strings.Contains(body, `"scopes":["read"]`) {
			t.Fatalf("legacy key %d: %d %s", i, code, body)
		}
		code, h, _ := httpDo(t, "POST", s.base+"/v1/auth", map[string]string{"Authorization": "Bearer " + secret})
		if code != 200 || h.Get("X-Company-Id") != company {
			t.Fatalf("legacy key %d by /v1/auth: %d %v", i, code, h)
		}
		if code, _, body := httpDo(t, "GET", s.base+"/v1/me", map[string]string{"X-Api-Key": secret, "X-Company": other}); code != 401 || !strings.Contains(body, `"reason":"invalid"`) {
			t.Fatalf("legacy key %d with another company: %d %s", i, code, body)
		}
	}
	if code, _, _ := httpDo(t, "GET", s.base+"/v1/me", map[string]string{"X-Api-Key": own.Key}); code != 200 {
		t.Errorf("apikey's own key: %d", code)
	}
	for secret, reason := range map[string]string{"nobody-has-this-one": "invalid", "short": "malformed", own.Key[:len(own.Key)-1] + "0": "malformed"} {
		if code, _, body := httpDo(t, "GET", s.base+"/v1/me", map[string]string{"X-Api-Key": secret}); code != 401 || !strings.Contains(body, `"reason":"`+reason+`"`) {
			t.Errorf("%s: %d %s, want %s", secret, code, body, reason)
		}
	}

	// Rotated with grace: an apikey key, and the legacy secret still works.
	code, out, stderr := w.run("", nil, "rotate", "k00", "--grace", "1h", "-o", "json")
	var r issued
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("rotate: %d %s", code, stderr)
	}
	for _, secret := range []string{legacy[0], r.Key} {
		within(t, func() string {
			if code, _, body := httpDo(t, "GET", s.base+"/v1/me", map[string]string{"X-Api-Key": secret}); code != 200 {
				return fmt.Sprintf("after the rotation: %d %s", code, body)
			}
			return ""
		})
	}
	if code := s.stop(os.Interrupt); code != 0 {
		t.Errorf("serve exited %d: %s", code, s.log())
	}
	if log := s.log(); strings.Contains(log, "legacy-") {
		t.Errorf("a legacy secret in the log:\n%s", log)
	}
}
