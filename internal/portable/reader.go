package portable

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
)

// Reader reads an export, record by record, checking each line's form and
// the order of the records; the store checks their values. Every error names
// the line, and is a usage error: the file is at fault.
type Reader struct {
	sc     *bufio.Scanner
	line   int
	header Header
	stage  int // the type of the last record: its index in order
	seen   End
	done   bool
}

// order is the order of the record types in a file.
var order = []string{TypeHeader, TypeCompany, TypeKey, TypeEvent, TypeEnd}

// NewReader reads the header of an export from r.
func NewReader(r io.Reader) (*Reader, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	rd := &Reader{sc: sc}
	line, err := rd.next()
	if err == io.EOF {
		return nil, apikey.Usagef("the file is empty").WithHint("give a file that `apikey export` wrote")
	}
	if err != nil {
		return nil, err
	}
	var probe struct {
		Type    string `json:"type"`
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if json.Unmarshal(line, &probe) != nil || probe.Type != TypeHeader || probe.Format != Format {
		return nil, rd.errorf("not an apikey export: the first line is not its header").WithHint("give a file that `apikey export` wrote; legacy keys in CSV are read with --plaintext")
	}
	if probe.Version > Version || probe.Version < 1 {
		return nil, rd.errorf("the file is of format version %d; this apikey reads version %d", probe.Version, Version).WithHint("upgrade apikey")
	}
	if err := rd.decode(line, &rd.header); err != nil {
		return nil, err
	}
	return rd, nil
}

// Header is the file's header.
func (rd *Reader) Header() Header { return rd.header }

// Line is the number of the line read last.
func (rd *Reader) Line() int { return rd.line }

func (rd *Reader) errorf(format string, args ...any) *apikey.Error {
	return apikey.Usagef("line %d: %s", rd.line, fmt.Sprintf(format, args...))
}

// next returns the next line that is not blank.
func (rd *Reader) next() ([]byte, error) {
	for rd.sc.Scan() {
		rd.line++
		if line := bytes.TrimSpace(rd.sc.Bytes()); len(line) > 0 {
			return line, nil
		}
	}
	if err := rd.sc.Err(); err != nil {
		rd.line++
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, rd.errorf("the line is longer than %d bytes", MaxLine)
		}
		return nil, apikey.Runtimef("cannot read the file: %v", err)
	}
	return nil, io.EOF
}

// decode reads one JSON object of exactly the fields of v.
func (rd *Reader) decode(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return rd.errorf("%s", jsonProblem(err))
	}
	if dec.More() {
		return rd.errorf("more than one JSON value on the line")
	}
	return nil
}

