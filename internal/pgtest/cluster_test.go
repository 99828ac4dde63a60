//go:build linux

package pgtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// helperEnv makes the test binary a test process that starts a throwaway
// cluster and waits to be killed.
const helperEnv = "PGTEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "cluster" {
		helperCluster()
		return
	}
	code := m.Run()
	Stop()
	os.Exit(code)
}

func helperCluster() {
	c, err := startCluster()
	if err != nil {
		fmt.Println("error:", strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(1)
	}
	fmt.Println(c.dir, c.proc.Pid)
	_, _ = io.Copy(io.Discard, os.Stdin) // until killed
	c.stop()
}

// uidOf returns the real user id of process pid.
func uidOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			uid, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return uid
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return -1
}

// TestThrowawayClusters starts two clusters at once, as two test binaries
// of `go test ./...` may, and checks each: a Unix socket of its own and no
// TCP port, an unprivileged server even when the tests run as root, schemas
// that work, and nothing left after stop.
func TestThrowawayClusters(t *testing.T) {
	var (
		wg   sync.WaitGroup
		cs   [2]*cluster
		errs [2]error
	)
	for i := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs[i], errs[i] = startCluster()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if errors.Is(err, errNoBinaries) {
			t.Skipf("%v; install PostgreSQL's server to test the throwaway cluster", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cs[i].stop)
	}
	if cs[0].dir == cs[1].dir {
		t.Fatalf("both clusters in %s", cs[0].dir)
	}

	ctx := context.Background()
	for _, c := range cs {
		t.Logf("cluster in %s, binaries from %s, URL %s", c.dir, c.bin, c.url)
		if got := query[string](t, c.url, "SHOW listen_addresses"); got != "" {
			t.Errorf("listen_addresses = %q, want none (Unix socket only)", got)
		}
		if got := query[string](t, c.url, "SHOW unix_socket_directories"); got != c.dir {
			t.Errorf("unix_socket_directories = %q, want %q", got, c.dir)
		}
		if got := query[string](t, c.url, "SHOW fsync"); got != "off" {
			t.Errorf("fsync = %q", got)
		}
		if got := query[string](t, c.url, "SELECT current_user"); got != "postgres" {
			t.Errorf("connected as %q, want postgres", got)
		}
		if os.Geteuid() == 0 {
			if uid := uidOf(t, c.proc.Pid); uid == 0 {
				t.Errorf("postmaster runs as root")
			}
		}

		s := &server{url: c.url, cluster: c}
		url, drop, err := s.schema(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := Exec(ctx, url, "CREATE TABLE keys (id int); INSERT INTO keys VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		name := query[string](t, url, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'keys'")
		if !strings.HasPrefix(name, SchemaPrefix) {
			t.Errorf("table in schema %q", name)
		}
		if err := drop(); err != nil {
			t.Fatal(err)
		}
		if n := query[int64](t, c.url, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", name); n != 0 {
			t.Errorf("schema %s left after drop", name)
		}
	}

	for _, c := range cs {
		pid := c.proc.Pid
		c.stop()
		if alive(pid) {
			t.Errorf("postmaster %d still running after stop", pid)
		}
		if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
			t.Errorf("%s left after stop (%v)", c.dir, err)
		}
	}
}

// TestKilledRunLeavesNoServer kills a test process that started a cluster,
// as a timeout or ^C would: the postmaster must die with it, and the next
// start removes the directory.
func TestKilledRunLeavesNoServer(t *testing.T) {
	if _, err := findBinaries(); err != nil {
		t.Skipf("%v; install PostgreSQL's server to test the throwaway cluster", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=cluster")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper: %v", err)
	}
	var dir string
	var pid int
	if _, err := fmt.Sscan(line, &dir, &pid); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper said %q", line)
	}
	if !alive(pid) {
		t.Fatalf("postmaster %d not running before the kill", pid)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	withTimeout(t, 20*time.Second, fmt.Sprintf("postmaster %d to exit after its test process was killed", pid), func() bool { return !alive(pid) })

	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("cluster directory of the killed run: %v", err)
	}
	removeStale(filepath.Dir(dir))
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s of a killed run not removed (%v)", dir, err)
	}
}

func TestRemoveStale(t *testing.T) {
	base := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{ // name: owner.pid content, "-" for none
		"live":    strconv.Itoa(os.Getpid()),
		"dead":    strconv.Itoa(dead.Process.Pid),
		"garbled": "x",
		"fresh":   "-",
		"old":     "-",
	}
	for name, owner := range dirs {
		dir := filepath.Join(base, dirPrefix+name)
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		if owner != "-" {
			if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(base, dirPrefix+"old"), old, old); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(base, "not-ours")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}

	removeStale(base)
	var left []string
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		left = append(left, strings.TrimPrefix(e.Name(), dirPrefix))
	}
	sort.Strings(left)
	if got, want := strings.Join(left, " "), "fresh live not-ours"; got != want {
		t.Errorf("left %q, want %q", got, want)
	}
}

func TestFindBinariesOrder(t *testing.T) {
	versions := []string{"9.6", "15", "17", "10", "16.1"}
	sort.Slice(versions, func(i, j int) bool { return versionAbove(versions[i], versions[j]) })
	if got, want := strings.Join(versions, " "), "17 16.1 15 10 9.6"; got != want {
		t.Errorf("order %q, want %q", got, want)
	}
	if dir, err := findBinaries(); err == nil {
		t.Logf("initdb and postgres from %s", dir)
	}
}

func TestURIEscape(t *testing.T) {
	if got, want := uriEscape("/tmp/a b+c&d=e%"), "/tmp/a%20b%2Bc%26d%3De%25"; got != want {
		t.Errorf("uriEscape = %q, want %q", got, want)
	}
}

// withTimeout fails the test if f has not returned within d.
func withTimeout(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
