package docgen

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/cmd"
	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/config"
	"github.com/apikeyhq/apikey/internal/output"
	"github.com/apikeyhq/apikey/internal/store"
)

// TestJSONDocMatchesOutput checks every example of docs/json.md against the
// view structs that apikey really prints: the same fields, nested the same
// way, of the same JSON types. A field added to a view without its
// documentation, or documented but gone, fails here.
func TestJSONDocMatchesOutput(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "json.md"))
	if err != nil {
		t.Fatal(err)
	}
	examples := map[string]string{}
	for _, m := range regexp.MustCompile("(?s)<!-- shape: ([a-z-]+) -->\n```json\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		examples[m[1]] = m[2]
	}
	for name, want := range realShapes(t) {
		doc, ok := examples[name]
		if !ok {
			t.Errorf("docs/json.md has no example for %q (a `<!-- shape: %s -->` before a json block)", name, name)
			continue
		}
		var got any
		if err := json.Unmarshal([]byte(doc), &got); err != nil {
			t.Errorf("example %q does not parse: %v", name, err)
			continue
		}
		var real any
		if err := json.Unmarshal(want, &real); err != nil {
			t.Fatal(err)
		}
		for _, d := range compareShape(name, real, got) {
			t.Errorf("docs/json.md, example %q: %s", name, d)
		}
		delete(examples, name)
	}
	for name := range examples {
		t.Errorf("docs/json.md has an example %q that no test knows", name)
	}
}

// realShapes marshals each document the way the commands do, filled so that
// no optional field is null: a null would hide the type of the value.
func realShapes(t *testing.T) map[string][]byte {
	now := time.Date(2026, 11, 23, 9, 15, 34, 0, time.UTC)
	later := now.Add(time.Hour)
	co := apikey.Company{ID: "fab989c1-122f-46c3-8d39-b929a970bd07", Name: "PLAN PRUEBA II", Ref: "273-542-26244", Keys: 1, CreatedAt: now, UpdatedAt: now}
	k := apikey.Key{
		ID: "a82c069b-3624-4d7e-9603-be2ec737950a", Name: "PRUEBA 1", Status: apikey.StatusActive,
		Company: apikey.CompanyRef{ID: co.ID, Name: co.Name, Ref: co.Ref}, Hint: "ak_C9Qu…tDnW",
		Scopes: []string{"invoices:read"}, Metadata: map[string]string{"env": "prod"},
		CreatedAt: now, CreatedBy: "alice", UpdatedAt: now, ExpiresAt: &later, LastUsedAt: &now,
	}
	kv := output.KeyView(k, now)
	sn := output.Snippet{KeyHeader: "X-Api-Key", CompanyHeader: "X-Company", Secret: "ak_secret", Key: k}
	ev := output.EventView(apikey.Event{
		At: now, Actor: "alice", Action: apikey.ActionKeyRotate,
		Company: &apikey.CompanyRef{ID: co.ID, Name: co.Name}, Key: &apikey.KeyRef{ID: k.ID, Name: k.Name},
		Details: map[string]any{"hint": "ak_LC4J…Xorp"},
	})
	cfg, err := config.Load("", func(string) (string, bool) { return "", false }, nil)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]any{
		"company":        output.CompanyView(co),
		"company-detail": output.CompanyDetailJSON{CompanyJSON: output.CompanyView(co), KeyList: []output.KeyJSON{kv}},
		"key":            kv,
		"issued-key":     output.IssuedKeyJSON{KeyJSON: kv, Key: sn.Secret, Headers: sn.Headers()},
		"event":          ev,
		"verify-valid":   output.VerifyJSON{Valid: true, Key: &kv},
		"verify-invalid": output.VerifyJSON{Valid: false, Reason: string(apikey.ReasonInactive)},
		"config":         cfg.Values(),
		"finding": []output.FindingJSON{output.FindingView(output.Finding{
			Path: "config/app.env", Line: 12, Column: 9, Length: 49, Hint: k.Hint, Fingerprint: "5b0c",
			Key: &k, SecretExpiresAt: &later, Disabled: true,
		}, now)},
		"snippet": sn.Headers(),
		"import-report": cmd.ImportReportView(store.ImportReport{
			Companies: store.ImportCounts{New: 1, Unchanged: 1, Skipped: 1}, Keys: store.ImportCounts{New: 2}, Events: store.ImportCounts{New: 3},
			Conflicts:     []store.ImportConflict{{Line: 2, Record: "company", ID: co.ID, Name: "ACME", Reason: `company "ACME" already exists (with another id)`}},
			ConflictCount: 1,
		}),
	}
	out := map[string][]byte{}
	for name, v := range docs {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

// freeForm are objects whose members are data, not fields: they are not
// compared member by member.
var freeForm = map[string]bool{"metadata": true, "details": true}

func compareShape(path string, real, doc any) []string {
	if doc == nil || real == nil {
		// null is documented as "X or null"; the real value was filled in.
		return nil
	}
	if jsonType(real) != jsonType(doc) {
		return []string{fmt.Sprintf("%s is %s in the example but %s in the output", path, jsonType(doc), jsonType(real))}
	}
	switch r := real.(type) {
	case map[string]any:
		d := doc.(map[string]any)
		var diffs []string
		for _, k := range sortedKeys(r) {
			if _, ok := d[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s is printed but missing from the example", path, k))
				continue
			}
			if !freeForm[k] {
				diffs = append(diffs, compareShape(path+"."+k, r[k], d[k])...)
			}
		}
		for _, k := range sortedKeys(d) {
			if _, ok := r[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s is in the example but not printed", path, k))
			}
		}
		return diffs
	case []any:
		d := doc.([]any)
		if len(r) == 0 || len(d) == 0 {
			return nil
		}
		return compareShape(path+"[]", r[0], d[0])
	}
	return nil
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
