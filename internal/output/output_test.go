package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apikeyhq/apikey/internal/apikey"
)

var (
	now     = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	cet     = time.FixedZone("CET", 3600)
	created = time.Date(2026, 3, 1, 9, 30, 15, 123456000, cet)
	secret  = "ak_3f9QmZ1cAbCdEfGhIjKlMnOpQrStUvWxYz01234567d9x2"
)

func testKey() apikey.Key {
	return apikey.Key{
		ID:        "23aee342-eccd-4fed-8553-7eb6092cea70",
		Company:   apikey.CompanyRef{ID: "8e1b9361-31c7-438b-b070-e02d6f805200", Name: `O'Brien "Quoted" Ltd`},
		Name:      "PRUEBA 1",
		Status:    apikey.StatusActive,
		Hint:      apikey.HintOf(secret),
		CreatedAt: created, CreatedBy: "tester", UpdatedAt: created,
	}
}

func TestTables(t *testing.T) {
	k := testKey()
	expires := now.Add(-time.Hour)
	k2 := testKey()
	k2.ID, k2.Name, k2.ExpiresAt, k2.Company.Name = "9c41aaaa-0000-4000-8000-000000000000", "a much longer key name", &expires, "Müller & Söhne 株式会社"
	var b bytes.Buffer
	p := &Printer{Format: Table, Now: now}
	kw := p.KeyWriter(&b)
	for _, key := range []apikey.Key{k, k2} {
		if err := kw.Write(key); err != nil {
			t.Fatal(err)
		}
	}
	if err := kw.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	if !regexp.MustCompile(`^ID {3,}NAME {3,}STATUS {3,}COMPANY {3,}HINT {3,}CREATED {3,}LAST USED$`).MatchString(lines[0]) {
		t.Errorf("header %q", lines[0])
	}
	if !regexp.MustCompile(`^23aee342-eccd-4fed-8553-7eb6092cea70 {3,}PRUEBA 1 {3,}active {3,}O'Brien "Quoted" Ltd {3,}ak_3f9Q…d9x2 {3,}2026-03-01T08:30:15Z {3,}never$`).MatchString(lines[1]) {
		t.Errorf("row %q", lines[1])
	}
	if !strings.Contains(lines[2], " expired ") {
		t.Errorf("an expired key is not shown as expired: %q", lines[2])
	}
	// Columns line up: NAME starts at the same offset on every line.
	col := strings.Index(lines[0], "NAME")
	if strings.Index(lines[1], "PRUEBA") != col || strings.Index(lines[2], "a much") != col {
		t.Errorf("columns do not line up:\n%s", b.String())
	}
	for _, l := range lines {
		if strings.HasSuffix(l, " ") {
			t.Errorf("trailing blank in %q", l)
		}
		if strings.ContainsAny(l, "|+─│┌└╭\x1b") {
			t.Errorf("border or colour in %q", l)
		}
	}

	// Other tables: companies, events, WriteTable.
	b.Reset()
	if err := p.Companies(&b, []apikey.Company{{ID: "c1", Name: "Acme", CreatedAt: created}}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "ID   NAME   REF   KEYS   CREATED\nc1   Acme   -     0      2026-03-01T08:30:15Z\n" {
		t.Errorf("companies table:\n%q", b.String())
	}
	b.Reset()
	if err := WriteTable(&b, []string{"KEY", "VALUE"}, [][]string{{"a", ""}, {"long key", "v"}}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "KEY        VALUE\na\nlong key   v\n" {
		t.Errorf("WriteTable:\n%q", b.String())
	}
}

func TestTimesAndColour(t *testing.T) {
	p := &Printer{Format: Table, TTY: true, Color: true, Now: now}
	for d, want := range map[time.Duration]string{
		10 * time.Second:     "just now",
		-10 * time.Second:    "in less than a minute",
		time.Minute:          "1 minute ago",
		5 * time.Minute:      "5 minutes ago",
		-3 * time.Hour:       "3 hours from now",
		24 * time.Hour:       "1 day ago",
		59 * 24 * time.Hour:  "59 days ago",
		400 * 24 * time.Hour: now.Add(-400 * 24 * time.Hour).Format("2006-01-02"),
	} {
		at := now.Add(-d)
		if got := p.when(&at); got != want {
			t.Errorf("%v ago: %q, want %q", d, got, want)
		}
	}
	if far := time.Date(2999, 1, 31, 0, 0, 0, 0, time.UTC); p.when(&far) != "2999-01-31" {
		t.Errorf("a time further than a Duration can hold: %q", p.when(&far))
	}
	if got := p.when(nil); got != "never" {
		t.Errorf("nil time: %q", got)
	}
	if got := p.status(apikey.StatusActive); got != "\x1b[32mactive\x1b[0m" {
		t.Errorf("coloured status %q", got)
	}
	p.Color = false
	if got := p.status(apikey.StatusExpired); got != "expired" {
		t.Errorf("status without colour %q", got)
	}
	p.TTY = false
	if got := p.when(&created); got != "2026-03-01T08:30:15Z" {
		t.Errorf("time for a script: %q", got)
	}
}

// TestDetailDates checks that show and company show, at a terminal, give
// the date itself with the relative time beside it: "14 days ago" alone
// does not say which day, while lists stay compact.
func TestDetailDates(t *testing.T) {
	p := &Printer{Format: Table, TTY: true, Now: now}
	k := testKey()
	used := now.Add(-90 * time.Second)
	farExpiry := time.Date(2999, 1, 31, 0, 0, 0, 0, time.UTC)
	soonExpiry := now.Add(72 * time.Hour)
	k.LastUsedAt, k.ExpiresAt = &used, &farExpiry
	var b bytes.Buffer
	if err := p.Key(&b, k); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`(?m)^Created: +2026-03-01T08:30:15Z \(14 days ago\) by tester$`,
		`(?m)^Updated: +2026-03-01T08:30:15Z \(14 days ago\)$`,
		`(?m)^Expires: +2999-01-31T00:00:00Z$`,
		`(?m)^Last used: +2026-03-15T11:58:30Z \(1 minute ago\)$`,
	} {
		if !regexp.MustCompile(want).MatchString(b.String()) {
			t.Errorf("show at a terminal lacks %q:\n%s", want, b.String())
		}
	}
	k.ExpiresAt = &soonExpiry
	b.Reset()
	p.Key(&b, k)
	if want := `(?m)^Expires: +2026-03-18T12:00:00Z \(3 days from now\)$`; !regexp.MustCompile(want).MatchString(b.String()) {
		t.Errorf("show at a terminal lacks %q:\n%s", want, b.String())
	}
	b.Reset()
	if err := p.Company(&b, apikey.Company{ID: "c1", Name: "Acme", CreatedAt: created, UpdatedAt: used}, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`(?m)^Created: +2026-03-01T08:30:15Z \(14 days ago\)$`, `(?m)^Updated: +2026-03-15T11:58:30Z \(1 minute ago\)$`} {
		if !regexp.MustCompile(want).MatchString(b.String()) {
			t.Errorf("company show at a terminal lacks %q:\n%s", want, b.String())
		}
	}
	// Lists keep the relative time alone.
	b.Reset()
	p.Companies(&b, []apikey.Company{{ID: "c1", Name: "Acme", CreatedAt: created}})
	if !strings.Contains(b.String(), "14 days ago") || strings.Contains(b.String(), "2026-") {
		t.Errorf("companies table at a terminal:\n%s", b.String())
	}
}

// TestJSONShapes decodes what is printed and checks the contract: field
// names, RFC 3339 UTC timestamps, null for unset, [] and {} for empty.
func TestJSONShapes(t *testing.T) {
	p := &Printer{Format: JSON, Now: now}
	var b bytes.Buffer
	if err := p.Key(&b, testKey()); err != nil {
		t.Fatal(err)
	}
	var k map[string]any
	if err := json.Unmarshal(b.Bytes(), &k); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": "23aee342-eccd-4fed-8553-7eb6092cea70", "name": "PRUEBA 1", "status": "active",
		"company": map[string]any{"id": "8e1b9361-31c7-438b-b070-e02d6f805200", "name": `O'Brien "Quoted" Ltd`, "ref": nil},
		"hint":    "ak_3f9Q…d9x2", "scopes": []any{}, "metadata": map[string]any{},
		"created_at": "2026-03-01T08:30:15Z", "created_by": "tester", "updated_at": "2026-03-01T08:30:15Z",
		"expires_at": nil, "last_used_at": nil, "rate_limit": nil, "allowed_ips": []any{}, "legacy": false,
	}
	if !reflect.DeepEqual(k, want) {
		t.Errorf("key JSON\n%v\nwant\n%v", k, want)
	}
	if strings.Contains(b.String(), `\u003c`) || strings.Contains(b.String(), `\u0026`) {
		t.Errorf("HTML escaping in JSON: %s", b.String())
	}

	expires := time.Date(2027, 1, 31, 1, 0, 0, 0, cet)
	key := testKey()
	key.ExpiresAt, key.LastUsedAt = &expires, &created
	key.Scopes, key.Metadata, key.Company.Ref = []string{"a"}, map[string]string{"k": "v"}, "R-1"
	v := KeyView(key, now)
	if v.ExpiresAt.Location() != time.UTC || v.ExpiresAt.Format(time.RFC3339) != "2027-01-31T00:00:00Z" || *v.Company.Ref != "R-1" {
		t.Errorf("KeyView %+v", v)
	}

	// Empty lists are [] in every list printer.
	for name, print := range map[string]func(*bytes.Buffer) error{
		"keys":      func(b *bytes.Buffer) error { return p.KeyWriter(b).Close() },
		"companies": func(b *bytes.Buffer) error { return p.Companies(b, nil) },
		"events":    func(b *bytes.Buffer) error { return p.Events(b, nil) },
	} {
		b.Reset()
		if err := print(&b); err != nil {
			t.Fatal(err)
		}
		if b.String() != "[]\n" {
			t.Errorf("empty %s: %q", name, b.String())
		}
	}

	// A streamed list is one valid document.
	b.Reset()
	kw := p.KeyWriter(&b)
	for range 3 {
		kw.Write(testKey())
	}
	kw.Close()
	var list []KeyJSON
	if err := json.Unmarshal(b.Bytes(), &list); err != nil || len(list) != 3 {
		t.Errorf("streamed list: %v, %d\n%s", err, len(list), b.String())
	}

	// A company, its detail, and an event.
	b.Reset()
	if err := p.Company(&b, apikey.Company{ID: "c1", Name: "Acme", CreatedAt: created, UpdatedAt: created}, nil); err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	json.Unmarshal(b.Bytes(), &c)
	if c["ref"] != nil || c["keys"] != float64(0) || !reflect.DeepEqual(c["key_list"], []any{}) || c["created_at"] != "2026-03-01T08:30:15Z" {
		t.Errorf("company JSON %v", c)
	}
	b.Reset()
	p.Events(&b, []apikey.Event{{At: created, Actor: "a", Action: "company.create", Company: &apikey.CompanyRef{ID: "c1", Name: "Acme"}}})
	var es []map[string]any
	json.Unmarshal(b.Bytes(), &es)
	if len(es) != 1 || es[0]["key"] != nil || !reflect.DeepEqual(es[0]["details"], map[string]any{}) || es[0]["at"] != "2026-03-01T08:30:15Z" {
		t.Errorf("event JSON %v", es)
	}
	if _, ok := es[0]["key"]; !ok {
		t.Error("event JSON lacks key (it must be null, not absent)")
	}

	// A key issued with its secret adds key and headers.
	b.Reset()
	sn := Snippet{KeyHeader: "X-Api-Key", CompanyHeader: "X-Company", Secret: secret, Key: testKey()}
	if err := p.IssuedKey(&b, testKey(), sn); err != nil {
		t.Fatal(err)
	}
	var issued map[string]any
	json.Unmarshal(b.Bytes(), &issued)
	if issued["key"] != secret || !reflect.DeepEqual(issued["headers"], map[string]any{"X-Api-Key": secret, "X-Company": testKey().Company.ID}) || issued["id"] == nil {
		t.Errorf("issued key JSON %v", issued)
	}
}

