package testproc

import (
	"os"
	"testing"
)

func TestNoRaceExitSleep(t *testing.T) {
	for _, c := range []struct{ before, after string }{
		{"", "atexit_sleep_ms=0"},
		{"halt_on_error=1", "halt_on_error=1 atexit_sleep_ms=0"},
		{"atexit_sleep_ms=50", "atexit_sleep_ms=50"}, // the caller's choice
	} {
		t.Setenv("GORACE", c.before)
		NoRaceExitSleep()
		if got := os.Getenv("GORACE"); got != c.after {
			t.Errorf("GORACE %q became %q, want %q", c.before, got, c.after)
		}
	}
}
