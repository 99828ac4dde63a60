package portable

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
)

// The columns of a CSV of legacy keys: the first three are required.
var legacyColumns = []string{"company", "name", "secret", "status", "expires_at", "scopes", "ref"}

// LegacyReader reads keys of another system from CSV with a header row
// (company,name,secret and optionally status,expires_at,scopes,ref, in any
// order). Each secret is checked and hashed as it is read, and dropped: what
// Next returns holds its hash and hint only. No error quotes a secret.
type LegacyReader struct {
	r    *csv.Reader
	cols map[string]int
}

// NewLegacyReader reads the header row.
func NewLegacyReader(r io.Reader) (*LegacyReader, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, apikey.Usagef("the file is empty").WithHint("its first line is the header: company,name,secret")
	}
	if err != nil {
		return nil, csvError(err)
	}
	lr := &LegacyReader{r: cr, cols: map[string]int{}}
	for i, h := range head {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		known := false
		for _, c := range legacyColumns {
			known = known || c == name
		}
		if !known {
			return nil, apikey.Usagef("line 1: unknown column %q", h).WithHint("the columns are " + strings.Join(legacyColumns, ", "))
		}
		if _, dup := lr.cols[name]; dup {
			return nil, apikey.Usagef("line 1: column %q appears twice", name)
		}
		lr.cols[name] = i
	}
	for _, c := range legacyColumns[:3] {
		if _, ok := lr.cols[c]; !ok {
			return nil, apikey.Usagef("line 1: the header has no column %q", c).WithHint("the header is company,name,secret, then optionally status,expires_at,scopes,ref")
		}
	}
	cr.FieldsPerRecord = len(head)
	return lr, nil
}

// csvError says what encoding/csv found wrong, with its line.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			msg = "wrong number of fields"
		}
		return apikey.Usagef("line %d: %s", pe.StartLine, msg)
	}
	return apikey.Runtimef("cannot read the file: %v", err)
}

func (lr *LegacyReader) cell(rec []string, col string) string {
	if i, ok := lr.cols[col]; ok {
		return rec[i]
	}
	return ""
}

// Next returns the next key, and io.EOF after the last.
func (lr *LegacyReader) Next() (store.LegacyKey, error) {
	rec, err := lr.r.Read()
	if err == io.EOF {
		return store.LegacyKey{}, io.EOF
	}
	if err != nil {
		return store.LegacyKey{}, csvError(err)
	}
	line, _ := lr.r.FieldPos(0)
	k := store.LegacyKey{Line: line, Company: lr.cell(rec, "company"), Ref: lr.cell(rec, "ref"), Name: lr.cell(rec, "name"), Status: apikey.StatusActive}
	if err := apikey.ValidateLegacySecret(lr.cell(rec, "secret")); err != nil {
		return k, lineError(line, err)
	}
	k.Secret = apikey.LegacyMaterial(lr.cell(rec, "secret"))
	switch s := lr.cell(rec, "status"); s {
	case "":
	case string(apikey.StatusActive), string(apikey.StatusInactive):
		k.Status = apikey.Status(s)
	default:
		return k, apikey.Usagef("line %d: invalid status %q", line, s).WithHint("use active or inactive")
	}
	if s := lr.cell(rec, "expires_at"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			if t, err = time.Parse("2006-01-02", s); err != nil {
				return k, apikey.Usagef("line %d: invalid expires_at %q", line, s).WithHint("give a date (2027-01-31) or an RFC 3339 time")
			}
		}
		t = t.UTC()
		k.ExpiresAt = &t
	}
	k.Scopes = strings.Fields(lr.cell(rec, "scopes"))
	return k, nil
}

func lineError(line int, err error) error {
	var ae *apikey.Error
	if errors.As(err, &ae) {
		e := *ae
		e.Msg = fmt.Sprintf("line %d: %s", line, ae.Msg)
		return &e
	}
	return err
}
