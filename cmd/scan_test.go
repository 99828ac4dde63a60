package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/prompt"
	"github.com/apikeyhq/apikey/internal/store"
)

// scanStore knows the secrets of some keys, and records what SetStatus is
// asked.
type scanStore struct {
	strictStore
	known   map[apikey.Hash]store.Presented
	lookups int
	refs    []string
	change  store.StatusChange
	actor   string
}

func (s *scanStore) LookupSecret(_ context.Context, h apikey.Hash) (store.Presented, bool, error) {
	s.lookups++
	p, ok := s.known[h]
	return p, ok, nil
}

func (s *scanStore) SetStatus(_ context.Context, refs []string, company string, change store.StatusChange, actor string, _ ...store.StatusOption) ([]store.StatusResult, error) {
	s.refs, s.change, s.actor = refs, change, actor
	var res []store.StatusResult
	for _, p := range s.known {
		if p.Key.ID == refs[0] {
			k := p.Key
			k.Status = apikey.StatusInactive
			res = append(res, store.StatusResult{Key: k, Changed: true})
		}
	}
	return res, nil
}

func mint(t *testing.T) string {
	t.Helper()
	s, err := apikey.NewSecret("ak")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// repo writes files into a new directory, makes it the working directory,
// and returns it.
func repo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	return dir
}

// scanJSON decodes scan's JSON output into path:line:column and key name
// ("?" for an unknown key), and the keys' status.
func scanJSON(t *testing.T, doc string) []string {
	t.Helper()
	var fs []struct {
		Path         string
		Line, Column int
		Hint         string
		Key          *struct{ Name, Status string }
		Disabled     bool
	}
	if err := json.Unmarshal([]byte(doc), &fs); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	out := []string{}
	for _, f := range fs {
		name := "?"
		if f.Key != nil {
			name = f.Key.Name + " " + f.Key.Status
		}
		if f.Disabled {
			name += " disabled"
		}
		out = append(out, fmt.Sprintf("%s:%d:%d %s", f.Path, f.Line, f.Column, name))
	}
	return out
}

func wantExit(t *testing.T, err error, code int) {
	t.Helper()
	var se silentError
	if !errors.As(err, &se) || se.code != code {
		t.Fatalf("got %v, want exit %d", err, code)
	}
}

