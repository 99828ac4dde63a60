package portable

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
)

var (
	t0      = time.Date(2026, 3, 15, 12, 0, 0, 123456000, time.UTC)
	company = apikey.Company{ID: "11111111-1111-4111-8111-111111111111", Name: "Acme", Ref: "273-542-26244", CreatedAt: t0, UpdatedAt: t0}
	expires = t0.Add(time.Hour)
	key     = store.KeyRecord{
		Key: apikey.Key{
			ID: "22222222-2222-4222-8222-222222222222", Company: apikey.CompanyRef{ID: company.ID}, Name: "ci", Status: apikey.StatusActive,
			Hint: "ak_AAAA…BBBB", Scopes: []string{"read"}, Metadata: map[string]string{"env": "prod"}, CreatedAt: t0, CreatedBy: "alice",
			UpdatedAt: t0, ExpiresAt: &expires, LastUsedAt: &t0, RateLimit: "100/m", AllowedIPs: []string{"10.0.0.0/8"}, Legacy: true,
		},
		Secrets: []store.Secret{
			{Hash: apikey.HashSecret("old"), CreatedAt: t0, ExpiresAt: &expires, Legacy: true},
			{Hash: apikey.HashSecret("new"), CreatedAt: t0, Sealed: []byte{1, 2, 3}},
		},
	}
	event = apikey.Event{Seq: 7, At: t0, Actor: "alice", DBRole: "apikey_admin", Action: "key.update",
		Company: &apikey.CompanyRef{ID: company.ID, Name: "Acme"}, Key: &apikey.KeyRef{ID: key.Key.ID, Name: "ci"},
		Details: map[string]any{"big": json.Number("12345678901234567890"), "name": map[string]any{"from": "a", "to": "ci"}}}
)

func write(t *testing.T, companies []string) string {
	t.Helper()
	var b bytes.Buffer
	w := NewWriter(&b, Header{ExportedAt: t0, Source: "sqlite", Apikey: "dev"})
	if err := w.Begin(companies); err != nil {
		t.Fatal(err)
	}
	if err := w.Company(company); err != nil {
		t.Fatal(err)
	}
	if err := w.Key(key); err != nil {
		t.Fatal(err)
	}
	if err := w.Event(event); err != nil {
		t.Fatal(err)
	}
	end, err := w.Close()
	if err != nil || end != (End{Type: TypeEnd, Companies: 1, Keys: 1, Events: 1}) {
		t.Fatalf("close: %+v %v", end, err)
	}
	return b.String()
}

