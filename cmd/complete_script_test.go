package cmd_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apikeyhq/apikey/cmd"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestCompletionScripts runs testdata/complete/*.txtar: what a Tab press
// answers (`apikey __complete ...`, the protocol every shell script that
// `apikey completion SHELL` prints speaks) against a real database.
//
// apikey runs in-process through cmd.Run, with the script's environment and
// streams, so these scripts need no binary and no TestMain.
func TestCompletionScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "complete"),
		Setup: func(env *testscript.Env) error {
			// Keep the user's config and database out of reach.
			env.Setenv("HOME", filepath.Join(env.WorkDir, "home"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, "home", ".config"))
			env.Setenv("XDG_DATA_HOME", filepath.Join(env.WorkDir, "home", ".local", "share"))
			env.Setenv("APIKEY_DB", filepath.Join(env.WorkDir, "apikey.db"))
			env.Setenv("APIKEY_ACTOR", "tester")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"apikey": completeScriptApikey,
			"jsonid": completeScriptJSONID,
		},
	})
}

// completeScriptApikey runs apikey in-process with the script's environment;
// its standard output and error become the script's stdout and stderr.
func completeScriptApikey(ts *testscript.TestScript, neg bool, args []string) {
	ios, _, _, _ := iostreams.Test()
	ios.Out, ios.ErrOut = ts.Stdout(), ts.Stderr()
	env := func(k string) (string, bool) {
		v := ts.Getenv(k)
		return v, v != ""
	}
	code := cmd.Run(args, ios, env)
	switch {
	case neg && code == 0:
		ts.Fatalf("apikey %s: unexpected success", strings.Join(args, " "))
	case !neg && code != 0:
		ts.Fatalf("apikey %s: exit status %d", strings.Join(args, " "), code)
	}
}

// completeScriptJSONID sets VAR to the id in the last command's JSON output
// (an object, or an array of one), and VAR_PREFIX to its first 8
// characters: ids are random, and a script needs them to complete a prefix.
func completeScriptJSONID(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: jsonid VAR")
	}
	out := strings.TrimSpace(ts.ReadFile("stdout"))
	var one struct{ ID string }
	if strings.HasPrefix(out, "[") {
		var many []struct{ ID string }
		ts.Check(json.Unmarshal([]byte(out), &many))
		if len(many) != 1 {
			ts.Fatalf("jsonid: want one record, got %d", len(many))
		}
		one = many[0]
	} else {
		ts.Check(json.Unmarshal([]byte(out), &one))
	}
	if len(one.ID) < 8 {
		ts.Fatalf("jsonid: no id in %q", out)
	}
	ts.Setenv(args[0], one.ID)
	ts.Setenv(args[0]+"_PREFIX", one.ID[:8])
}
