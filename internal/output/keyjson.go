package output

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendKeyJSON appends v as encoding/json, with SetEscapeHTML(false) and
// SetIndent(prefix, "  "), would encode it (less the encoder's final
// newline), byte for byte. `list -o json` encodes every key of the store, and
// reflection and re-indenting cost more than reading the key. What the hand
// path does not write itself (a string that needs escapes, a time that is
// not UTC or whose year is outside 0-9999) it leaves to encoding/json, so
// the output never differs; TestAppendKeyJSONMatchesEncodingJSON holds it
// to that.
func appendKeyJSON(dst []byte, v *KeyJSON, prefix string) ([]byte, error) {
	if !plainKey(v) {
		return appendEncoded(dst, v, prefix)
	}
	nl := func(depth int) {
		dst = append(dst, '\n')
		dst = append(dst, prefix...)
		for range depth {
			dst = append(dst, "  "...)
		}
	}
	field := func(depth int, name string) {
		nl(depth)
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, `": `...)
	}
	str := func(s string) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		dst = append(dst, '"')
	}
	optStr := func(s *string) {
		if s == nil {
			dst = append(dst, "null"...)
		} else {
			str(*s)
		}
	}
	when := func(t *time.Time) {
		if t == nil {
			dst = append(dst, "null"...)
			return
		}
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}

	dst = append(dst, '{')
	field(1, "id")
	str(v.ID)
	dst = append(dst, ',')
	field(1, "name")
	str(v.Name)
	dst = append(dst, ',')
	field(1, "status")
	str(string(v.Status))
	dst = append(dst, ',')
	field(1, "company")
	dst = append(dst, '{')
	field(2, "id")
	str(v.Company.ID)
	dst = append(dst, ',')
	field(2, "name")
	str(v.Company.Name)
	dst = append(dst, ',')
	field(2, "ref")
	optStr(v.Company.Ref)
	nl(1)
	dst = append(dst, "},"...)
	field(1, "hint")
	str(v.Hint)
	dst = append(dst, ',')
	list := func(l []string) {
		switch {
		case l == nil:
			dst = append(dst, "null"...)
		case len(l) == 0:
			dst = append(dst, "[]"...)
		default:
			dst = append(dst, '[')
			for i, s := range l {
				if i > 0 {
					dst = append(dst, ',')
				}
				nl(2)
				str(s)
			}
			nl(1)
			dst = append(dst, ']')
		}
	}
	field(1, "scopes")
	list(v.Scopes)
	dst = append(dst, ',')
	field(1, "metadata")
	switch {
	case v.Metadata == nil:
		dst = append(dst, "null"...)
	case len(v.Metadata) == 0:
		dst = append(dst, "{}"...)
	default:
		dst = append(dst, '{')
		var buf [8]string // the names of a few entries, without an allocation
		for i, name := range sortedKeys(v.Metadata, buf[:0]) {
			if i > 0 {
				dst = append(dst, ',')
			}
			field(2, name)
			str(v.Metadata[name])
		}
		nl(1)
		dst = append(dst, '}')
	}
	dst = append(dst, ',')
	field(1, "created_at")
	when(&v.CreatedAt)
	dst = append(dst, ',')
	field(1, "created_by")
	str(v.CreatedBy)
	dst = append(dst, ',')
	field(1, "updated_at")
	when(&v.UpdatedAt)
	dst = append(dst, ',')
	field(1, "expires_at")
	when(v.ExpiresAt)
	dst = append(dst, ',')
	field(1, "last_used_at")
	when(v.LastUsedAt)
	dst = append(dst, ',')
	field(1, "rate_limit")
	optStr(v.RateLimit)
	dst = append(dst, ',')
	field(1, "allowed_ips")
	list(v.AllowedIPs)
	dst = append(dst, ',')
	field(1, "legacy")
	dst = strconv.AppendBool(dst, v.Legacy)
	nl(0)
	dst = append(dst, '}')
	return dst, nil
}

// plainKey reports whether every string of v is written as it is between
// quotes and every time is one that time.Time.MarshalJSON accepts.
func plainKey(v *KeyJSON) bool {
	if !plain(v.ID) || !plain(v.Name) || !plain(string(v.Status)) || !plain(v.Company.ID) || !plain(v.Company.Name) ||
		v.Company.Ref != nil && !plain(*v.Company.Ref) || !plain(v.Hint) || !plain(v.CreatedBy) {
		return false
	}
	for _, s := range v.Scopes {
		if !plain(s) {
			return false
		}
	}
	for k, s := range v.Metadata {
		if !plain(k) || !plain(s) {
			return false
		}
	}
	for _, s := range v.AllowedIPs {
		if !plain(s) {
			return false
		}
	}
	if v.RateLimit != nil && !plain(*v.RateLimit) {
		return false
	}
	return plainTime(&v.CreatedAt) && plainTime(&v.UpdatedAt) && plainTime(v.ExpiresAt) && plainTime(v.LastUsedAt)
}

// plain reports whether encoding/json without HTML escaping writes s as it
// is: no quote, backslash or control character (DEL is written as it is),
// valid UTF-8, and neither U+2028 nor U+2029, which it escapes for
// JavaScript.
func plain(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return false
		}
		i += size
	}
	return true
}

// plainTime reports whether t is a UTC time that time.Time.MarshalJSON
// writes (years 0 to 9999); times of other zones take the slow path, which
// checks their offsets.
func plainTime(t *time.Time) bool {
	if t == nil {
		return true
	}
	y := t.Year()
	return y >= 0 && y <= 9999 && t.Location() == time.UTC
}

func sortedKeys(m map[string]string, keys []string) []string {
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// appendEncoded is the slow path: encoding/json itself.
func appendEncoded(dst []byte, v any, prefix string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if err := enc.Encode(v); err != nil {
		return dst, err
	}
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...), nil
}
