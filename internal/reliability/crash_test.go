package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/store"
)

// TestCrashSafety starts real apikey processes that write to one store and
// kills some of them with SIGKILL at random moments. Afterwards the database
// must pass SQLite's integrity check and hold every key whose creation was
// acknowledged, i.e. printed, by a process.
func TestCrashSafety(t *testing.T) {
	db := filepath.Join(t.TempDir(), "crash.db")
	if code, _, errs := run(t, db, nil, "company", "create", "Crash Co"); code != 0 {
		t.Fatalf("company create: exit %d: %s", code, errs)
	}
	n := rounds(4, 60)
	const writers = 4
	var (
		mu      sync.Mutex
		acked   []string // ids of keys whose creation was printed
		kills   int
		toggled int
	)
	for round := 0; round < n; round++ {
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				args := []string{"create", "--company", "Crash Co", "--name", fmt.Sprintf("r%d-w%d", round, w), "-o", "json"}
				if w == writers-1 {
					// acked grows under mu while other writers of this round
					// finish, so its length is read under mu too.
					mu.Lock()
					if len(acked) > 0 {
						args = []string{"toggle", acked[rand.IntN(len(acked))], "-o", "json"}
					}
					mu.Unlock()
				}
				c := apikeyCmd(context.Background(), db, args...)
				var out, errb bytes.Buffer
				c.Stdout, c.Stderr = &out, &errb
				if err := c.Start(); err != nil {
					t.Errorf("start: %v", err)
					return
				}
				killed := false
				if rand.IntN(2) == 0 {
					// Somewhere between start-up and the commit.
					time.Sleep(time.Duration(rand.IntN(60)) * time.Millisecond)
					killed = c.Process.Signal(syscall.SIGKILL) == nil
				}
				err := c.Wait()
				mu.Lock()
				defer mu.Unlock()
				if killed {
					kills++
				}
				if err != nil {
					if !killed {
						t.Errorf("apikey %v failed without being killed: %v: %s", args, err, errb.String())
					}
					return
				}
				if args[0] == "toggle" {
					toggled++
					return
				}
				var k struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(out.Bytes(), &k); err != nil || k.ID == "" {
					t.Errorf("create printed no key: %v: %q", err, out.String())
					return
				}
				acked = append(acked, k.ID)
			}(w)
		}
		wg.Wait()
	}
	st := openStore(t, db)
	ctx := context.Background()
	if err := st.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range acked {
		if _, err := st.Key(ctx, id, ""); err != nil {
			t.Errorf("acknowledged key %s is missing: %v", id, err)
		}
	}
	// Every event refers to a change that happened in full: a key.create
	// event exists exactly for the keys that exist or were created.
	events, err := st.Events(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	created := map[string]bool{}
	for _, e := range events {
		if e.Action == "key.create" && e.Key != nil {
			created[e.Key.ID] = true
		}
	}
	for _, id := range acked {
		if !created[id] {
			t.Errorf("key %s has no key.create event", id)
		}
	}
	t.Logf("crash safety: %d rounds, %d processes, %d killed, %d keys acknowledged, %d toggles acknowledged, integrity ok",
		n, n*writers, kills, len(acked), toggled)
}
