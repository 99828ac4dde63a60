package store

import (
	"database/sql"
	"strings"
)

// Reading a column through the driver costs three calls into SQLite, each
// taking and releasing the connection's mutex, which modernc's C-to-Go
// translation makes expensive: for `list` of 100,000 keys, a quarter of the
// time went to those mutexes. EachKey therefore reads each key as one text
// value that SQLite packs from the columns with concat_ws, separated by
// unitSep (0x1f).
//
// concat_ws leaves NULLs out, so a nullable column is packed as nullMark
// (0x1e) when NULL and as valueMark (0x1d) followed by its value otherwise:
// a NULL and a value can never be mistaken for each other. No column apikey
// writes holds a control character (names are validated; scopes and
// metadata are JSON, which escapes them), and a row that holds a separator
// anyway splits into too many fields, does not unpack, and is read again
// column by column. concat_ws costs about half of what printf with a length
// before each column did (bench: BenchmarkList in this package).
const (
	unitSep   = "\x1f"
	nullMark  = "\x1e"
	valueMark = "\x1d"
)

// packColumns returns the SQL expression that packs the given columns; the
// nullable ones are packed so that NULL stays distinct from any value.
func packColumns(cols []string, nullable map[string]bool) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c
		if nullable[c] {
			parts[i] = "ifnull(char(29) || " + c + ", char(30))"
		}
	}
	return "concat_ws(char(31), " + strings.Join(parts, ", ") + ")"
}

// packedList is listColumns packed.
var packedList = packColumns(listColumnNames, map[string]bool{"k.expires_at": true, "k.last_used_at": true})

// unpack sets the destinations of a keyRow of listColumns from a value of
// packedList, as Scan would from the columns; false when the value is not
// what packColumns makes of them.
func (r *keyRow) unpack(p string) bool {
	for i, d := range r.dest {
		v := p
		if i < len(r.dest)-1 {
			var ok bool
			v, p, ok = strings.Cut(p, unitSep)
			if !ok {
				return false
			}
		} else if strings.Contains(p, unitSep) {
			return false
		}
		switch d := d.(type) {
		case *string:
			*d = v
		case *sql.NullString:
			switch {
			case v == nullMark:
				*d = sql.NullString{}
			case strings.HasPrefix(v, valueMark):
				*d = sql.NullString{String: v[len(valueMark):], Valid: true}
			default:
				return false
			}
		case *bool:
			if v != "0" && v != "1" {
				return false
			}
			*d = v == "1"
		default:
			return false
		}
	}
	return true
}
