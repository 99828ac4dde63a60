package sqlite

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
	"github.com/google/uuid"
)

func openTest(t *testing.T) *Engine {
	t.Helper()
	e, err := Open(context.Background(), filepath.Join(t.TempDir(), "apikey.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// addKeys stores the keys, each of company c, as the store would.
func addKeys(t *testing.T, e *Engine, c apikey.Company, keys ...apikey.Key) {
	t.Helper()
	err := e.Write(context.Background(), func(tx engine.Tx) error {
		if _, found, err := tx.CompanyByID(context.Background(), c.ID); err != nil {
			return err
		} else if !found {
			if err := tx.InsertCompany(context.Background(), c); err != nil {
				return err
			}
		}
		for _, k := range keys {
			k.Company = apikey.CompanyRef{ID: c.ID, Name: c.Name, Ref: c.Ref}
			if err := tx.InsertKey(context.Background(), k); err != nil {
				return err
			}
			_, m, err := apikey.MintSecret("ak", k.ID, nil)
			if err != nil {
				return err
			}
			if err := tx.InsertSecret(context.Background(), k.ID, m, k.CreatedAt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testCompany() apikey.Company {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return apikey.Company{ID: uuid.NewString(), Name: "Acme", Ref: "ACME-1", CreatedAt: at, UpdatedAt: at}
}

func testKey(name string) apikey.Key {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	exp := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	return apikey.Key{ID: uuid.NewString(), Name: name, Status: apikey.StatusActive, Hint: "ak_abcd…wxyz",
		Scopes: []string{"invoices:read"}, Metadata: map[string]string{"env": "prod"}, CreatedAt: at, CreatedBy: "test",
		UpdatedAt: at, ExpiresAt: &exp}
}

// keyByID reads a key as Key does, column by column.
func keyByID(t *testing.T, e *Engine, id string) apikey.Key {
	t.Helper()
	var k apikey.Key
	err := e.Read(context.Background(), func(tx engine.Tx) error {
		var found bool
		var err error
		k, found, err = tx.KeyByID(context.Background(), id)
		if err == nil && !found {
			t.Errorf("key %s not found", id)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestEachKeyReadsAwkwardRowsAsKeyDoes stores, behind apikey's back, keys
// whose text holds what could confuse the packed form (separators, digits,
// multi-byte characters, a NUL byte, empty and NULL values), and checks
// that EachKey reads each as Key reads it column by column.
func TestEachKeyReadsAwkwardRowsAsKeyDoes(t *testing.T) {
	ctx := context.Background()
	e := openTest(t)
	n := testKey("ordinary")
	addKeys(t, e, testCompany(), n)
	names := []string{"12:34", "-1:", "5:abc", "ünï 日本 🔑", "nul\x00byte", "", ":", "%d:%s",
		"unit\x1fsep", "\x1f", "\x1e", "\x1d", "\x1d\x1e\x1f"}
	for i, name := range names {
		_, err := e.db.Exec(`INSERT INTO keys (id, company_id, name, status, hint, scopes, metadata, created_at, created_by, updated_at, expires_at, sealed)
			SELECT ?, company_id, ?, 'inactive', '', '["a:1","2:b"]', '{"k:":"3:v"}', created_at, ?, updated_at, ?, 1 FROM keys WHERE id = ?`,
			"awkward-"+string(rune('a'+i)), name, name, "2027-01-31T00:00:00.000000Z", n.ID)
		if err != nil {
			t.Fatal(err)
		}
	}
	// The nullable columns, holding the marks that stand for NULL and for a
	// value, must still read as those values.
	for i, v := range []string{"\x1e", "\x1d", "\x1d2027-01-31T00:00:00.000000Z", "x\x1fy"} {
		id := "marks-" + string(rune('a'+i))
		_, err := e.db.Exec(`INSERT INTO keys (id, company_id, name, status, hint, scopes, metadata, created_at, created_by, updated_at, expires_at, sealed)
			SELECT ?, company_id, ?, status, hint, scopes, metadata, created_at, created_by, updated_at, ?, 0 FROM keys WHERE id = ?;
			INSERT INTO key_uses (created_at, key_id, last_used_at) SELECT created_at, id, ? FROM keys WHERE id = ?`,
			id, "marks "+string(rune('a'+i)), v, n.ID, v, id)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, v)
	}
	var got int
	err := e.EachKey(ctx, engine.KeyQuery{Now: time.Now()}, func(k apikey.Key) error {
		got++
		if want := keyByID(t, e, k.ID); !reflect.DeepEqual(k, want) {
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
	good := strings.Join([]string{"a", "b", "c", "d", "[]", "{}", "e", "f", "g", "\x1e", "\x1dh", "i", "1", "\x1d100/m", `["10.0.0.0/8"]`, "1"}, "\x1f")
	if !r.unpack(good) {
		t.Fatalf("unpack(%q) = false", good)
	}
	if r.expires.Valid || !r.lastUsed.Valid || r.lastUsed.String != "h" || !r.k.Sealed || r.rate.String != "100/m" || r.ips != `["10.0.0.0/8"]` || !r.k.Legacy {
		t.Errorf("unpack(%q) read expires %+v, last used %+v, sealed %v, rate %+v, ips %q, legacy %v", good, r.expires, r.lastUsed, r.k.Sealed, r.rate, r.ips, r.k.Legacy)
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
	e := openTest(t)
	plain := testKey("plain")
	full := testKey("full: ünï 日本 \"quoted\" 'single' ; DROP TABLE keys; --")
	full.Scopes = []string{"invoices:read", "ünï"}
	full.Metadata = map[string]string{"shop": "a\tb\nc\x01", "": ""}
	full.Sealed = true
	exp := time.Now().Add(time.Hour).UTC()
	full.ExpiresAt = &exp
	plain.ExpiresAt = nil
	plain.Scopes, plain.Metadata = nil, nil
	addKeys(t, e, testCompany(), plain, full)
	if _, err := e.db.Exec(`INSERT INTO key_uses (created_at, key_id, last_used_at) SELECT created_at, id, updated_at FROM keys WHERE id = ?`, full.ID); err != nil {
		t.Fatal(err)
	}
	rows, err := e.db.Query(`SELECT k.id, ` + packedList + ` FROM keys k` + usesJoin)
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
