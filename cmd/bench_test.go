package cmd_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/apikeyhq/apikey/cmd"
	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/seed"
	"github.com/apikeyhq/apikey/internal/store"
)

// The benchmarks run the commands in-process through cmd.Run, as the binary
// does, on a store of APIKEY_BENCH_KEYS keys (100,000 unless set), seeded
// once and cached under TMPDIR by internal/seed. They run only with -bench:
//
//	go test -run '^$' -bench . -benchtime 5x ./cmd/

var seeded struct {
	once sync.Once
	db   string
	ids  []string
	err  error
}

// seededDB returns the cached seeded database and the ids of up to 1,000
// keys spread over it.
func seededDB(b *testing.B) (string, []string) {
	b.Helper()
	seeded.once.Do(func() {
		ctx := context.Background()
		var secrets []string
		if seeded.db, secrets, seeded.err = seed.Cached(ctx, seed.BenchKeys()); seeded.err != nil {
			return
		}
		st, err := store.Open(ctx, seeded.db)
		if err != nil {
			seeded.err = err
			return
		}
		defer st.Close()
		for i := 0; i < len(secrets) && len(seeded.ids) < 1000; i += max(1, len(secrets)/1000) {
			p, found, err := st.LookupSecret(ctx, apikey.HashSecret(secrets[i]))
			if err != nil || !found {
				seeded.err = err
				return
			}
			seeded.ids = append(seeded.ids, p.Key.ID)
		}
	})
	if seeded.err != nil {
		b.Fatal(seeded.err)
	}
	return seeded.db, seeded.ids
}

// run runs apikey with args on db, its output discarded, and fails the
// benchmark unless it succeeds.
func run(b *testing.B, db string, args ...string) {
	ios, _, _, errOut := iostreams.Test()
	ios.Out = io.Discard
	dir := b.TempDir()
	env := map[string]string{"APIKEY_DB": db, "HOME": dir, "XDG_CONFIG_HOME": dir, "APIKEY_ACTOR": "bench", "APIKEY_NO_INPUT": "1"}
	if code := cmd.Run(args, ios, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); code != 0 {
		b.Fatalf("apikey %v: exit %d: %s", args, code, errOut)
	}
}

// BenchmarkListJSON is `apikey list -o json` of the whole store.
func BenchmarkListJSON(b *testing.B) {
	db, _ := seededDB(b)
	for b.Loop() {
		run(b, db, "list", "-o", "json")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*seed.BenchKeys()), "ns/key")
}

// BenchmarkShowJSON is `apikey show ID -o json`, the key named by an
// 8-character id prefix.
func BenchmarkShowJSON(b *testing.B) {
	db, ids := seededDB(b)
	for i := 0; b.Loop(); i++ {
		run(b, db, "show", ids[i%len(ids)][:8], "-o", "json")
	}
}

// BenchmarkCreateJSON is `apikey create --company C --name N -o json` in a
// copy of the store: one transaction, synced to disk.
func BenchmarkCreateJSON(b *testing.B) {
	src, _ := seededDB(b)
	db := filepath.Join(b.TempDir(), "apikey.db")
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(db, data, 0o600); err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		run(b, db, "create", "--company", "bench", "--create-company", "--name", "bench "+strconv.Itoa(i), "-o", "json")
	}
}

// BenchmarkVersion is `apikey version`: what every command pays before it
// starts its work, less the process start-up that bench/cli.sh measures.
func BenchmarkVersion(b *testing.B) {
	for b.Loop() {
		run(b, "unused.db", "version")
	}
}
