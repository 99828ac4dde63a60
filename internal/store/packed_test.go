package store

import (
	"context"
	"reflect"
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
	names := []string{"12:34", "-1:", "5:abc", "ünï 日本 🔑", "nul\x00byte", "", ":", "%d:%s"}
	for i, name := range names {
		_, err := st.db.Exec(`INSERT INTO keys (id, company_id, name, status, hint, scopes, metadata, created_at, created_by, updated_at, expires_at, last_used_at, sealed)
			SELECT ?, company_id, ?, 'inactive', '', '["a:1","2:b"]', '{"k:":"3:v"}', created_at, ?, updated_at, ?, NULL, 1 FROM keys WHERE id = ?`,
			"awkward-"+string(rune('a'+i)), name, name, "2027-01-31T00:00:00.000000Z", n.ID)
		if err != nil {
			t.Fatal(err)
		}
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
	good := "1:a1:b1:c1:d2:[]2:{}1:e1:f1:g-1:-1:1:h1:1"
	if !r.unpack(good) {
		t.Fatalf("unpack(%q) = false", good)
	}
	for _, p := range []string{"", good + "x", good[:len(good)-1], "1:a", "x:a" + good[3:], "99:a" + good[3:],
		"-1:" + good[3:], "1:a1:b1:c1:d2:[]2:{}1:e1:f1:g-1:-1:1:h1:2"} {
		if r.unpack(p) {
			t.Errorf("unpack(%q) = true", p)
		}
	}
}
