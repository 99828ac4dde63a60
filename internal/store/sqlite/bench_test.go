package sqlite_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/seed"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/google/uuid"
)

var seeded struct {
	once    sync.Once
	db      string
	secrets []string
	err     error
}

// seededStore opens the cached seeded database, seeding it on first use.
// Benchmarks that write get a copy (see writableStore).
func seededStore(b *testing.B) (*store.Store, []string) {
	b.Helper()
	seeded.once.Do(func() {
		seeded.db, seeded.secrets, seeded.err = seed.Cached(context.Background(), seed.BenchKeys())
	})
	if seeded.err != nil {
		b.Fatal(seeded.err)
	}
	st, err := store.Open(context.Background(), seeded.db)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st, seeded.secrets
}

// writableStore returns a copy of the seeded store that a benchmark may
// change, opened with opts.
func writableStore(b *testing.B, opts ...store.Option) *store.Store {
	b.Helper()
	seededStore(b)
	path, err := seed.CopyOf(seeded.db, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(context.Background(), path, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkCreateKey is `apikey create` less the command: a new secret and
// one transaction that resolves the company, checks the name and writes the
// key, its secret and its event, in a store of benchKeys keys.
func BenchmarkCreateKey(b *testing.B) {
	ctx := context.Background()
	st := writableStore(b)
	cs, err := st.ListCompanies(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		id := uuid.NewString()
		_, m, err := apikey.MintSecret(apikey.DefaultPrefix, id, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, err = st.CreateKey(ctx, store.NewKey{ID: id, Company: cs[i%len(cs)].Name, Name: "bench " + id,
			Status: apikey.StatusActive, Scopes: []string{"invoices:read"}, Secret: m, Actor: "bench"})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateKeys is what bench/seed does: batches of seed.BatchSize
// keys, one transaction each, with the seeder's page cache; the figure is
// per key. Run it with -benchtime of several batches (10000x).
func BenchmarkCreateKeys(b *testing.B) {
	ctx := context.Background()
	st := writableStore(b, store.WithCacheSize(seed.CacheSize))
	batch := make([]store.NewKey, 0, seed.BatchSize)
	b.ResetTimer()
	// A plain loop rather than b.Loop: the last batch is written after the
	// loop and must be timed.
	for i := range b.N {
		id := uuid.NewString()
		_, m, err := apikey.MintSecret(apikey.DefaultPrefix, id, nil)
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, store.NewKey{ID: id, Company: "bench", CreateCompany: true, Name: "bench " + id,
			Status: apikey.StatusActive, Secret: m, Actor: "bench"})
		if len(batch) == cap(batch) || i == b.N-1 {
			if err := st.CreateKeys(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// BenchmarkEachKey streams every key of the store, as `list` does, without
// printing: the store's share of `list`.
func BenchmarkEachKey(b *testing.B) {
	ctx := context.Background()
	st, secrets := seededStore(b)
	now := time.Now()
	for b.Loop() {
		n := 0
		if err := st.EachKey(ctx, store.KeyFilter{Now: now}, func(apikey.Key) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n < len(secrets) {
			b.Fatalf("listed %d keys, want at least %d", n, len(secrets))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(secrets)), "ns/key")
}

// BenchmarkKeyByPrefix resolves a key by an 8-character id prefix, as
// `show` does.
func BenchmarkKeyByPrefix(b *testing.B) {
	ctx := context.Background()
	st, secrets := seededStore(b)
	ids := sampleIDs(b, st, secrets)
	for i := 0; b.Loop(); i++ {
		if _, err := st.Key(ctx, ids[i%len(ids)][:8], ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookupSecret finds the key of a presented secret, as verify and
// serve do.
func BenchmarkLookupSecret(b *testing.B) {
	ctx := context.Background()
	st, secrets := seededStore(b)
	r := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		_, found, err := st.LookupSecret(ctx, apikey.HashSecret(secrets[r.IntN(len(secrets))]))
		if err != nil || !found {
			b.Fatalf("lookup: found %v, %v", found, err)
		}
	}
}

// sampleIDs returns the ids of up to 1,000 keys spread over the store, found
// through their secrets.
func sampleIDs(b *testing.B, st *store.Store, secrets []string) []string {
	b.Helper()
	var ids []string
	for i := 0; i < len(secrets) && len(ids) < 1000; i += max(1, len(secrets)/1000) {
		p, found, err := st.LookupSecret(context.Background(), apikey.HashSecret(secrets[i]))
		if err != nil || !found {
			b.Fatalf("lookup: found %v, %v", found, err)
		}
		ids = append(ids, p.Key.ID)
	}
	return ids
}

// BenchmarkTouchKeys is one flush of a server's last uses: 5,000 keys of
// the seeded store in one transaction, as the server writes them, in the
// order EachKey lists them and every one of them in use (BenchmarkFlushUses
// in internal/server is a quarter of them, after random traffic).
func BenchmarkTouchKeys(b *testing.B) {
	st := writableStore(b)
	ctx := context.Background()
	var keys []apikey.Key
	if err := st.EachKey(ctx, store.KeyFilter{}, func(k apikey.Key) error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	at := time.Now()
	i := 0
	for b.Loop() {
		used := make([]store.KeyUse, 0, 5000)
		for range 5000 {
			k := &keys[i%len(keys)]
			used = append(used, store.KeyUse{KeyID: k.ID, CreatedAt: k.CreatedAt, At: at})
			i++
		}
		at = at.Add(time.Second)
		if err := st.TouchKeys(ctx, used); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i), "ns/key")
}