func TestCSV(t *testing.T) {
	p := &Printer{Format: CSV, Now: now}
	var b bytes.Buffer
	key := testKey()
	key.Scopes, key.Metadata = []string{"a", "b"}, map[string]string{"k": "v, \"w\""}
	kw := p.KeyWriter(&b)
	kw.Write(key)
	kw.Close()
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || strings.Join(rows[0], ",") != "id,name,status,company,company_id,company_ref,hint,scopes,metadata,created_at,created_by,updated_at,expires_at,last_used_at,rate_limit,allowed_ips,legacy" {
		t.Fatalf("rows %q", rows)
	}
	r := rows[1]
	if r[3] != `O'Brien "Quoted" Ltd` || r[7] != "a b" || r[8] != `{"k":"v, \"w\""}` || r[9] != "2026-03-01T08:30:15Z" || r[12] != "" {
		t.Errorf("row %q", r)
	}
	b.Reset()
	p.KeyWriter(&b).Close()
	if rows, _ := csv.NewReader(&b).ReadAll(); len(rows) != 1 {
		t.Errorf("an empty CSV list has %d rows, want the header", len(rows))
	}
}

// TestCSVFormulas checks OWASP's rule for CSV cells: one that starts with
// =, +, -, @, a tab or a carriage return gets a single quote in front;
// others are left as they are, and the result is valid CSV.
func TestCSVFormulas(t *testing.T) {
	cells := map[string]string{
		"=1+1": "'=1+1", "+1": "'+1", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx",
		"a=1": "a=1", "": "", "'=x": "'=x", "PRUEBA 1": "PRUEBA 1", "2026-03-01T08:30:15Z": "2026-03-01T08:30:15Z",
		`=HYPERLINK("http://x/?"&A1,"y")`: `'=HYPERLINK("http://x/?"&A1,"y")`,
	}
	var b bytes.Buffer
	w := NewCSVWriter(&b)
	var in, want []string
	for c, q := range cells {
		in, want = append(in, c), append(want, q)
	}
	w.Write(in)
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 1 || !reflect.DeepEqual(rows[0], want) {
		t.Errorf("CSV %q read back as %q, %v; want %q", in, rows, err, want)
	}
}

