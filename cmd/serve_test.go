package cmd_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// command returns `apikey args` as a process in w's environment: the copy of
// the test binary that TestMain puts on PATH.
func (w *keyWorld) command(args ...string) *exec.Cmd {
	c := exec.Command("apikey", args...)
	c.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range w.env {
		c.Env = append(c.Env, k+"="+v)
	}
	return c
}

// served is a running `apikey serve` process.
type served struct {
	t      *testing.T
	c      *exec.Cmd
	base   string
	mu     sync.Mutex
	stderr strings.Builder
	done   chan struct{}
}

// serve starts `apikey serve` with args and waits until it listens.
func (w *keyWorld) serve(args ...string) *served {
	w.t.Helper()
	s := &served{t: w.t, c: w.command(append([]string{"serve"}, args...)...), done: make(chan struct{})}
	pipe, err := s.c.StderrPipe()
	if err != nil {
		w.t.Fatal(err)
	}
	if err := s.c.Start(); err != nil {
		w.t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			if addr, ok := strings.CutPrefix(line, "listening on "); ok {
				listening <- addr
			}
			s.mu.Lock()
			s.stderr.WriteString(line + "\n")
			s.mu.Unlock()
		}
	}()
	go func() { s.c.Wait(); close(s.done) }()
	w.t.Cleanup(func() {
		s.c.Process.Kill()
		<-s.done
	})
	select {
	case s.base = <-listening:
	case <-s.done:
		w.t.Fatalf("apikey serve exited: %s", s.log())
	case <-time.After(30 * time.Second):
		w.t.Fatalf("apikey serve does not listen: %s", s.log())
	}
	return s
}

func (s *served) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// stop sends sig and returns the exit code.
func (s *served) stop(sig os.Signal) int {
	s.t.Helper()
	if err := s.c.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.t.Fatal("apikey serve did not stop")
	}
	return s.c.ProcessState.ExitCode()
}

func httpDo(t *testing.T, method, url string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// within polls check until it returns "" and fails with its last complaint
// after a generous deadline; tests never assert on how fast.
func within(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeProcess runs `apikey serve` as a process and changes keys with
// other apikey processes while it runs.
func TestServeProcess(t *testing.T) {
	w := newKeyWorld(t)
	k := w.mustIssue("create", "--company", "Acme", "--create-company", "--name", "billing")
	s := w.serve("--addr", "127.0.0.1:0")
	me := func(secret string) (int, string) {
		code, _, body := httpDo(t, "GET", s.base+"/v1/me", map[string]string{"X-Api-Key": secret, "X-Company": k.Company.ID})
		return code, body
	}
	refused := func(secret, reason string) func() string {
		return func() string {
			if code, body := me(secret); code != 401 || !strings.Contains(body, `"reason":"`+reason+`"`) {
				return fmt.Sprintf("still %d %s", code, body)
			}
			return ""
		}
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := w.command(args...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("apikey %s: %s", strings.Join(args, " "), ee.Stderr)
			}
			t.Fatal(err)
		}
		return string(out)
	}

	if code, body := me(k.Key); code != 200 || !strings.Contains(body, `"id":"`+k.ID+`"`) {
		t.Fatalf("valid key: %d %s", code, body)
	}
	code, h, _ := httpDo(t, "POST", s.base+"/v1/auth", map[string]string{"Authorization": "Bearer " + k.Key})
	if code != 200 || h.Get("X-Company-Id") != k.Company.ID || h.Get("X-Apikey-Id") != k.ID || h.Get("X-Apikey-Name") != "billing" {
		t.Fatalf("/v1/auth: %d %v", code, h)
	}

	run("disable", k.ID)
	within(t, refused(k.Key, "inactive"))
	run("enable", k.ID)
	within(t, func() string {
		if code, body := me(k.Key); code != 200 {
			return "enabled key refused: " + body
		}
		return ""
	})

	var r1 issued
	if err := json.Unmarshal([]byte(run("rotate", k.ID, "--grace", "1h", "-o", "json")), &r1); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{k.Key, r1.Key} {
		within(t, func() string {
			if code, body := me(secret); code != 200 {
				return "during the grace period: " + body
			}
			return ""
		})
	}
	var r2 issued
	if err := json.Unmarshal([]byte(run("rotate", k.ID, "-o", "json")), &r2); err != nil {
		t.Fatal(err)
	}
	within(t, refused(r1.Key, "invalid"))
	if code, body := me(r2.Key); code != 200 {
		t.Fatalf("newest secret: %d %s", code, body)
	}

	run("delete", k.ID, "--yes")
	within(t, refused(r2.Key, "invalid"))

	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d after SIGTERM: %s", code, s.log())
	}
	log := s.log()
	for _, secret := range []string{k.Key, r1.Key, r2.Key} {
		if strings.Contains(log, secret) {
			t.Fatalf("the log holds a secret:\n%s", log)
		}
	}
	if !strings.Contains(log, "method=GET path=/v1/me status=200 key="+k.ID) || !strings.Contains(log, "reason=inactive") {
		t.Errorf("log:\n%s", log)
	}
}

