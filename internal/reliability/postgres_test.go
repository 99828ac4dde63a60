package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/pgtest"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/apikeyhq/apikey/internal/store/postgres"
	"github.com/jackc/pgx/v5"
)

// TestPostgresManyWriters has 8 processes creating keys and 8 creating and
// deleting companies on one PostgreSQL store at once, all of them also
// racing for the same company names and toggling one key. Every command
// succeeds or fails with the documented conflict (exit 5); nothing is lost;
// every change has exactly one event.
func TestPostgresManyWriters(t *testing.T) {
	db := pgtest.New(t)
	if code, _, errs := run(t, db, nil, "company", "create", "Shared"); code != 0 {
		t.Fatalf("company create: %d %s", code, errs)
	}
	toggled := createKeyOf(t, db, "Shared", "toggled")
	perWriter := rounds(4, 25)

	var mu sync.Mutex
	var createdKeys []string
	companiesMade, companiesDeleted, contestedWins, toggles := 0, 0, map[string]int{}, 0
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf(format, args...)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for j := range perWriter {
				k := createKeyOf(t, db, "Shared", fmt.Sprintf("w%d-k%d", w, j))
				mu.Lock()
				createdKeys = append(createdKeys, k.ID)
				mu.Unlock()
			}
		})
		wg.Go(func() {
			for j := range perWriter {
				name := fmt.Sprintf("Temp %d-%d", w, j)
				if code, _, errs := run(t, db, nil, "company", "create", name); code != 0 {
					fail("company create %s: exit %d: %s", name, code, errs)
					continue
				}
				mu.Lock()
				companiesMade++
				mu.Unlock()
				// The same name in another case, by all writers at once:
				// one winner, the others a clean conflict.
				contested := fmt.Sprintf("CONTESTED %d", j)
				switch code, _, errs := run(t, db, nil, "company", "create", strings.ToLower(contested)); code {
				case 0:
					mu.Lock()
					contestedWins[contested]++
					companiesMade++
					mu.Unlock()
				case 5:
					if !strings.Contains(errs, "already exists") {
						fail("contested create: %s", errs)
					}
				default:
					fail("contested create: exit %d: %s", code, errs)
				}
				if code, _, errs := run(t, db, nil, "company", "delete", name, "--yes"); code != 0 {
					fail("company delete %s: exit %d: %s", name, code, errs)
					continue
				}
				mu.Lock()
				companiesDeleted++
				mu.Unlock()
				if code, _, errs := run(t, db, nil, "toggle", toggled.ID); code != 0 {
					fail("toggle: exit %d: %s", code, errs)
					continue
				}
				mu.Lock()
				toggles++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	st := openStore(t, db)
	ctx := context.Background()
	for _, id := range createdKeys {
		if _, err := st.Key(ctx, id, ""); err != nil {
			t.Errorf("key %s was acknowledged and is missing: %v", id, err)
		}
	}
	for name, wins := range contestedWins {
		if wins != 1 {
			t.Errorf("%s was created %d times", name, wins)
		}
	}
	if len(contestedWins) != perWriter {
		t.Errorf("%d contested names were won, want %d", len(contestedWins), perWriter)
	}
	events, err := st.Events(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	seqs := map[int64]bool{}
	for _, e := range events {
		count[e.Action]++
		if seqs[e.Seq] {
			t.Errorf("two events numbered %d", e.Seq)
		}
		seqs[e.Seq] = true
		if e.DBRole == "" {
			t.Errorf("event %d records no database role", e.Seq)
		}
	}
	want := map[string]int{
		apikey.ActionKeyCreate:     len(createdKeys) + 1,
		apikey.ActionCompanyCreate: companiesMade + 1,
		apikey.ActionCompanyDelete: companiesDeleted,
	}
	for action, n := range want {
		if count[action] != n {
			t.Errorf("%d %s events, want %d", count[action], action, n)
		}
	}
	if got := count[apikey.ActionKeyEnable] + count[apikey.ActionKeyDisable]; got != toggles {
		t.Errorf("%d toggle events for %d toggles", got, toggles)
	}
	k, err := st.Key(ctx, toggled.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if wantActive := toggles%2 == 0; (k.Status == apikey.StatusActive) != wantActive {
		t.Errorf("after %d toggles the key is %s", toggles, k.Status)
	}
	t.Logf("postgres writers: %d keys, %d companies made, %d deleted, %d toggles, %d events", len(createdKeys), companiesMade, companiesDeleted, toggles, len(events))
}

func createKeyOf(t *testing.T, db, company, name string) issued {
	t.Helper()
	code, out, errs := run(t, db, nil, "create", "--company", company, "--create-company", "--name", name, "-o", "json")
	if code != 0 {
		t.Fatalf("create %s: exit %d: %s", name, code, errs)
	}
	var k issued
	if err := json.Unmarshal([]byte(out), &k); err != nil || k.Key == "" {
		t.Fatalf("create %s: %v: %s", name, err, out)
	}
	return k
}

// TestPostgresServersFollowChanges runs three `apikey serve` processes on one
// PostgreSQL store. A key disabled, deleted or rotated with the CLI is
// refused by all three within a second (polled, with a deadline that allows
// for a loaded machine; the delays are logged); then the same with their
// notification connections killed, when their polls find the changes.
func TestPostgresServersFollowChanges(t *testing.T) {
	db := pgtest.New(t)
	// A server needs a store: it never makes one.
	if code, _, errs := run(t, db, nil, "company", "create", "Acme"); code != 0 {
		t.Fatalf("company create: %d %s", code, errs)
	}
	var urls []string
	for range 3 {
		url, stop := startServe(t, db)
		urls = append(urls, url)
		t.Cleanup(func() { stop() })
	}
	client := &http.Client{Timeout: 10 * time.Second}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	killListeners := func() int {
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, postgres.ListenerName(pgtest.SchemaOf(db))).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	for _, phase := range []string{"notified", "polled"} {
		disabled := createKeyOf(t, db, "Acme", phase+" disabled")
		deleted := createKeyOf(t, db, "Acme", phase+" deleted")
		rotated := createKeyOf(t, db, "Acme", phase+" rotated")
		for _, url := range urls {
			for _, k := range []issued{disabled, deleted, rotated} {
				eventually(t, client, url, k, 200, "")
			}
		}
		if phase == "polled" {
			if n := killListeners(); n != 3 {
				t.Fatalf("killed %d notification connections, want 3", n)
			}
		}
		var worst time.Duration
		change := func(what string, k issued, reason string, args ...string) {
			start := time.Now()
			if code, _, errs := run(t, db, nil, args...); code != 0 {
				t.Fatalf("%s: exit %d: %s", what, code, errs)
			}
			for _, url := range urls {
				eventually(t, client, url, k, 401, reason)
			}
			worst = max(worst, time.Since(start))
		}
		change("disable", disabled, "inactive", "disable", disabled.ID)
		change("delete", deleted, "invalid", "delete", deleted.ID, "--yes")
		change("rotate", rotated, "invalid", "rotate", rotated.ID)
		t.Logf("%s: the slowest change was refused by all three servers %v after its command started", phase, worst.Round(time.Millisecond))
	}
}