func TestSnippets(t *testing.T) {
	k := testKey()
	k.Company.Ref = "273-542-26244"
	sn := Snippet{KeyHeader: "X-Api-Key", CompanyHeader: "X-Company", Secret: secret, Key: k}
	render := func(f SnippetFormat, s Snippet) string {
		var b bytes.Buffer
		if err := s.Write(&b, f); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	title := `API key "PRUEBA 1" of O'Brien "Quoted" Ltd (273-542-26244)`
	for f, want := range map[SnippetFormat]string{
		"headers": "// " + title + "\nX-Api-Key: " + secret + "\nX-Company: " + k.Company.ID + "\n",
		"curl":    "# " + title + "\ncurl -H 'X-Api-Key: " + secret + "' \\\n     -H 'X-Company: " + k.Company.ID + "' \\\n     'https://api.example.com/'\n",
		"env":     "# " + title + "\nAPIKEY_KEY='" + secret + "'\nAPIKEY_COMPANY='" + k.Company.ID + "'\n",
		"http":    "GET / HTTP/1.1\r\nHost: api.example.com\r\nX-Api-Key: " + secret + "\r\nX-Company: " + k.Company.ID + "\r\n\r\n",
		"json":    "{\n  \"X-Api-Key\": \"" + secret + "\",\n  \"X-Company\": \"" + k.Company.ID + "\"\n}\n",
	} {
		if got := render(f, sn); got != want {
			t.Errorf("%s snippet:\n%s\nwant\n%s", f, got, want)
		}
	}
	sn.APIURL = "https://api.acme.test/v1/items?x=1"
	if got := render("http", sn); !strings.HasPrefix(got, "GET /v1/items?x=1 HTTP/1.1\r\nHost: api.acme.test\r\n") {
		t.Errorf("http snippet with api_url: %q", got)
	}
	for _, f := range SnippetFormats {
		if _, err := ParseSnippetFormat(f); err != nil {
			t.Errorf("ParseSnippetFormat(%q): %v", f, err)
		}
	}
	if _, err := ParseSnippetFormat("xml"); err == nil || apikey.KindOf(err) != apikey.KindUsage {
		t.Errorf("ParseSnippetFormat(xml): %v", err)
	}
	for _, f := range Formats {
		if _, err := ParseFormat(f); err != nil {
			t.Errorf("ParseFormat(%q): %v", f, err)
		}
	}
	if _, err := ParseFormat("yaml"); err == nil || apikey.KindOf(err) != apikey.KindUsage {
		t.Errorf("ParseFormat(yaml): %v", err)
	}
}

// TestShellQuoting runs the curl and env snippets through a real shell with
// values that would break naive quoting, and checks that each value comes
// back exactly, and that nothing else runs.
func TestShellQuoting(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	nasty := []string{`it's`, `'; touch pwned; '`, `$(touch pwned)`, "`touch pwned`", `"double" \back\`, `a'b'c`, `''`, `!`, `*`}
	for _, s := range nasty {
		out, err := exec.Command(sh, "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("shellQuote(%q) read back as %q, %v", s, out, err)
		}
	}
	dir := t.TempDir()
	k := testKey()
	k.Name, k.Company.Name = `it's $(touch pwned)`, "`touch pwned`; 'x'"
	// Validation keeps line breaks out of names, but the comment that names
	// the key must not depend on it: a line break would end the comment.
	broken := testKey()
	broken.Name, broken.Company.Name, broken.Company.Ref = "a\ntouch pwned\n", "b\rtouch pwned\u2028\u0085", "c\n\ttouch pwned"
	for _, tc := range []struct {
		k   apikey.Key
		url string
	}{{k, ""}, {k, "https://api.example.test/it's?$(touch pwned)"}, {broken, ""}} {
		k, url := tc.k, tc.url
		sn := Snippet{KeyHeader: "X-Api-Key", CompanyHeader: "X-Company", Secret: secret, Key: k, APIURL: url}
		var curl, env bytes.Buffer
		sn.Write(&curl, "curl")
		sn.Write(&env, "env")
		script := "curl() { for a in \"$@\"; do printf '%s\\n' \"$a\"; done; }\n" + curl.String() + env.String() +
			"printf '%s\\n' \"$APIKEY_KEY\" \"$APIKEY_COMPANY\"\n"
		c := exec.Command(sh, "-c", script)
		c.Dir = dir
		out, err := c.Output()
		if err != nil {
			t.Fatalf("snippet does not run: %v\n%s", err, script)
		}
		wantURL := url
		if wantURL == "" {
			wantURL = "https://api.example.com/"
		}
		want := strings.Join([]string{"-H", "X-Api-Key: " + secret, "-H", "X-Company: " + k.Company.ID, wantURL, secret, k.Company.ID}, "\n") + "\n"
		if string(out) != want {
			t.Errorf("snippets read back as\n%s\nwant\n%s", out, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a snippet ran a command: %s was created", entries[0].Name())
	}
}

// TestSnippetCommentIsOneLine checks that whatever a name holds, the comment
// that names the key stays one line, and shows what it hides.
func TestSnippetCommentIsOneLine(t *testing.T) {
	k := testKey()
	k.Name, k.Company.Name, k.Company.Ref = "a\nb", "c\r\nX-Evil: 1\u2028\u202e", "d\u0085e\x00\xff"
	sn := Snippet{KeyHeader: "X-Api-Key", CompanyHeader: "X-Company", Secret: secret, Key: k}
	for f, lines := range map[SnippetFormat]int{"headers": 3, "curl": 4, "env": 3} {
		var b bytes.Buffer
		if err := sn.Write(&b, f); err != nil {
			t.Fatal(err)
		}
		got := b.String()
		if n := strings.Count(got, "\n"); n != lines || strings.ContainsAny(got, "\r\u2028\u2029\u0085\u202e\x00") || !utf8.ValidString(got) {
			t.Errorf("%s snippet has %d lines, want %d, or a line break or control character:\n%q", f, n, lines, got)
		}
		comment, _, _ := strings.Cut(got, "\n")
		if want := `API key "a\nb" of c\r\nX-Evil: 1\u2028\u202e (d\u0085e\x00\xff)`; !strings.HasSuffix(comment, want) {
			t.Errorf("%s comment %q, want it to end in %q", f, comment, want)
		}
	}
}