// Last-used times are written on shutdown, here after SIGINT.
func TestServeWritesLastUsedOnShutdown(t *testing.T) {
	w := newKeyWorld(t)
	k := w.mustIssue("create", "--company", "Acme", "--create-company", "--name", "billing")
	s := w.serve("--addr", "127.0.0.1:0")
	if code, _, body := httpDo(t, "GET", s.base+"/v1/me", map[string]string{"X-Api-Key": k.Key}); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if code := s.stop(os.Interrupt); code != 0 {
		t.Fatalf("exit %d after SIGINT: %s", code, s.log())
	}
	var shown struct {
		LastUsedAt *time.Time `json:"last_used_at"`
	}
	if err := json.Unmarshal([]byte(w.mustRun("show", k.ID, "-o", "json")), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.LastUsedAt == nil || time.Since(*shown.LastUsedAt) > time.Hour {
		t.Errorf("last_used_at %v", shown.LastUsedAt)
	}
}

func TestServeSettings(t *testing.T) {
	w := newKeyWorld(t)
	k := w.mustIssue("create", "--company", "Acme", "--create-company", "--name", "billing")
	// Address and headers from the environment.
	w.env["APIKEY_SERVE_ADDR"] = "127.0.0.1:0"
	w.env["APIKEY_HEADERS_KEY"] = "X-Token"
	w.env["APIKEY_HEADERS_COMPANY"] = "X-Tenant"
	s := w.serve()
	if !strings.HasPrefix(s.base, "http://127.0.0.1:") {
		t.Fatalf("listening on %s", s.base)
	}
	if code, _, body := httpDo(t, "GET", s.base+"/v1/me", map[string]string{"X-Token": k.Key, "X-Tenant": k.Company.ID}); code != 200 {
		t.Errorf("configured headers: %d %s", code, body)
	}
	if code, _, _ := httpDo(t, "GET", s.base+"/v1/me", map[string]string{"X-Token": k.Key, "X-Tenant": "23aee342-eccd-4fed-8553-7eb6092cea70"}); code != 401 {
		t.Errorf("configured company header not checked: %d", code)
	}
	s.stop(syscall.SIGTERM)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"serve", "--addr", ln.Addr().String()}, 1, "apikey: cannot listen on " + ln.Addr().String() + ": address already in use\n"},
		{[]string{"serve", "--addr", "nonsense"}, 2, `apikey: invalid serve.addr "nonsense" (from --addr): use host:port, e.g. 127.0.0.1:8787` + "\n"},
		{[]string{"serve", "extra"}, 2, ""},
	} {
		code, out, errOut := w.run("", nil, tc.args...)
		if code != tc.code || out != "" || (tc.msg != "" && errOut != tc.msg) || !strings.HasPrefix(errOut, "apikey: ") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("apikey %s: exit %d, stdout %q, stderr %q", strings.Join(tc.args, " "), code, out, errOut)
		}
	}
}
