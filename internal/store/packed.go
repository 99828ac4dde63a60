package store

import (
	"database/sql"
	"strings"
)

// Reading a column through the driver costs three calls into SQLite, each
// taking and releasing the connection's mutex, which modernc's C-to-Go
// translation makes expensive: for `list` of 100,000 keys, a quarter of the
// time went to those mutexes. EachKey therefore reads each key as one text
// value that SQLite packs from the columns, every column as
// <length in bytes>:<bytes>, a NULL as -1: with lengths, no content can be
// mistaken for a separator. printf's %s stops at a NUL byte, which apikey
// never stores; a row that holds one anyway does not unpack and is read
// again column by column.

// packColumns returns the SQL expression that packs the given columns.
func packColumns(cols ...string) string {
	var format, args strings.Builder
	for i, c := range cols {
		format.WriteString("%d:%s")
		if i > 0 {
			args.WriteString(", ")
		}
		args.WriteString("coalesce(length(CAST(" + c + " AS BLOB)), -1), " + c)
	}
	return "printf('" + format.String() + "', " + args.String() + ")"
}

// packedList is listColumns packed.
var packedList = packColumns(listColumnNames...)

// unpack sets the destinations of a keyRow of listColumns from a value of
// packedList, as Scan would from the columns; false when the value is not
// what packColumns makes of them.
func (r *keyRow) unpack(p string) bool {
	for _, d := range r.dest {
		n, rest, ok := packedLength(p)
		if !ok || n > len(rest) {
			return false
		}
		v, valid := rest[:max(n, 0)], n >= 0
		p = rest[max(n, 0):]
		switch d := d.(type) {
		case *string:
			if !valid {
				return false // Scan refuses NULL too: let it say so
			}
			*d = v
		case *sql.NullString:
			*d = sql.NullString{String: v, Valid: valid}
		case *bool:
			if v != "0" && v != "1" {
				return false
			}
			*d = v == "1"
		default:
			return false
		}
	}
	return p == ""
}

// packedLength reads "<n>:" from the start of p, n >= -1.
func packedLength(p string) (n int, rest string, ok bool) {
	i := strings.IndexByte(p, ':')
	if i < 1 || i > 10 {
		return 0, "", false
	}
	if p[:i] == "-1" {
		return -1, p[i+1:], true
	}
	n, ok = digits(p[:i])
	return n, p[i+1:], ok
}
