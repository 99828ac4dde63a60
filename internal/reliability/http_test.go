package reliability

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestServeHostileHTTP throws random bytes, malformed requests, oversized
// headers and hundreds of slow clients at a real `apikey serve`. Throughout,
// it must keep answering health checks and valid verifications, never answer
// 5xx to a client's mistake, and never log a secret.
func TestServeHostileHTTP(t *testing.T) {
	db := filepath.Join(t.TempDir(), "hostile-http.db")
	good := createKey(t, db, "good")
	url, stop := startServe(t, db)
	host := strings.TrimPrefix(url, "http://")
	client := &http.Client{Timeout: 10 * time.Second}

	// Hundreds of slow clients hold connections open, sending a header byte
	// now and then, as a slowloris attack does.
	slow := rounds(200, 800)
	var conns []net.Conn
	for i := 0; i < slow; i++ {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatalf("slow client %d: %v", i, err)
		}
		fmt.Fprintf(c, "GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s", good.Key[:10])
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	stopDrip := make(chan struct{})
	var drip sync.WaitGroup
	drip.Add(1)
	go func() {
		defer drip.Done()
		for {
			select {
			case <-stopDrip:
				return
			case <-time.After(200 * time.Millisecond):
				for _, c := range conns {
					c.Write([]byte("a"))
				}
			}
		}
	}()

	raw := func(payload []byte) string {
		c, err := net.DialTimeout("tcp", host, 5*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write(payload)
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line
	}
	junk := make([]byte, 4096)
	hugeHeader := "GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Api-Key: " + strings.Repeat("A", 1<<20) + "\r\n\r\n"
	attacks := []struct {
		name    string
		payload func() []byte
	}{
		{"random bytes", func() []byte { rand.Read(junk); return junk }},
		{"unknown protocol version", func() []byte { return []byte("GET /v1/me HTTP/9.9\r\nHost: x\r\n\r\n") }},
		{"header without colon", func() []byte { return []byte("GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Api-Key\r\n\r\n") }},
		{"NUL in header", func() []byte { return []byte("GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Api-Key: ak_\x00\x00\r\n\r\n") }},
		{"CR injection", func() []byte { return []byte("GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Api-Key: a\rX-Company: b\r\n\r\n") }},
		{"huge request line", func() []byte { return []byte("GET /" + strings.Repeat("a", 1<<20) + " HTTP/1.1\r\nHost: x\r\n\r\n") }},
		{"huge header", func() []byte { return []byte(hugeHeader) }},
		{"many headers", func() []byte {
			return []byte("GET /v1/auth HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: b\r\n", 5000) + "\r\n")
		}},
		{"huge key value", func() []byte {
			return []byte("GET /v1/auth HTTP/1.1\r\nHost: x\r\nX-Api-Key: " + strings.Repeat("k", 15000) + "\r\n\r\n")
		}},
		{"bearer of garbage", func() []byte {
			return []byte("DELETE /v1/auth HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe%00'--\r\n\r\n")
		}},
		{"chunked junk body", func() []byte {
			return []byte("POST /v1/auth HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
		}},
	}
	healthy := func(when string) {
		resp, err := client.Get(url + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: health check failed: %v %v", when, resp, err)
		}
		resp.Body.Close()
		if code, reason, err := ask(client, url, good); err != nil || code != 200 {
			t.Fatalf("%s: a valid key was refused: %d %s %v", when, code, reason, err)
		}
	}
	healthy("with slow clients connected")
	for i := 0; i < rounds(3, 30); i++ {
		for _, a := range attacks {
			status := raw(a.payload())
			// 505 is the protocol's own answer to HTTP/9.9 (net/http gave
			// it; fasthttp reads the request as 1.1); any other 5xx is a
			// fault.
			if strings.HasPrefix(status, "HTTP/1.1 5") && !strings.HasPrefix(status, "HTTP/1.1 505") {
				t.Errorf("%s: server answered %q", a.name, strings.TrimSpace(status))
			}
			healthy("after " + a.name)
		}
	}
	close(stopDrip)
	drip.Wait()
	log := stop()
	if strings.Contains(log, good.Key) || strings.Contains(log, good.Key[:10]+"a") {
		t.Fatal("the server logged a secret")
	}
	t.Logf("hostile HTTP: %d slow clients, %d attacks, server healthy throughout", slow, len(attacks))
}
