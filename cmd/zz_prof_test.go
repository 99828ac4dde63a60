package cmd_test

import (
	"os"
	"testing"
)

func TestProfImport(t *testing.T) {
	file := os.Getenv("PROF_FILE")
	if file == "" {
		t.Skip()
	}
	w := newKeyWorld(t)
	for _, db := range []string{w.dir + "/x.db"} {
		code, _, stderr := w.run("", nil, "--db", db, "import", file)
		t.Log(code, stderr)
		code, _, stderr = w.run("", nil, "--db", db, "import", file)
		t.Log(code, stderr)
	}
}
