package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// discardWriter is the least a ResponseWriter can do, so that the benchmark
// measures the handler.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header               { return w.h }
func (w *discardWriter) Write(b []byte) (int, error)       { return len(b), nil }
func (w *discardWriter) WriteString(s string) (int, error) { return len(s), nil }
func (w *discardWriter) WriteHeader(int)                   {}

// BenchmarkHandlerMe is the cost of answering /v1/me from a warm cache,
// without the network: what apikey adds to net/http's own cost per request.
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
	for _, logged := range []bool{false, true} {
		b.Run(fmt.Sprintf("log=%v", logged), func(b *testing.B) {
			var w io.Writer
			if logged {
				w = struct{ io.Writer }{io.Discard} // not io.Discard itself, which turns logging off
			}
			s := New(Options{Store: f.st, Log: w})
			s.watchOnce(context.Background())
			s.cache.freshen(s.cache.clock(), time.Hour)
			reqs := make([]*http.Request, n)
			for i, secret := range secrets {
				reqs[i], _ = http.NewRequest("GET", "/v1/me", nil)
				reqs[i].Header.Set("X-Api-Key", secret)
				reqs[i].RemoteAddr = "127.0.0.1:1234"
			}
			for _, r := range reqs {
				s.serveHTTP(&discardWriter{h: http.Header{}}, r)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					s.serveHTTP(w, reqs[i%n])
					i++
				}
			})
		})
	}
}
