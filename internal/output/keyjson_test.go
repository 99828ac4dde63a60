package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
)

func keyJSONCases() []KeyJSON {
	ref := "273-542-26244"
	at := time.Date(2026, 3, 1, 12, 30, 45, 0, time.UTC)
	later := at.Add(90 * 24 * time.Hour)
	nanos := at.Add(123456789)
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	zoned := at.In(time.FixedZone("CET", 3600))
	base := func() KeyJSON {
		return KeyJSON{
			ID: "23aee342-eccd-4fed-8553-7eb6092cea70", Name: "PRUEBA 1", Status: apikey.StatusActive,
			Company: CompanyRefJSON{ID: "0b6f1c2e-2f0a-4a8e-9d5b-1c1e4f0a9b7d", Name: "PLAN PRUEBA II", Ref: &ref},
			Hint:    "ak_3f9Q…d9x2", Scopes: []string{"invoices:read", "invoices:write"},
			Metadata:  map[string]string{"team": "billing", "env": "production", "a": ""},
			CreatedAt: at, CreatedBy: "ana", UpdatedAt: at, ExpiresAt: &later, LastUsedAt: &at,
		}
	}
	with := func(f func(*KeyJSON)) KeyJSON { k := base(); f(&k); return k }
	return []KeyJSON{
		base(),
		{}, // nil slices and maps, null times, empty strings
		with(func(k *KeyJSON) { k.Scopes, k.Metadata = []string{}, map[string]string{} }),
		with(func(k *KeyJSON) { k.Scopes, k.Metadata = nil, nil }),
		with(func(k *KeyJSON) { k.Company.Ref, k.ExpiresAt, k.LastUsedAt = nil, nil, nil }),
		with(func(k *KeyJSON) { k.Name = "Ünïcödé 日本語 🔑 café" }),
		with(func(k *KeyJSON) { k.Name = `say "hi" \ back\slash` }),
		with(func(k *KeyJSON) { k.Name, k.Company.Name = "<script>&amp;</script>", "A&B <Corp>" }),
		with(func(k *KeyJSON) { k.Name = "tab\tnew\nline\rcr\bbs\fff\x00nul\x1fus\x7fdel" }),
		with(func(k *KeyJSON) { k.Name = "line\u2028para\u2029end" }),
		with(func(k *KeyJSON) { k.Name = "bad \xff utf8 \xc3" }),
		with(func(k *KeyJSON) { k.Scopes = []string{"a\"b", "<x>", "ü"} }),
		with(func(k *KeyJSON) {
			k.Metadata = map[string]string{"k\"ey": "v\\al", "<": "&", "ü": "日本", "z": "\n"}
		}),
		with(func(k *KeyJSON) { k.CreatedBy = "ana\u200dbob" }),
		with(func(k *KeyJSON) { k.Company.Name = `back\slash` }),
		with(func(k *KeyJSON) { k.Hint = "quote\"" }),
		with(func(k *KeyJSON) { k.Metadata = map[string]string{"us": "\x1f"} }),
		with(func(k *KeyJSON) { k.Scopes = []string{"nul\x00"} }),
		with(func(k *KeyJSON) { r := "del\x7f"; k.Company.Ref = &r }),
		with(func(k *KeyJSON) { k.Name = "\u2029" }),
		with(func(k *KeyJSON) { k.Name = "\xe2\x80" }),
		with(func(k *KeyJSON) { k.Status = apikey.StatusExpired }),
		with(func(k *KeyJSON) { k.CreatedAt, k.UpdatedAt = nanos, nanos }),
		with(func(k *KeyJSON) { k.LastUsedAt = &zoned }),
		with(func(k *KeyJSON) { k.ExpiresAt = &far }),
		with(func(k *KeyJSON) {
			rate := "100/m"
			k.RateLimit, k.AllowedIPs, k.Legacy = &rate, []string{"203.0.113.7/32", "2001:db8::/32"}, true
		}),
		with(func(k *KeyJSON) { k.AllowedIPs = []string{} }),
		with(func(k *KeyJSON) { r := "1\"/s"; k.RateLimit, k.AllowedIPs = &r, []string{"x\ny"} }),
	}
}

func encodingJSON(v any, prefix string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func TestAppendKeyJSONMatchesEncodingJSON(t *testing.T) {
	for i, k := range keyJSONCases() {
		for _, prefix := range []string{"", "  "} {
			want, werr := encodingJSON(k, prefix)
			got, gerr := appendKeyJSON([]byte("x"), &k, prefix)
			if (werr != nil) != (gerr != nil) {
				t.Errorf("case %d, prefix %q: error %v, encoding/json's %v", i, prefix, gerr, werr)
				continue
			}
			if werr == nil && !bytes.Equal(got, append([]byte("x"), want...)) {
				t.Errorf("case %d, prefix %q:\n%s\nencoding/json:\nx%s", i, prefix, got, want)
			}
		}
	}
}

// TestKeyDocumentsMatchEncodingJSON checks whole documents: `list -o json`
// and `show -o json` against what encoding/json writes for the same views.
func TestKeyDocumentsMatchEncodingJSON(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	p := &Printer{Format: JSON, Now: now}
	exp := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var keys []apikey.Key
	for i := range 6 {
		k := apikey.Key{ID: fmt.Sprintf("id-%d", i), Name: fmt.Sprintf("key <%d> \"q\"", i), Status: apikey.StatusActive,
			Company: apikey.CompanyRef{ID: "c", Name: "Acme & Co"}, Hint: "ak_…", CreatedAt: now.Add(-time.Hour + 500*time.Millisecond), UpdatedAt: now}
		if i%2 == 1 {
			// Refs ref-1, ref-3, ref-1: the list shares one per company ref.
			k.Scopes, k.Metadata, k.ExpiresAt, k.Company.Ref = []string{"s"}, map[string]string{"b": "2", "a": "1"}, &exp, fmt.Sprintf("ref-%d", i%4)
		}
		keys = append(keys, k)
	}
	for n := range len(keys) + 1 {
		var got bytes.Buffer
		w := p.KeyWriter(&got)
		for _, k := range keys[:n] {
			if err := w.Write(k); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		a := newJSONArray(&want)
		for _, k := range keys[:n] {
			if err := a.add(KeyView(k, now)); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.close(); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("list of %d keys:\n%s\nencoding/json:\n%s", n, got.String(), want.String())
		}
	}
	for _, k := range keys {
		var got, want bytes.Buffer
		if err := p.Key(&got, k); err != nil {
			t.Fatal(err)
		}
		if err := WriteJSON(&want, KeyView(k, now)); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("show:\n%s\nencoding/json:\n%s", got.String(), want.String())
		}
	}
}
