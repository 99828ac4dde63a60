package output

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// findings are one of each kind: a working key, an inactive one, an old
// secret past its grace, one in its grace, a key this scan disabled, and
// an unknown secret, in paths a URI must escape.
func findings() []Finding {
	works := testKey()
	off := testKey()
	off.Status = apikey.StatusInactive
	ended, later := now.Add(-time.Hour), now.Add(time.Hour)
	fp := strings.Repeat("ab", 32)
	at := func(path string, line int) Finding {
		return Finding{Path: path, Line: line, Column: 9, Length: 49, Hint: "ak_3f9Q…d9x2", Fingerprint: fp}
	}
	fs := []Finding{at("config/app.env", 12), at("notes.txt", 1), at("old.txt", 2), at("grace.txt", 3), at("dir with space/é.env", 4), at("-", 5)}
	fs[0].Key = &works
	fs[1].Key = &off
	fs[2].Key, fs[2].SecretExpiresAt = &works, &ended
	fs[3].Key, fs[3].SecretExpiresAt = &works, &later
	fs[4].Key, fs[4].Disabled = &off, true
	return fs
}

func TestSARIF(t *testing.T) {
	p := &Printer{Format: SARIF, Now: now}
	var out bytes.Buffer
	if err := p.WriteSARIF(&out, findings(), "1.2.3"); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Schema  string `json:"$schema"`
		Version string
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name, Version string
					Rules         []struct{ ID string }
				}
			}
			ColumnKind string
			Results    []struct {
				RuleID    string
				RuleIndex int
				Level     string
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine, StartColumn, EndLine, EndColumn int }
					}
				}
				PartialFingerprints map[string]string
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || !strings.Contains(log.Schema, "sarif-2.1.0") || len(log.Runs) != 1 {
		t.Fatalf("log %+v", log)
	}
	run := log.Runs[0]
	if d := run.Tool.Driver; d.Name != "apikey" || d.Version != "1.2.3" || len(d.Rules) != 1 || d.Rules[0].ID != SARIFRuleID {
		t.Errorf("driver %+v", d)
	}
	if run.ColumnKind != "unicodeCodePoints" {
		t.Errorf("columnKind %q", run.ColumnKind)
	}
	wantLevels := []string{"error", "warning", "warning", "error", "warning", "error"}
	wantURIs := []string{"config/app.env", "notes.txt", "old.txt", "grace.txt", "dir%20with%20space/%C3%A9.env", "-"}
	if len(run.Results) != len(wantLevels) {
		t.Fatalf("%d results", len(run.Results))
	}
	for i, r := range run.Results {
		loc := r.Locations[0].PhysicalLocation
		if r.RuleID != SARIFRuleID || r.RuleIndex != 0 || r.Level != wantLevels[i] || loc.ArtifactLocation.URI != wantURIs[i] {
			t.Errorf("result %d: rule %q/%d, level %q, uri %q", i, r.RuleID, r.RuleIndex, r.Level, loc.ArtifactLocation.URI)
		}
		if reg := loc.Region; reg.StartLine != []int{12, 1, 2, 3, 4, 5}[i] || reg.StartColumn != 9 || reg.EndLine != reg.StartLine || reg.EndColumn != 58 {
			t.Errorf("result %d: region %+v", i, reg)
		}
		if r.PartialFingerprints[SARIFFingerprint] != strings.Repeat("ab", 32) {
			t.Errorf("result %d: fingerprints %v", i, r.PartialFingerprints)
		}
		if !strings.HasPrefix(r.Message.Text, "apikey secret ak_3f9Q…d9x2") {
			t.Errorf("result %d: message %q", i, r.Message.Text)
		}
	}
	for i, want := range []string{"the secret works", "the key is inactive", "no longer works", "the secret works", "switched off by this scan", "not known here"} {
		if !strings.Contains(run.Results[i].Message.Text, want) {
			t.Errorf("result %d: message %q lacks %q", i, run.Results[i].Message.Text, want)
		}
	}
	if strings.Contains(out.String(), secret) {
		t.Error("the secret was printed")
	}

	// Nothing found: an empty array, which closes the alerts of secrets
	// that were removed.
	out.Reset()
	if err := p.WriteSARIF(&out, nil, "dev"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"results": []`) {
		t.Errorf("empty log %s", out.String())
	}
}

func TestSARIFURI(t *testing.T) {
	for path, want := range map[string]string{
		"config/app.env": "config/app.env",
		"a b/c#d?.txt":   "a%20b/c%23d%3F.txt",
		"c:weird":        "./c:weird",
		"/srv/app/x.env": "file:///srv/app/x.env",
		"../up.txt":      "../up.txt",
	} {
		if got := sarifURI(path); got != want {
			t.Errorf("sarifURI(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestFindingsTable(t *testing.T) {
	p := &Printer{Format: Table, Now: now}
	var out bytes.Buffer
	if err := p.Findings(&out, findings()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{
		"LOCATION HINT KEY NAME COMPANY STATUS",
		"config/app.env:12:9 ak_3f9Q…d9x2 23aee342-eccd-4fed-8553-7eb6092cea70 PRUEBA 1 O'Brien \"Quoted\" Ltd active",
		"notes.txt:1:9 ak_3f9Q…d9x2 23aee342-eccd-4fed-8553-7eb6092cea70 PRUEBA 1 O'Brien \"Quoted\" Ltd inactive",
		"old.txt:2:9 ak_3f9Q…d9x2 23aee342-eccd-4fed-8553-7eb6092cea70 PRUEBA 1 O'Brien \"Quoted\" Ltd active, old secret ended",
		"grace.txt:3:9 ak_3f9Q…d9x2 23aee342-eccd-4fed-8553-7eb6092cea70 PRUEBA 1 O'Brien \"Quoted\" Ltd active, old secret until 2026-03-15T13:00:00Z",
		"dir with space/é.env:4:9 ak_3f9Q…d9x2 23aee342-eccd-4fed-8553-7eb6092cea70 PRUEBA 1 O'Brien \"Quoted\" Ltd inactive (disabled now)",
		"-:5:9 ak_3f9Q…d9x2 - - - unknown",
	}
	if len(lines) != len(want) {
		t.Fatalf("table:\n%s", out.String())
	}
	for i, l := range lines {
		if strings.Join(strings.Fields(l), " ") != strings.Join(strings.Fields(want[i]), " ") {
			t.Errorf("line %d: %q, want %q", i, l, want[i])
		}
	}
}
