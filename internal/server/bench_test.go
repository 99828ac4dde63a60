package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/seed"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/valyala/fasthttp"
)

// requestCtxs are reqs as fasthttp hands requests to a handler, for one
// goroutine of a benchmark.
func requestCtxs(reqs []*http.Request) []*fasthttp.RequestCtx {
	ctxs := make([]*fasthttp.RequestCtx, len(reqs))
	for i, r := range reqs {
		ctxs[i] = requestCtx(r)
	}
	return ctxs
}

// BenchmarkHandlerMe is the cost of answering /v1/me from a warm cache,
// without the network: what apikey adds to fasthttp's own cost per request.
func BenchmarkHandlerMe(b *testing.B) {
	t := &testing.T{}
	f := newFixture(t)
	defer f.st.Close()
	defer f.admin.Close()
	const n = 1000
	secrets := make([]string, n)
	for i := range secrets {
		_, secrets[i] = f.key("Acme", fmt.Sprint("k", i), nil)
	}
	for _, c := range []struct {
		name    string
		logged  bool
		format  string
		metrics bool
	}{
		{"log=false", false, LogText, true},
		{"log=true", true, LogText, true},
		{"log=json", true, LogJSON, true},
		{"log=true,metrics=false", true, LogText, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			var w io.Writer
			if c.logged {
				w = struct{ io.Writer }{io.Discard} // not io.Discard itself, which turns logging off
			}
			s := New(Options{Store: f.st, Log: w, LogFormat: c.format, DisableMetrics: !c.metrics})
			s.watchOnce(context.Background())
			s.cache.freshen(s.cache.clock(), time.Hour)
			reqs := make([]*http.Request, n)
			for i, secret := range secrets {
				reqs[i], _ = http.NewRequest("GET", "/v1/me", nil)
				reqs[i].Header.Set("X-Api-Key", secret)
				reqs[i].RemoteAddr = "127.0.0.1:1234"
			}
			for _, r := range reqs {
				serveAgain(s, requestCtx(r))
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				ctxs := requestCtxs(reqs)
				for pb.Next() {
					serveAgain(s, ctxs[i%n])
					i++
				}
			})
		})
	}
}

// BenchmarkLogLine is the cost of one request's log line, on one goroutine:
// 200 and 401 include formatting the line (slog's TextHandler) and writing
// it out, as the flush loop does for a batch; 200-enqueue is what the
// request itself pays, the rest being the flush loop's.
func BenchmarkLogLine(b *testing.B) {
	ok := outcome{status: 200, keyID: "558fd8b1-8fb1-4288-b35d-b1b979f6a2ac"}
	for _, c := range []struct {
		name    string
		o       outcome
		enqueue bool
	}{
		{"200", ok, false},
		{"401", outcome{status: 401, reason: apikey.ReasonInvalid, keyID: ok.keyID}, false},
		{"200-enqueue", ok, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			l := newServerLog(struct{ io.Writer }{io.Discard}, LogText, slog.LevelInfo)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				l.request(http.MethodGet, endpointMe, c.o, time.Now(), 73*time.Microsecond)
				if n++; n%1000 == 0 {
					if c.enqueue {
						b.StopTimer()
					}
					l.flush()
					if c.enqueue {
						b.StartTimer()
					}
				}
			}
		})
	}
}

// seededStore opens the store that seed.Cached keeps (APIKEY_BENCH_KEYS
// keys, 100,000 unless set), closed when the benchmark ends, and returns
// it with its secrets.
func seededStore(b *testing.B) (*store.Store, []string) {
	b.Helper()
	ctx := context.Background()
	db, secrets, err := seed.Cached(ctx, seed.BenchKeys())
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st, secrets
}

// BenchmarkLoadDirectory is the loading of every key into memory, from the
// store that seed.Cached keeps (APIKEY_BENCH_KEYS keys, 100,000 unless set),
// and the bytes the directory takes per key.
func BenchmarkLoadDirectory(b *testing.B) {
	ctx := context.Background()
	st, _ := seededStore(b)
	var d *directory
	var err error
	for b.Loop() {
		if d, err = loadDirectory(ctx, st, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(d.bytes())/float64(len(d.keys)), "B/key")
}

// BenchmarkDirectoryFind is a look at a directory of seed.BenchKeys() keys
// for a random one of them, the entry assembled.
func BenchmarkDirectoryFind(b *testing.B) {
	st, secrets := seededStore(b)
	d, err := loadDirectory(context.Background(), st, 0)
	if err != nil {
		b.Fatal(err)
	}
	hashes := make([]apikey.Hash, len(secrets))
	for i, s := range secrets {
		hashes[i] = apikey.HashSecret(s)
	}
	i := 0
	for b.Loop() {
		if d.find(hashes[i%len(hashes)]) == nil {
			b.Fatal("not found")
		}
		i += 7919
	}
}

// BenchmarkFlushUses is a periodic flush after uniformly random traffic:
// a quarter of a directory's keys used once, their last uses written to a
// copy of the seeded store the way the flusher writes them, in batches of
// flushBatch keys. It reports the cost per key written.
func BenchmarkFlushUses(b *testing.B) {
	ctx := context.Background()
	seededStore(b)
	db, _, err := seed.Cached(ctx, seed.BenchKeys())
	if err != nil {
		b.Fatal(err)
	}
	st := copiedStore(b, db)
	d, err := loadDirectory(ctx, st, 0)
	if err != nil {
		b.Fatal(err)
	}
	s := New(Options{Store: st})
	s.cache.install(d)
	r := rand.New(rand.NewPCG(1, 2))
	at := time.Now().UnixNano()
	written := 0
	for b.Loop() {
		b.StopTimer()
		for range len(d.uses) / 4 {
			d.uses[r.IntN(len(d.uses))].lastUsed.Store(at)
		}
		at += int64(time.Minute)
		b.StartTimer()
		uses := s.cache.uses(nil, 0, flushBatch, func(batch []store.KeyUse) error {
			written += len(batch)
			return s.writeUses(ctx, batch)
		})
		written += len(uses)
		if err := s.writeUses(ctx, uses); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(written), "ns/key")
}

// copiedStore opens a copy of the store file db, which the benchmark may
// change.
func copiedStore(b *testing.B, db string) *store.Store {
	b.Helper()
	path, err := seed.CopyOf(db, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}
