package sqlite

import (
	"database/sql"
	"fmt"
	"strconv"
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
// before each column did (BenchmarkEachKey in this package: 374 → 188 ms
// for 100,000 keys, with the change to rowid order).
const (
	unitSep   = "\x1f"
	nullMark  = "\x1e"
	valueMark = "\x1d"
)

// packColumns returns the SQL expression that packs the rowid of k and the
// given columns; the nullable ones are packed so that NULL stays distinct
// from any value. The rowid comes first, where no content can displace it:
// a row that does not unpack is read again by it. (Reading it as a column
// of its own cost a call into SQLite and an allocation per row.)
func packColumns(cols []string, nullable map[string]bool) string {
	parts := make([]string, 0, len(cols)+1)
	parts = append(parts, "k.rowid")
	for _, c := range cols {
		if nullable[c] {
			c = "ifnull(char(29) || " + c + ", char(30))"
		}
		parts = append(parts, c)
	}
	return "concat_ws(char(31), " + strings.Join(parts, ", ") + ")"
}

// packedList is the rowid and listColumns, packed.
var packedList = packColumns(listColumnNames, map[string]bool{"k.expires_at": true, lastUsedAt: true, "k.rate_limit": true})

// splitRowid takes the rowid off the front of a value of packedList.
func splitRowid(p string) (rowid int64, rest string, err error) {
	head, rest, _ := strings.Cut(p, unitSep)
	rowid, err = strconv.ParseInt(head, 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("unreadable key row: no rowid in front of it")
	}
	return rowid, rest, nil
}

// unpack sets the destinations of a keyRow of listColumns from what follows
// the rowid in a value of packedList, as Scan would from the columns; false
// when it is not what packColumns makes of them.
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