// jsonProblem says what encoding/json found wrong, without Go's type names.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "not valid JSON (the line ends in the middle of a value)"
	case errors.As(err, &syn):
		return fmt.Sprintf("not valid JSON (at byte %d: %s)", syn.Offset, strings.TrimPrefix(syn.Error(), "invalid character "))
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("field %q has the wrong type (a JSON %s)", typ.Field, typ.Value)
	case errors.As(err, &typ):
		return fmt.Sprintf("a JSON %s where an object was expected", typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case strings.Contains(err.Error(), "parsing time"):
		return "a time is not in RFC 3339 form"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// Next returns the next record, and io.EOF after the end record. A file
// that stops before its end record is refused: it was cut short.
func (rd *Reader) Next() (store.ImportRecord, error) {
	if rd.done {
		return store.ImportRecord{}, io.EOF
	}
	line, err := rd.next()
	if err == io.EOF {
		return store.ImportRecord{}, apikey.Usagef("the file ends at line %d without its end record", rd.line).WithHint("it was cut short; export again")
	}
	if err != nil {
		return store.ImportRecord{}, err
	}
	var probe struct {
		Type string `json:"type"`
	}
	if t, ok := leadingType(line); ok {
		// As export writes every record: the type first. Spares a
		// second decoding of the line, a third of reading it.
		probe.Type = t
	} else if err := json.Unmarshal(line, &probe); err != nil {
		return store.ImportRecord{}, rd.errorf("%s", jsonProblem(err))
	}
	stage := -1
	for i, t := range order {
		if t == probe.Type {
			stage = i
		}
	}
	switch {
	case probe.Type == "":
		return store.ImportRecord{}, rd.errorf("the record has no type")
	case stage < 0:
		return store.ImportRecord{}, rd.errorf("unknown record type %q", probe.Type)
	case stage == 0:
		return store.ImportRecord{}, rd.errorf("a second header")
	case stage < rd.stage:
		return store.ImportRecord{}, rd.errorf("a %s after the %ss: records are in the order companies, keys, events", probe.Type, order[rd.stage])
	}
	rd.stage = stage
	rec := store.ImportRecord{Line: rd.line}
	switch probe.Type {
	case TypeCompany:
		var c companyRecord
		if err := rd.decode(line, &c); err != nil {
			return rec, err
		}
		rd.seen.Companies++
		rec.Company = &apikey.Company{ID: c.ID, Name: c.Name, Ref: deref(c.Ref), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	case TypeKey:
		var k keyRecord
		if err := rd.decode(line, &k); err != nil {
			return rec, err
		}
		rd.seen.Keys++
		if rec.Key, err = rd.key(k); err != nil {
			return rec, err
		}
	case TypeEvent:
		var e eventRecord
		if err := rd.decode(line, &e); err != nil {
			return rec, err
		}
		rd.seen.Events++
		rec.Event = &apikey.Event{Seq: e.Seq, At: e.At, Actor: e.Actor, DBRole: deref(e.DBRole), Action: e.Action, Details: e.Details}
		if e.Company != nil {
			rec.Event.Company = &apikey.CompanyRef{ID: e.Company.ID, Name: e.Company.Name}
		}
		if e.Key != nil {
			rec.Event.Key = &apikey.KeyRef{ID: e.Key.ID, Name: e.Key.Name}
		}
	case TypeEnd:
		var end End
		if err := rd.decode(line, &end); err != nil {
			return rec, err
		}
		want := rd.seen
		want.Type = TypeEnd
		if end != want {
			return rec, rd.errorf("the end record counts %d companies, %d keys and %d events; the file holds %d, %d and %d",
				end.Companies, end.Keys, end.Events, want.Companies, want.Keys, want.Events)
		}
		if extra, err := rd.next(); err == nil && extra != nil {
			return rec, rd.errorf("a record after the end record")
		} else if err != nil && err != io.EOF {
			return rec, err
		}
		rd.done = true
		return rec, io.EOF
	}
	return rec, nil
}

// leadingType reads the type of a record that starts {"type":"T", with T
// plain letters. The full decoding of the line checks the rest, and that
// the type is given once.
func leadingType(line []byte) (string, bool) {
	const start = `{"type":"`
	if !bytes.HasPrefix(line, []byte(start)) {
		return "", false
	}
	rest := line[len(start):]
	for i, c := range rest {
		switch {
		case c == '"' && i > 0:
			return string(rest[:i]), true
		case c < 'a' || c > 'z':
			return "", false
		}
	}
	return "", false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (rd *Reader) key(k keyRecord) (*store.KeyRecord, error) {
	r := &store.KeyRecord{Key: apikey.Key{
		ID: k.ID, Company: apikey.CompanyRef{ID: k.CompanyID}, Name: k.Name, Status: apikey.Status(k.Status), Hint: k.Hint,
		Scopes: k.Scopes, Metadata: k.Metadata, CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy, UpdatedAt: k.UpdatedAt,
		ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RateLimit: deref(k.RateLimit), AllowedIPs: k.AllowedIPs, Legacy: k.Legacy,
	}}
	for i, s := range k.Secrets {
		h, err := base64.StdEncoding.DecodeString(s.Hash)
		if err != nil || len(h) != len(apikey.Hash{}) {
			return nil, rd.errorf("secret %d of key %s: the hash is not 32 bytes of base64", i+1, k.ID)
		}
		sec := store.Secret{CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, Legacy: s.Legacy}
		copy(sec.Hash[:], h)
		if s.Sealed != nil {
			if sec.Sealed, err = base64.StdEncoding.DecodeString(*s.Sealed); err != nil || len(sec.Sealed) == 0 {
				return nil, rd.errorf("secret %d of key %s: the sealed copy is not base64", i+1, k.ID)
			}
		}
		r.Secrets = append(r.Secrets, sec)
	}
	return r, nil
}
