package output

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
)

func (p *Printer) timeCSV(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

var companyCSV = []string{"id", "name", "ref", "keys", "created_at", "updated_at"}

func (p *Printer) companyRow(c apikey.Company) []string {
	return []string{c.ID, c.Name, c.Ref, strconv.Itoa(c.Keys), p.timeCSV(&c.CreatedAt), p.timeCSV(&c.UpdatedAt)}
}

// Companies prints a list of companies.
func (p *Printer) Companies(w io.Writer, cs []apikey.Company) error {
	switch p.Format {
	case JSON:
		a := newJSONArray(w)
		for _, c := range cs {
			if err := a.add(CompanyView(c)); err != nil {
				return err
			}
		}
		return a.close()
	case CSV:
		cw := NewCSVWriter(w)
		cw.Write(companyCSV)
		for _, c := range cs {
			cw.Write(p.companyRow(c))
		}
		cw.Flush()
		return cw.Error()
	}
	t := newTable(w, "ID", "NAME", "REF", "KEYS", "CREATED")
	for _, c := range cs {
		t.row(c.ID, c.Name, dash(c.Ref), strconv.Itoa(c.Keys), p.when(&c.CreatedAt))
	}
	return t.render()
}

// Company prints one company and its keys.
func (p *Printer) Company(w io.Writer, c apikey.Company, keys []apikey.Key) error {
	switch p.Format {
	case JSON:
		d := CompanyDetailJSON{CompanyJSON: CompanyView(c), KeyList: make([]KeyJSON, 0, len(keys))}
		for _, k := range keys {
			d.KeyList = append(d.KeyList, KeyView(k, p.Now))
		}
		return WriteJSON(w, d)
	case CSV:
		return p.Companies(w, []apikey.Company{c})
	}
	fields := [][2]string{
		{"ID", c.ID},
		{"Name", c.Name},
		{"Ref", dash(c.Ref)},
		{"Keys", strconv.Itoa(c.Keys)},
		{"Created", p.whenDetail(&c.CreatedAt)},
		{"Updated", p.whenDetail(&c.UpdatedAt)},
	}
	if err := writeFields(w, fields); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	kw := p.KeyWriter(w)
	for _, k := range keys {
		if err := kw.Write(k); err != nil {
			return err
		}
	}
	return kw.Close()
}

func writeFields(w io.Writer, fields [][2]string) error {
	width := 0
	for _, f := range fields {
		if len(f[0]) > width {
			width = len(f[0])
		}
	}
	var b strings.Builder
	for _, f := range fields {
		fmt.Fprintf(&b, "%-*s  %s\n", width+1, f[0]+":", f[1])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// KeyWriter prints keys one at a time, so that a long list streams. Close
// finishes the document.
type KeyWriter interface {
	Write(apikey.Key) error
	Close() error
}

// KeyWriter returns a writer of keys in the printer's format. JSON and CSV
// stream; a table is measured before it is drawn, so it holds its rows.
func (p *Printer) KeyWriter(w io.Writer) KeyWriter {
	switch p.Format {
	case JSON:
		return &jsonKeys{p: p, a: newJSONArray(w)}
	case CSV:
		cw := NewCSVWriter(w)
		cw.Write(keyCSV)
		return &csvKeys{p: p, w: cw}
	}
	return &tableKeys{p: p, s: newStreamTable(w, "ID", "NAME", "STATUS", "COMPANY", "HINT", "CREATED", "LAST USED")}
}

type jsonKeys struct {
	p    *Printer
	a    *jsonArray
	v    KeyJSON            // reused from key to key: a view of its own would escape to the heap on every key
	refs map[string]*string // one *string per company ref, shared by its keys
}

func (j *jsonKeys) Write(k apikey.Key) error {
	j.v = keyView(k, j.p.Now)
	if ref := k.Company.Ref; ref != "" {
		p, ok := j.refs[ref]
		if !ok {
			if j.refs == nil {
				j.refs = map[string]*string{}
			}
			s := ref // a variable of its own: &ref would move ref to the heap on every key
			p = &s
			j.refs[ref] = p
		}
		j.v.Company.Ref = p
	}
	return j.a.addKey(&j.v)
}

func (j *jsonKeys) Close() error { return j.a.close() }

var keyCSV = []string{"id", "name", "status", "company", "company_id", "company_ref", "hint", "scopes", "metadata", "created_at", "created_by", "updated_at", "expires_at", "last_used_at", "rate_limit", "allowed_ips", "legacy"}

type csvKeys struct {
	p *Printer
	w *CSVWriter
}

func (c *csvKeys) Write(k apikey.Key) error {
	return c.w.Write(c.p.keyRow(k))
}

func (p *Printer) keyRow(k apikey.Key) []string {
	meta, _ := json.Marshal(nonNilMap(k.Metadata))
	return []string{k.ID, k.Name, string(k.EffectiveStatus(p.Now)), k.Company.Name, k.Company.ID, k.Company.Ref, k.Hint,
		strings.Join(k.Scopes, " "), string(meta), p.timeCSV(&k.CreatedAt), k.CreatedBy, p.timeCSV(&k.UpdatedAt),
		p.timeCSV(k.ExpiresAt), p.timeCSV(k.LastUsedAt), k.RateLimit, strings.Join(k.AllowedIPs, " "), strconv.FormatBool(k.Legacy)}
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (c *csvKeys) Close() error {
	c.w.Flush()
	return c.w.Error()
}

type tableKeys struct {
	p *Printer
	s *streamTable
}

func (t *tableKeys) Write(k apikey.Key) error {
	return t.s.row(k.ID, k.Name, t.p.status(k.EffectiveStatus(t.p.Now)), k.Company.Name, k.Hint, t.p.when(&k.CreatedAt), t.p.when(k.LastUsedAt))
}

func (t *tableKeys) Close() error { return t.s.close() }

// Key prints one key with all its fields (show).
func (p *Printer) Key(w io.Writer, k apikey.Key) error {
	switch p.Format {
	case JSON:
		v := KeyView(k, p.Now)
		b, err := appendKeyJSON(nil, &v, "")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	case CSV:
		kw := p.KeyWriter(w)
		kw.Write(k)
		return kw.Close()
	}
	return writeFields(w, p.keyFields(k))
}

func (p *Printer) keyFields(k apikey.Key) [][2]string {
	company := k.Company.Name
	if k.Company.Ref != "" {
		company += " (" + k.Company.Ref + ")"
	}
	scopes := "-"
	if len(k.Scopes) > 0 {
		scopes = strings.Join(k.Scopes, ", ")
	}
	meta := "-"
	if len(k.Metadata) > 0 {
		names := make([]string, 0, len(k.Metadata))
		for n := range k.Metadata {
			names = append(names, n)
		}
		sort.Strings(names)
		for i, n := range names {
			names[i] = n + "=" + k.Metadata[n]
		}
		meta = strings.Join(names, ", ")
	}
	rows := [][2]string{
		{"ID", k.ID},
		{"Name", k.Name},
		{"Status", p.status(k.EffectiveStatus(p.Now))},
		{"Company", company},
		{"Company ID", k.Company.ID},
		{"Hint", k.Hint},
		{"Scopes", scopes},
		{"Metadata", meta},
		{"Created", p.whenDetail(&k.CreatedAt) + " by " + k.CreatedBy},
		{"Updated", p.whenDetail(&k.UpdatedAt)},
		{"Expires", p.whenDetail(k.ExpiresAt)},
		{"Last used", p.whenDetail(k.LastUsedAt)},
		{"Rate limit", orDash(k.RateLimit)},
		{"Allowed IPs", orDash(strings.Join(k.AllowedIPs, ", "))},
	}
	if k.Legacy {
		// Only when set: most keys are apikey's own.
		rows = append(rows, [2]string{"Legacy", "yes: imported from another system; rotate it to give it an apikey secret"})
	}
	return rows
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Events prints the audit trail.
func (p *Printer) Events(w io.Writer, es []apikey.Event) error {
	switch p.Format {
	case JSON:
		a := newJSONArray(w)
		for _, e := range es {
			if err := a.add(EventView(e)); err != nil {
				return err
			}
		}
		return a.close()
	case CSV:
		cw := NewCSVWriter(w)
		cw.Write([]string{"at", "actor", "db_role", "action", "company_id", "company_name", "key_id", "key_name", "details"})
		for _, e := range es {
			v := EventView(e)
			d, _ := json.Marshal(v.Details)
			var cid, cname, kid, kname string
			if v.Company != nil {
				cid, cname = v.Company.ID, v.Company.Name
			}
			if v.Key != nil {
				kid, kname = v.Key.ID, v.Key.Name
			}
			cw.Write([]string{p.timeCSV(&e.At), e.Actor, e.DBRole, e.Action, cid, cname, kid, kname, string(d)})
		}
		cw.Flush()
		return cw.Error()
	}
	t := newTable(w, "AT", "ACTOR", "ACTION", "COMPANY", "KEY", "DETAILS")
	for _, e := range es {
		company, key := "-", "-"
		if e.Company != nil {
			company = e.Company.Name
		}
		if e.Key != nil {
			key = e.Key.Name + " (" + shortID(e.Key.ID) + ")"
		}
		t.row(p.when(&e.At), e.Actor, e.Action, company, key, detailText(e.Details))
	}
	return t.render()
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// detailText renders details as k=v pairs in key order, on one line.
func detailText(d map[string]any) string {
	if len(d) == 0 {
		return "-"
	}
	names := make([]string, 0, len(d))
	for n := range d {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		var v string
		switch x := d[n].(type) {
		case string:
			v = x
		default:
			b, _ := json.Marshal(x)
			v = string(b)
		}
		parts = append(parts, n+"="+v)
	}
	return strings.Join(parts, " ")
}

// OneCompany prints a single company: an object in JSON, a one-row table or
// CSV otherwise.
func (p *Printer) OneCompany(w io.Writer, c apikey.Company) error {
	if p.Format == JSON {
		return WriteJSON(w, CompanyView(c))
	}
	return p.Companies(w, []apikey.Company{c})
}

// IssuedKey prints a key together with its secret (create, rotate, show
// --reveal) in JSON or CSV. The table form is the snippet, see Snippet.
func (p *Printer) IssuedKey(w io.Writer, k apikey.Key, s Snippet) error {
	if p.Format == CSV {
		cw := NewCSVWriter(w)
		cw.Write(append(append([]string{}, keyCSV...), "key"))
		cw.Write(append(p.keyRow(k), s.Secret))
		cw.Flush()
		return cw.Error()
	}
	return WriteJSON(w, IssuedKeyJSON{KeyJSON: KeyView(k, p.Now), Key: s.Secret, Headers: s.Headers()})
}
