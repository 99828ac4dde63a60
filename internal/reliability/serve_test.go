package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// startServe starts a real `apikey serve` on a free port and returns its base
// URL and a function that stops it and returns what it logged.
func startServe(t *testing.T, db string) (url string, stop func() string) {
	t.Helper()
	c := apikeyCmd(context.Background(), db, "serve", "--addr", "127.0.0.1:0")
	stderr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	var mu sync.Mutex
	lines := bufio.NewScanner(stderr)
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for lines.Scan() {
			l := lines.Text()
			mu.Lock()
			log.WriteString(l + "\n")
			mu.Unlock()
			if a, ok := strings.CutPrefix(l, "listening on "); ok {
				addr <- a
			}
		}
	}()
	select {
	case url = <-addr:
	case <-time.After(30 * time.Second):
		c.Process.Kill()
		t.Fatal("serve did not start")
	}
	return url, func() string {
		c.Process.Signal(syscall.SIGTERM)
		c.Wait()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return log.String()
	}
}

type issued struct {
	ID      string `json:"id"`
	Key     string `json:"key"`
	Company struct {
		ID string `json:"id"`
	} `json:"company"`
}

func createKey(t *testing.T, db, name string) issued {
	t.Helper()
	code, out, errs := run(t, db, nil, "create", "--company", "Busy Co", "--create-company", "--name", name, "-o", "json")
	if code != 0 {
		t.Fatalf("create %s: exit %d: %s", name, code, errs)
	}
	var k issued
	if err := json.Unmarshal([]byte(out), &k); err != nil || k.Key == "" {
		t.Fatalf("create printed %q: %v", out, err)
	}
	return k
}

// ask presents a key to /v1/me and returns the status and the reason.
func ask(client *http.Client, url string, k issued) (int, string, error) {
	req, _ := http.NewRequest("GET", url+"/v1/me", nil)
	req.Header.Set("X-Api-Key", k.Key)
	req.Header.Set("X-Company", k.Company.ID)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var body struct {
		Reason string `json:"reason"`
	}
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &body)
	return resp.StatusCode, body.Reason, nil
}

// TestServeUnderConcurrentWriters runs real apikey processes that create,
// toggle and delete keys while a real `apikey serve` answers verifications
// from the same store. No writer may fail (no "database is locked"), and the
// server may never give a wrong answer: keys nobody touches always pass,
// toggled keys pass or are refused as inactive, deleted keys end refused as
// invalid within a second or so, and nothing answers 5xx.
func TestServeUnderConcurrentWriters(t *testing.T) {
	db := filepath.Join(t.TempDir(), "busy.db")
	var stable []issued
	for i := 0; i < 5; i++ {
		stable = append(stable, createKey(t, db, fmt.Sprintf("stable-%d", i)))
	}
	toggled := createKey(t, db, "toggled")
	url, stop := startServe(t, db)
	client := &http.Client{Timeout: 10 * time.Second}

	ctx, cancel := context.WithCancel(context.Background())
	var checks, wrong atomic.Int64
	var readers sync.WaitGroup
	for r := 0; r < 4; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for ctx.Err() == nil {
				k := stable[rand.IntN(len(stable))]
				code, reason, err := ask(client, url, k)
				checks.Add(1)
				if err != nil || code != 200 {
					wrong.Add(1)
					t.Errorf("stable key refused: %d %s %v", code, reason, err)
				}
				code, reason, err = ask(client, url, toggled)
				checks.Add(1)
				if err != nil || !(code == 200 || code == 401 && reason == "inactive") {
					wrong.Add(1)
					t.Errorf("toggled key answered %d %q %v", code, reason, err)
				}
			}
		}()
	}

	n := rounds(6, 60)
	var writes atomic.Int64
	for round := 0; round < n; round++ {
		var wg sync.WaitGroup
		created := make(chan issued, 2)
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				created <- createKey(t, db, fmt.Sprintf("r%d-w%d", round, w))
				writes.Add(1)
			}(w)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, _, errs := run(t, db, nil, "toggle", toggled.ID); code != 0 {
				t.Errorf("toggle: exit %d: %s", code, errs)
			}
			writes.Add(1)
		}()
		wg.Wait()
		close(created)
		var fresh []issued
		for k := range created {
			fresh = append(fresh, k)
		}
		// A key just created is accepted, a key just deleted is refused:
		// each within the server's promise of a second (polled, not timed).
		for _, k := range fresh {
			eventually(t, client, url, k, 200, "")
		}
		victim := fresh[0]
		if code, _, errs := run(t, db, nil, "delete", victim.ID, "--yes"); code != 0 {
			t.Fatalf("delete: exit %d: %s", code, errs)
		}
		writes.Add(1)
		eventually(t, client, url, victim, 401, "invalid")
	}
	cancel()
	readers.Wait()
	log := stop()
	for _, k := range append(stable, toggled) {
		if strings.Contains(log, k.Key) {
			t.Fatalf("the server logged a secret")
		}
	}
	if !strings.Contains(log, "status=200") {
		t.Errorf("the server logged no request:\n%s", log)
	}
	if strings.Contains(log, "locked") || strings.Contains(log, " 500 ") || strings.Contains(log, "status=5") {
		t.Errorf("server log shows trouble:\n%s", log)
	}
	t.Logf("serve under writers: %d rounds, %d writes by real processes, %d checks, %d wrong answers", n, writes.Load(), checks.Load(), wrong.Load())
}

// eventually polls until the server gives the wanted answer, failing after a
// generous deadline: the promise is one second, the deadline allows for a
// loaded CI machine.
func eventually(t *testing.T, client *http.Client, url string, k issued, status int, reason string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, got, err := ask(client, url, k)
		if err == nil && code == status && got == reason {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("key %s: want %d %q, still %d %q (%v)", k.ID, status, reason, code, got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
