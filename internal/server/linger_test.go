package server

import (
	"net/http"
	"strings"
	"testing"
)

// A client still writing a header block far over the bound when the server
// answers 431 and closes reads that answer, rather than a reset connection:
// the server's side of the connection lingers (lingering). Without it,
// net/http's client failed on the first or second attempt.
func TestOversizedRequestGetsItsAnswer(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f.server(Options{}))
	junk := strings.Repeat("a", 4<<20)
	for i := range 50 {
		a, err := tryRequest("GET", srv.URL+"/v1/me", map[string]string{"X-Junk": junk})
		if err != nil || a.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("attempt %d: %v %d", i, err, a.status)
		}
	}
}
