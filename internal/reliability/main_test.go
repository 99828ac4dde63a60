package reliability

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/apikeyhq/apikey/cmd"
	"github.com/apikeyhq/apikey/internal/pgtest"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/apikeyhq/apikey/internal/testproc"
)

// execEnv makes the test binary behave as the apikey binary, so that tests
// start real apikey processes without building one.
const execEnv = "APIKEY_RELIABILITY_EXEC"

func TestMain(m *testing.M) {
	if os.Getenv(execEnv) == "1" {
		os.Exit(cmd.Main())
	}
	testproc.NoRaceExitSleep() // apikeyCmd's processes inherit it
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// long reports whether the long runs were asked for.
func long() bool { return os.Getenv("APIKEY_LONG") == "1" }

// rounds picks the number of rounds for a short or a long run, letting
// APIKEY_ROUNDS override it.
func rounds(short, longRun int) int {
	if n, err := strconv.Atoi(os.Getenv("APIKEY_ROUNDS")); err == nil && n > 0 {
		return n
	}
	if long() {
		return longRun
	}
	return short
}

// apikeyCmd returns an apikey process on the database db.
func apikeyCmd(ctx context.Context, db string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, os.Args[0], args...)
	c.Env = append(os.Environ(), execEnv+"=1", "APIKEY_DB="+db, "APIKEY_ACTOR=reliability", "APIKEY_NO_INPUT=1", "NO_COLOR=1")
	return c
}

// run runs apikey to completion and returns its exit code and output.
func run(t testing.TB, db string, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	c := apikeyCmd(context.Background(), db, args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if stdin != nil {
		c.Stdin = bytes.NewReader(stdin)
	}
	err := c.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	}
	if err != nil {
		t.Fatalf("apikey %v: %v", args, err)
	}
	return 0, out.String(), errb.String()
}

func openStore(t testing.TB, db string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatalf("open %s: %v", db, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
