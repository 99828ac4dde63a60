package store

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// TestEachKeyReadsAwkwardRowsAsKeyDoes stores, behind apikey's back, keys
// whose text holds what could confuse the packed form (separators, digits,
// multi-byte characters, a NUL byte, empty and NULL values), and checks
// that EachKey reads each as Key reads it column by column.
func TestEachKeyReadsAwkwardRowsAsKeyDoes(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	n := newKey(t, "Acme", "ordinary")
	if _, err := st.CreateKey(ctx, n); err != nil {
		t.Fatal(err)
	}
	names := []string{"12:34", "-1:", "5:abc", "ünï 日本 🔑", "nul\x00byte", "", ":", "%d:%s",
		"unit\x1fsep", "\x1f", "\x1e", "\x1d", "\x1d\x1e\x1f"}
	for i, name := range names {
		_, err := st.db.Exec(`INSERT INTO keys (id, company_id, name, status, hint, scopes, metadata, created_at, created_by, updated_at, expires_at, last_used_at, sealed)
			SELECT ?, company_id, ?, 'inactive', '', '["a:1","2:b"]', '{"k:":"3:v"}', created_at, ?, updated_at, ?, NULL, 1 FROM keys WHERE id = ?`,
			"awkward-"+string(rune('a'+i)), name, name, "2027-01-31T00:00:00.000000Z", n.ID)
		if err != nil {
			t.Fatal(err)
		}
	}
	// The nullable columns, holding the marks that stand for NULL and for a
	// value, must still read as those values.
	for i, v := range []string{"\x1e", "\x1d", "\x1d2027-01-31T00:00:00.000000Z", "x\x1fy"} {
		_, err := st.db.Exec(`INSERT INTO keys (id, company_id, name, status, hint, scopes, metadata, created_at, created_by, updated_at, expires_at, last_used_at, sealed)
			SELECT ?, company_id, ?, status, hint, scopes, metadata, created_at, created_by, updated_at, ?, ?, 0 FROM keys WHERE id = ?`,
			"marks-"+string(rune('a'+i)), "marks "+string(rune('a'+i)), v, v, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, v)
	}
	var got int
	err := st.EachKey(ctx, KeyFilter{Now: time.Now()}, func(k apikey.Key) error {
		got++
		want, err := keyByID(ctx, st.db, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(k, want) {
			t.Errorf("EachKey read %+v, Key reads %+v", k, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != len(names)+1 {
		t.Errorf("EachKey listed %d keys, want %d", got, len(names)+1)
	}
}

func TestUnpackRefusesWhatPackDoesNotMake(t *testing.T) {
	r := newKeyRow(false)
	good := strings.Join([]string{"a", "b", "c", "d", "[]", "{}", "e", "f", "g", "\x1e", "\x1dh", "i", "1"}, "\x1f")
	if !r.unpack(good) {
		t.Fatalf("unpack(%q) = false", good)
	}
	if r.expires.Valid || !r.lastUsed.Valid || r.lastUsed.String != "h" || !r.k.Sealed {
		t.Errorf("unpack(%q) read expires %+v, last used %+v, sealed %v", good, r.expires, r.lastUsed, r.k.Sealed)
	}
	for _, p := range []string{"", good + "\x1fx", good[:len(good)-2], "a", strings.Replace(good, "\x1e", "h", 1),
		strings.Replace(good, "\x1e", "", 1), strings.TrimSuffix(good, "1") + "2", strings.TrimSuffix(good, "1")} {
		if r.unpack(p) {
			t.Errorf("unpack(%q) = true", p)
		}
	}
}

// TestPackedListUnpacksWhatApikeyWrites checks that the keys apikey writes
// take the fast path: the packed value SQLite makes of them unpacks, rather
// than falling back to reading the row column by column.
func TestPackedListUnpacksWhatApikeyWrites(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	plain := newKey(t, "Acme", "plain")
	full := newKey(t, "Acme", "full: ünï 日本 \"quoted\" 'single' ; DROP TABLE keys; --")
	full.Scopes = []string{"invoices:read", "ünï"}
	full.Metadata = map[string]string{"shop": "a\tb\nc\x01", "": ""}
	exp := time.Now().Add(time.Hour).UTC()
	full.ExpiresAt = &exp
	plain.ExpiresAt = nil
	for _, n := range []NewKey{plain, full} {
		if _, err := st.CreateKey(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.db.Exec(`UPDATE keys SET last_used_at = updated_at WHERE id = ?`, full.ID); err != nil {
		t.Fatal(err)
	}
	rows, err := st.db.Query(`SELECT k.id, ` + packedList + ` FROM keys k`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	r := newKeyRow(false)
	n := 0
	for rows.Next() {
		var id, p string
		if err := rows.Scan(&id, &p); err != nil {
			t.Fatal(err)
		}
		n++
		rowid, rest, err := splitRowid(p)
		if err != nil || rowid < 1 {
			t.Errorf("key %s packs as %q: rowid %d, %v", id, p, rowid, err)
		}
		if !r.unpack(rest) {
			t.Errorf("key %s packs as %q, which does not unpack", id, p)
		}
	}
	if n != 2 {
		t.Errorf("read %d keys, want 2", n)
	}
}