// TestRoundTrip: what a Writer writes, a Reader reads back, field by field.
func TestRoundTrip(t *testing.T) {
	file := write(t, []string{company.ID})
	if lines := strings.Count(file, "\n"); lines != 5 {
		t.Fatalf("%d lines:\n%s", lines, file)
	}
	rd, err := NewReader(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	h := rd.Header()
	if h.Format != Format || h.Version != Version || !h.ExportedAt.Equal(t0) || h.Source != "sqlite" || !reflect.DeepEqual(h.Companies, []string{company.ID}) {
		t.Errorf("header %+v", h)
	}
	var got []store.ImportRecord
	for {
		r, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 3 || got[0].Line != 2 || got[1].Line != 3 || got[2].Line != 4 {
		t.Fatalf("records %+v", got)
	}
	if !reflect.DeepEqual(*got[0].Company, company) {
		t.Errorf("company %+v", *got[0].Company)
	}
	if !reflect.DeepEqual(*got[1].Key, key) {
		t.Errorf("key\n got %+v\nwant %+v", *got[1].Key, key)
	}
	if !reflect.DeepEqual(*got[2].Event, event) {
		t.Errorf("event\n got %+v\nwant %+v", *got[2].Event, event)
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Errorf("after the end: %v", err)
	}
	// The whole store's header says null.
	if !strings.HasSuffix(strings.SplitN(write(t, nil), "\n", 2)[0], `"companies":null}`) {
		t.Error("companies of the whole store are not null")
	}
}

// TestMalformed: each fault names its line, as a usage error, and the
// secret-like values of the file are never quoted.
func TestMalformed(t *testing.T) {
	good := strings.Split(strings.TrimSuffix(write(t, nil), "\n"), "\n")
	header, comp, k, ev, end := good[0], good[1], good[2], good[3], good[4]
	join := func(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
	for _, tc := range []struct {
		name, file, want string
	}{
		{"empty", "", "the file is empty"},
		{"not an export", "company,name,secret\n", "line 1: not an apikey export"},
		{"newer", strings.Replace(header, `"version":1`, `"version":2`, 1) + "\n", "line 1: the file is of format version 2"},
		{"cut short", join(header, comp), "the file ends at line 2 without its end record"},
		{"broken JSON", join(header, comp[:40], k, ev, end), "line 2: not valid JSON"},
		{"unknown field", join(header, strings.Replace(comp, `"name"`, `"nom":1,"name"`, 1), k, ev, end), `line 2: unknown field "nom"`},
		{"wrong type", join(header, strings.Replace(comp, `"name":"Acme"`, `"name":3`, 1), k, ev, end), `line 2: field "name" has the wrong type`},
		{"bad time", join(header, strings.Replace(comp, `"created_at":"2026`, `"created_at":"yesterday`, 1), k, ev, end), "line 2: "},
		{"no type", join(header, `{"id":"x"}`, end), "line 2: the record has no type"},
		{"unknown type", join(header, `{"type":"user"}`, end), `line 2: unknown record type "user"`},
		{"second header", join(header, header, end), "line 2: a second header"},
		{"order", join(header, k, comp, ev, end), "line 3: a company after the keys"},
		{"two values", join(header, comp+" {}", k, ev, end), "line 2: more than one JSON value"},
		{"bad hash", join(header, comp, strings.Replace(k, `"hash":"`, `"hash":"!!`, 1), ev, end), "line 3: secret 1 of key 2222"},
		{"bad count", join(header, comp, k, ev, `{"type":"end","companies":1,"keys":2,"events":1}`), "line 5: the end record counts 1 companies, 2 keys"},
		{"after the end", join(header, comp, k, ev, end, comp), "line 6: a record after the end record"},
		{"long line", join(header, comp, `{"type":"key","name":"`+strings.Repeat("x", MaxLine)+`"}`), "line 3: the line is longer than"},
	} {
		rd, err := NewReader(strings.NewReader(tc.file))
		for err == nil {
			_, err = rd.Next()
		}
		if err == io.EOF || !strings.Contains(err.Error(), tc.want) || apikey.KindOf(err) != apikey.KindUsage {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// Blank lines are no records.
	rd, err := NewReader(strings.NewReader(join(header, "", comp, "  ", k, ev, end, "")))
	for err == nil {
		_, err = rd.Next()
	}
	if err != io.EOF {
		t.Errorf("blank lines: %v", err)
	}
}

func readLegacy(t *testing.T, file string) ([]store.LegacyKey, error) {
	t.Helper()
	lr, err := NewLegacyReader(strings.NewReader(file))
	if err != nil {
		return nil, err
	}
	var out []store.LegacyKey
	for {
		k, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, k)
	}
}

// TestLegacyCSV: columns in any order (a spreadsheet's byte order mark
// aside), the optional ones defaulted, and each secret hashed and checked,
// never quoted in an error.
func TestLegacyCSV(t *testing.T) {
	keys, err := readLegacy(t, "\ufeffSecret,Company,name,scopes,expires_at,status,ref\n"+
		"sk_live_0123456789abcdef,Acme,ci,read write,2027-01-31,inactive,A-1\n"+
		"\"quoted,secret-0000000\",Initech,batch,,2027-01-31T10:00:00+02:00,,\n")
	if err != nil {
		t.Fatal(err)
	}
	exp1, exp2 := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 31, 8, 0, 0, 0, time.UTC)
	want := []store.LegacyKey{
		{Line: 2, Company: "Acme", Ref: "A-1", Name: "ci", Status: apikey.StatusInactive, ExpiresAt: &exp1, Scopes: []string{"read", "write"}, Secret: apikey.LegacyMaterial("sk_live_0123456789abcdef")},
		{Line: 3, Company: "Initech", Name: "batch", Status: apikey.StatusActive, ExpiresAt: &exp2, Scopes: []string{}, Secret: apikey.LegacyMaterial("quoted,secret-0000000")},
	}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("got  %+v\nwant %+v", keys, want)
	}
	if !keys[0].Secret.Legacy || keys[0].Secret.Hint != "sk_…def" || keys[0].Secret.Sealed != nil {
		t.Errorf("material %+v", keys[0].Secret)
	}
	for _, tc := range []struct{ name, file, want string }{
		{"empty", "", "the file is empty"},
		{"unknown column", "company,name,secret,owner\n", `line 1: unknown column "owner"`},
		{"twice", "company,name,secret,name\n", `line 1: column "name" appears twice`},
		{"missing", "company,secret\n", `line 1: the header has no column "name"`},
		{"fields", "company,name,secret\nAcme,k\n", "line 2: wrong number of fields"},
		{"short", "company,name,secret\nAcme,k,tooshort\n", "line 2: the secret is too short (8 characters)"},
		{"long", "company,name,secret\nAcme,k," + strings.Repeat("s", 257) + "\n", "line 2: the secret is too long (257 characters)"},
		{"space", "company,name,secret\nAcme,k,has a space 0000000\n", "line 2: the secret holds a space"},
		{"not ASCII", "company,name,secret\nAcme,k,ünïcödé-0000000000\n", "line 2: the secret holds a space or a character that is not printable ASCII"},
		{"status", "company,name,secret,status\nAcme,k,0123456789abcdef,expired\n", `line 2: invalid status "expired"`},
		{"expiry", "company,name,secret,expires_at\nAcme,k,0123456789abcdef,soon\n", `line 2: invalid expires_at "soon"`},
		{"quotes", "company,name,secret\nAcme,k,\"0123456789abcdef\n", "line 2: "},
	} {
		_, err := readLegacy(t, tc.file)
		if err == nil || !strings.Contains(err.Error(), tc.want) || apikey.KindOf(err) != apikey.KindUsage {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "tooshort") || strings.Contains(err.Error(), "has a space")) {
			t.Errorf("%s: the error quotes the secret: %v", tc.name, err)
		}
	}
}

// TestReadAhead: records come in order, an error ends them and is given
// again, and stop lets the reader go.
func TestReadAhead(t *testing.T) {
	i := 0
	next := func() (int, error) {
		if i++; i > 5 {
			return 0, errors.New("boom")
		}
		return i, nil
	}
	read, stop := ReadAhead(next, 2)
	defer stop()
	for want := 1; want <= 5; want++ {
		if got, err := read(); got != want || err != nil {
			t.Fatalf("read %d, %v; want %d", got, err, want)
		}
	}
	for range 2 {
		if _, err := read(); err == nil || err.Error() != "boom" {
			t.Fatalf("after the end: %v", err)
		}
	}
	// A reader stopped early does not keep reading.
	n := 0
	endless := func() (int, error) { n++; return n, nil }
	read, stop = ReadAhead(endless, 1)
	read()
	stop()
	stop()
}
