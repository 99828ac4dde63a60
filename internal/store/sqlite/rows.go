package sqlite

import (
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// lastUsedAt is the column of a key's last use, which lives in key_uses
// (migration 0007), NULL for a key never used; every query that reads it
// joins usesJoin after keys k. One lookup per key, in the order keys are
// read in, which is key_uses' own. A join costs less than the same lookup
// as a subquery in the columns: 287 against 338 ms for the 100,000 keys of
// a busy store with sqlite3 -json, 538 against 564 ms for apikey list -o
// json (hyperfine, 10 runs each).
const lastUsedAt = `u.last_used_at`

const usesJoin = ` LEFT JOIN key_uses u ON u.created_at = k.created_at AND u.key_id = k.id `

// keyColumns are the columns of a key read with its company (keyFrom).
const keyColumns = `k.id, k.name, k.status, k.hint, k.scopes, k.metadata, k.created_at, k.created_by, k.updated_at, k.expires_at, ` + lastUsedAt + `,
	c.id, c.name, c.ref, k.sealed, k.rate_limit, k.allowed_ips, k.legacy`

const keyFrom = ` FROM keys k JOIN companies c ON c.id = k.company_id` + usesJoin

// listColumns are the columns of a key without its company, which EachKey
// looks up once per company rather than reading it again on every row.
var listColumns = strings.Join(listColumnNames, ", ")

var listColumnNames = []string{"k.id", "k.name", "k.status", "k.hint", "k.scopes", "k.metadata", "k.created_at", "k.created_by", "k.updated_at", "k.expires_at", lastUsedAt,
	"k.company_id", "k.sealed", "k.rate_limit", "k.allowed_ips", "k.legacy"}

// keyRow is what a row of keyColumns or listColumns is scanned into. Reused
// from row to row, it spares a list the allocation of every destination on
// every row.
type keyRow struct {
	k                                                apikey.Key
	status, scopes, meta, created, updated, cid, ips string
	expires, lastUsed, ref, rate                     sql.NullString
	dest                                             []any
}

// newKeyRow returns a keyRow for keyColumns (withCompany) or listColumns.
func newKeyRow(withCompany bool) *keyRow {
	r := &keyRow{}
	r.dest = []any{&r.k.ID, &r.k.Name, &r.status, &r.k.Hint, &r.scopes, &r.meta, &r.created, &r.k.CreatedBy, &r.updated, &r.expires, &r.lastUsed}
	if withCompany {
		r.dest = append(r.dest, &r.k.Company.ID, &r.k.Company.Name, &r.ref)
	} else {
		r.dest = append(r.dest, &r.cid)
	}
	r.dest = append(r.dest, &r.k.Sealed, &r.rate, &r.ips, &r.k.Legacy)
	return r
}

// scan reads one row. Scan sets every destination, so nothing of the
// previous row remains.
func (r *keyRow) scan(sc interface{ Scan(...any) error }) (apikey.Key, error) {
	if err := sc.Scan(r.dest...); err != nil {
		return apikey.Key{}, err
	}
	return r.key(), nil
}

// key makes the key of the row read last.
func (r *keyRow) key() apikey.Key {
	k := r.k
	k.Status = apikey.Status(r.status)
	k.Company.Ref = r.ref.String
	k.CreatedAt, k.UpdatedAt = parseTime(r.created), parseTime(r.updated)
	k.ExpiresAt, k.LastUsedAt = parseTimePtr(r.expires), parseTimePtr(r.lastUsed)
	k.Scopes, k.Metadata = parseList(r.scopes), parseMap(r.meta)
	k.RateLimit, k.AllowedIPs = r.rate.String, parseList(r.ips)
	return k
}

// scanKey reads one row of keyColumns.
func scanKey(sc interface{ Scan(...any) error }) (apikey.Key, error) {
	return newKeyRow(true).scan(sc)
}

// parseList reads the scopes column, as jsonList wrote it: [] when empty or
// unreadable. Lists of plain strings, nearly all of them, are read without
// encoding/json, which would cost more than the rest of reading a key.
func parseList(s string) []string {
	if s == "[]" {
		return []string{}
	}
	// Counting the quotes sizes the list in one allocation.
	if l, ok := plainStrings(s, '[', ']', nil, make([]string, 0, strings.Count(s, `"`)/2)); ok {
		return l
	}
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil || l == nil {
		return []string{}
	}
	return l
}

// parseMap reads the metadata column as parseList reads scopes.
func parseMap(s string) map[string]string {
	if s == "{}" {
		return map[string]string{}
	}
	var buf [16]string // names and values of up to 8 entries, without an allocation
	if l, ok := plainStrings(s, '{', '}', []byte{':', ','}, buf[:0]); ok && len(l)%2 == 0 {
		m := make(map[string]string, len(l)/2)
		for i := 0; i < len(l); i += 2 {
			m[l[i]] = l[i+1]
		}
		return m
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
		return map[string]string{}
	}
	return m
}

// plainStrings appends to out the strings of open "a" sep "b" sep ...
// close, where the separators alternate through seps (',' alone when seps
// is nil), as encoding/json writes it without spaces. It reports false for anything else, a backslash
// in a string among it, so that the caller falls back to encoding/json:
// without escapes, the bytes between the quotes are the string.
func plainStrings(s string, open, close byte, seps []byte, out []string) ([]string, bool) {
	if len(s) < 2 || s[0] != open || s[len(s)-1] != close {
		return nil, false
	}
	if seps == nil {
		seps = []byte{','}
	}
	i, end := 1, len(s)-1
	for {
		if i >= end || s[i] != '"' {
			return nil, false
		}
		j := i + 1
		for j < end && s[j] != '"' && s[j] != '\\' {
			j++
		}
		if j >= end || s[j] != '"' {
			return nil, false
		}
		out = append(out, s[i+1:j])
		i = j + 1
		if i == end {
			return out, true
		}
		if s[i] != seps[(len(out)-1)%len(seps)] {
			return nil, false
		}
		i++
	}
}

func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

func jsonMap(m map[string]string) string {
	if m == nil {
		m = map[string]string{}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Timestamps are stored as fixed-width UTC text, so that they sort as strings
// and read the same in any SQL engine.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func fmtTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

// parseTime reads a timestamp of timeLayout. Reading a key reads two to four
// of them, so the layout that fmtTime writes is read by hand; anything else,
// and days past the 28th whose range depends on the month, goes through
// time.Parse.
func parseTime(s string) time.Time {
	if len(s) == len(timeLayout) && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == '.' && s[26] == 'Z' {
		year, ok1 := digits(s[0:4])
		month, ok2 := digits(s[5:7])
		day, ok3 := digits(s[8:10])
		hour, ok4 := digits(s[11:13])
		minute, ok5 := digits(s[14:16])
		sec, ok6 := digits(s[17:19])
		micro, ok7 := digits(s[20:26])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && month >= 1 && month <= 12 && day >= 1 && day <= 28 && hour < 24 && minute < 60 && sec < 60 {
			return time.Date(year, time.Month(month), day, hour, minute, sec, micro*1000, time.UTC)
		}
	}
	t, _ := time.Parse(timeLayout, s)
	return t
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func parseTimePtr(s sql.NullString) *time.Time {
	if !s.Valid {
		return nil
	}
	t := parseTime(s.String)
	return &t
}