func TestScanRun(t *testing.T) {
	ctx := context.Background()
	active, inactive, unknown := mint(t), mint(t), mint(t)
	shopOff := shop
	shopOff.Status = apikey.StatusInactive
	known := func() map[apikey.Hash]store.Presented {
		return map[apikey.Hash]store.Presented{
			apikey.HashSecret(active):   {Key: billing},
			apikey.HashSecret(inactive): {Key: shopOff},
		}
	}
	files := map[string]string{
		"README.md":      "nothing\n",
		"config/app.env": "KEY=" + active + "\n# again\nKEY=" + active + "\n",
		"notes.txt":      inactive + "\n" + unknown + "\n",
	}
	t.Run("nothing found: no store opened, exit 0", func(t *testing.T) {
		repo(t, map[string]string{"a.txt": "ak_" + strings.Repeat("x", 46) + "\n", "b.txt": active[:10] + "Q" + active[11:]})
		for _, format := range []string{"table", "json", "sarif"} {
			ios, _, out, errOut := iostreams.Test()
			err := scanRun(ctx, &ScanOptions{IO: ios, Store: opensNothing(t), Prompter: noPrompts(t), Now: fixedNow, Output: format})
			if err != nil {
				t.Fatal(err)
			}
			switch format {
			case "table":
				if out.Len() > 0 {
					t.Errorf("stdout %q", out)
				}
			case "json":
				if out.String() != "[]\n" {
					t.Errorf("stdout %q", out)
				}
			case "sarif":
				if !strings.Contains(out.String(), `"results": []`) {
					t.Errorf("stdout %s", out)
				}
			}
			if errOut.String() != "No secrets found in 2 files.\n" {
				t.Errorf("stderr %q", errOut)
			}
		}
	})
	t.Run("found and named, each secret looked up once", func(t *testing.T) {
		repo(t, files)
		ios, _, out, errOut := iostreams.Test()
		st := &scanStore{strictStore: strictStore{t}, known: known()}
		err := scanRun(ctx, &ScanOptions{IO: ios, Store: opens(st), Prompter: noPrompts(t), Now: fixedNow, Output: "json"})
		wantExit(t, err, ExitLeaked)
		want := []string{"config/app.env:1:5 billing active", "config/app.env:3:5 billing active", "notes.txt:1:1 shop inactive", "notes.txt:2:1 ?"}
		if got := scanJSON(t, out.String()); !reflect.DeepEqual(got, want) {
			t.Errorf("found %q, want %q", got, want)
		}
		if st.lookups != 3 {
			t.Errorf("%d lookups for 3 secrets", st.lookups)
		}
		if errOut.String() != "Found 3 secrets (4 times) in 2 of 3 files, 1 of no known key.\n" {
			t.Errorf("stderr %q", errOut)
		}
		for _, s := range []string{active, inactive, unknown} {
			if strings.Contains(out.String()+errOut.String(), s) {
				t.Fatal("a secret was printed")
			}
		}
	})
	t.Run("without a store, keys are unknown", func(t *testing.T) {
		repo(t, files)
		ios, _, out, errOut := iostreams.Test()
		noStore := func(context.Context) (Store, error) {
			return nil, &apikey.Error{Kind: apikey.KindRuntime, Msg: "database x.db does not exist", Hint: "check --db", Err: store.ErrNoStore}
		}
		err := scanRun(ctx, &ScanOptions{IO: ios, Store: noStore, Prompter: noPrompts(t), Now: fixedNow, Output: "table"})
		wantExit(t, err, ExitLeaked)
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 5 || !strings.HasPrefix(lines[0], "LOCATION ") || !strings.HasPrefix(lines[1], "config/app.env:1:5 ") || !strings.HasSuffix(lines[1], " unknown") {
			t.Errorf("stdout %q", out)
		}
		if !strings.HasPrefix(errOut.String(), "warning: database x.db does not exist: the keys of the secrets found are not known\n") {
			t.Errorf("stderr %q", errOut)
		}
		// Another failure of the store is one.
		ios, _, _, _ = iostreams.Test()
		broken := func(context.Context) (Store, error) { return nil, apikey.Runtimef("lost the connection") }
		err = scanRun(ctx, &ScanOptions{IO: ios, Store: broken, Prompter: noPrompts(t), Now: fixedNow, Output: "table"})
		if err == nil || err.Error() != "lost the connection" {
			t.Errorf("got %v", err)
		}
	})
	t.Run("--disable without --yes and without a terminal", func(t *testing.T) {
		repo(t, files)
		ios, _, out, _ := iostreams.Test()
		err := scanRun(ctx, &ScanOptions{IO: ios, Store: opensNothing(t), Prompter: noPrompts(t), Now: fixedNow, Disable: true, Output: "table"})
		wantUsage(t, err, "--yes required when not running interactively")
		if out.Len() > 0 {
			t.Errorf("stdout %q", out)
		}
	})
	t.Run("--disable refused at a terminal", func(t *testing.T) {
		repo(t, files)
		ios, _, out, errOut := iostreams.Test()
		ios.SetTTY(true, true, true)
		st := &scanStore{strictStore: strictStore{t}, known: known()}
		no := &answers{t: t}
		err := scanRun(ctx, &ScanOptions{IO: ios, Store: opens(st), Prompter: func() prompt.Prompter { return no }, Now: fixedNow,
			Actor: "alice", Disable: true, Output: "json"})
		wantUsage(t, err, "not confirmed: nothing was disabled")
		if !reflect.DeepEqual(no.asked, []string{"Are you sure?"}) {
			t.Errorf("asked %q", no.asked)
		}
		wantErr := "About to disable 1 key whose secrets were found:\n  billing  (Acme)  " + billing.ID + "  found in config/app.env:1:5\n"
		if !strings.HasPrefix(errOut.String(), wantErr) {
			t.Errorf("stderr %q, want %q", errOut, wantErr)
		}
		// The findings are printed all the same.
		if got := scanJSON(t, out.String()); len(got) != 4 || got[0] != "config/app.env:1:5 billing active" {
			t.Errorf("found %q", got)
		}
	})
	t.Run("--disable --yes switches off the active keys found", func(t *testing.T) {
		repo(t, files)
		ios, _, out, errOut := iostreams.Test()
		st := &scanStore{strictStore: strictStore{t}, known: known(), change: -1}
		err := scanRun(ctx, &ScanOptions{IO: ios, Store: opens(st), Prompter: noPrompts(t), Now: fixedNow,
			Actor: "alice", Disable: true, Yes: true, Output: "json"})
		wantExit(t, err, ExitLeaked)
		if !reflect.DeepEqual(st.refs, []string{billing.ID}) || st.change != store.Disable || st.actor != "alice" {
			t.Errorf("SetStatus got %q, change %v, by %q", st.refs, st.change, st.actor)
		}
		want := []string{"config/app.env:1:5 billing inactive disabled", "config/app.env:3:5 billing inactive disabled", "notes.txt:1:1 shop inactive", "notes.txt:2:1 ?"}
		if got := scanJSON(t, out.String()); !reflect.DeepEqual(got, want) {
			t.Errorf("found %q, want %q", got, want)
		}
		if !strings.HasPrefix(errOut.String(), "Disabled 1 key.\n") {
			t.Errorf("stderr %q", errOut)
		}
	})
	t.Run("--disable needs a store", func(t *testing.T) {
		repo(t, files)
		ios, _, _, _ := iostreams.Test()
		noStore := func(context.Context) (Store, error) {
			return nil, &apikey.Error{Kind: apikey.KindRuntime, Msg: "database x.db does not exist", Err: store.ErrNoStore}
		}
		err := scanRun(ctx, &ScanOptions{IO: ios, Store: noStore, Prompter: noPrompts(t), Now: fixedNow, Disable: true, Yes: true, Output: "table"})
		if !errors.Is(err, store.ErrNoStore) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("standard input", func(t *testing.T) {
		repo(t, files)
		ios, in, out, _ := iostreams.Test()
		in.WriteString("diff --git a/x b/x\n+KEY=" + unknown + "\r\n")
		st := &scanStore{strictStore: strictStore{t}, known: known()}
		err := scanRun(ctx, &ScanOptions{IO: ios, Store: opens(st), Prompter: noPrompts(t), Now: fixedNow, Paths: []string{"-"}, Output: "json"})
		wantExit(t, err, ExitLeaked)
		if got := scanJSON(t, out.String()); !reflect.DeepEqual(got, []string{"-:2:6 ?"}) {
			t.Errorf("found %q", got)
		}
	})
	t.Run("bad input stops before the scan", func(t *testing.T) {
		repo(t, files)
		ios, _, _, _ := iostreams.Test()
		opts := func(o string, paths ...string) *ScanOptions {
			return &ScanOptions{IO: ios, Store: opensNothing(t), Prompter: noPrompts(t), Now: fixedNow, Paths: paths, Output: o}
		}
		wantUsage(t, scanRun(ctx, opts("csv")), `invalid output format "csv"`)
		wantUsage(t, scanRun(ctx, opts("table", "notes.txt", "missing")), "cannot scan missing: no such file or directory")
		wantUsage(t, scanRun(ctx, opts("table", "-", "-")), "standard input (-) given twice")
	})
}

// TestScanOnSQLite disables a key found by scan on a real store, and
// reads in its history where the secret was found.
func TestScanOnSQLite(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	var secrets []string
	for _, name := range []string{"billing", "shop"} {
		id := fmt.Sprintf("3f2a0c1e-0000-4000-8000-00000000000%d", len(secrets)+1)
		s, m, err := apikey.MintSecret("acme", id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateKey(ctx, store.NewKey{ID: id, Company: "Acme", CreateCompany: true, Name: name, Status: apikey.StatusActive, Secret: m, Actor: "alice"}); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s)
	}
	repo(t, map[string]string{
		"deploy/values.yaml": "apiKey: " + secrets[0] + "\n",
		"logs/app.log":       "GET /v1/me key=" + secrets[1] + "\n" + "GET /v1/me key=" + secrets[0] + "\n",
	})
	ios, _, _, _ := iostreams.Test()
	err := scanRun(ctx, &ScanOptions{IO: ios, Store: opens(st), Prompter: noPrompts(t), Now: time.Now, Actor: "oncall",
		Paths: []string{"logs", "deploy"}, Disable: true, Yes: true, Output: "table"})
	wantExit(t, err, ExitLeaked)
	events, err := st.Events(ctx, store.EventFilter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]any{}
	for _, e := range events {
		if e.Action != apikey.ActionKeyDisable || e.Actor != "oncall" {
			t.Fatalf("event %+v", e)
		}
		got[e.Key.Name] = e.Details
	}
	want := map[string]map[string]any{
		"shop":    {"found_in": "logs/app.log:1", "findings": float64(1)},
		"billing": {"found_in": "logs/app.log:2", "findings": float64(2)},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("details %v, want %v", got, want)
	}
}
