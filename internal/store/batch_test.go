package store

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/google/uuid"
)

func openTest(t testing.TB, opts ...Option) *Store {
	t.Helper()
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "apikey.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func fixedClock() Option {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return WithClock(func() time.Time { return at })
}

func newKey(t testing.TB, company, name string) NewKey {
	t.Helper()
	id := uuid.NewString()
	_, m, err := apikey.MintSecret("ak", id, nil)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	return NewKey{ID: id, Company: company, CreateCompany: true, Name: name, Status: apikey.StatusActive,
		Scopes: []string{"invoices:read"}, Metadata: map[string]string{"env": "prod"}, ExpiresAt: &exp, Secret: m, Actor: "test"}
}

// dump reads back what a store holds, without the ids that differ between
// two stores given the same input.
func dump(t *testing.T, st *Store) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT k.name, k.status, k.hint, k.scopes, k.metadata, k.created_at, k.created_by, k.updated_at, coalesce(k.expires_at, ''), c.name FROM keys k JOIN companies c ON c.id = k.company_id ORDER BY k.name`,
		`SELECT hex(s.hash), s.sealed IS NULL, s.created_at, coalesce(s.expires_at, '') FROM secrets s ORDER BY s.hash`,
		`SELECT e.seq, e.at, e.actor, e.action, e.company_name, coalesce(e.key_name, ''), e.details FROM events e ORDER BY e.seq`,
		`SELECT name, name_key, coalesce(ref, ''), created_at FROM companies ORDER BY name`,
	} {
		rows, err := st.db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(vals...))
		}
		rows.Close()
	}
	return out
}

func TestCreateKeysWritesWhatCreateKeyWrites(t *testing.T) {
	ctx := context.Background()
	one, many := openTest(t, fixedClock()), openTest(t, fixedClock())
	var keys []NewKey
	for i := range 6 {
		n := newKey(t, fmt.Sprintf("Company %d", i%2), fmt.Sprintf("key %d", i))
		if i%3 == 0 {
			n.Scopes, n.Metadata, n.ExpiresAt, n.Status = nil, nil, nil, apikey.StatusInactive
		}
		keys = append(keys, n)
	}
	for _, n := range keys {
		if _, err := one.CreateKey(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := many.CreateKeys(ctx, keys); err != nil {
		t.Fatal(err)
	}
	a, b := dump(t, one), dump(t, many)
	if len(a) != 6+6+6+2+2 {
		t.Errorf("CreateKey wrote %d rows, want 22:\n%v", len(a), a)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("CreateKeys wrote other rows than CreateKey:\n%v\nwant\n%v", b, a)
	}
	for _, n := range keys {
		k1, err := one.Key(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		k2, err := many.Key(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		k1.Company.ID, k2.Company.ID = "", ""
		if !reflect.DeepEqual(k1, k2) {
			t.Errorf("key %s reads back as %+v, want %+v", n.Name, k2, k1)
		}
	}
}

func TestCreateKeysIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	existing := newKey(t, "Acme", "taken")
	if _, err := st.CreateKey(ctx, existing); err != nil {
		t.Fatal(err)
	}
	bad := func(mod func([]NewKey) []NewKey) []NewKey {
		return mod([]NewKey{newKey(t, "Acme", "a"), newKey(t, "Other", "b"), newKey(t, "Acme", "c")})
	}
	for _, tc := range []struct {
		name string
		keys []NewKey
		kind apikey.Kind
	}{
		{"name taken in the store", bad(func(ks []NewKey) []NewKey { ks[2].Name = "taken"; return ks }), apikey.KindConflict},
		{"name twice in the batch", bad(func(ks []NewKey) []NewKey { ks[2].Name = "a"; return ks }), apikey.KindConflict},
		{"invalid name", bad(func(ks []NewKey) []NewKey { ks[1].Name = " "; return ks }), apikey.KindUsage},
		{"invalid status", bad(func(ks []NewKey) []NewKey { ks[1].Status = apikey.StatusExpired; return ks }), apikey.KindUsage},
		{"unknown company", bad(func(ks []NewKey) []NewKey { ks[1].CreateCompany = false; return ks }), apikey.KindNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := st.CreateKeys(ctx, tc.keys)
			if apikey.KindOf(err) != tc.kind {
				t.Fatalf("CreateKeys: %v (kind %v), want kind %v", err, apikey.KindOf(err), tc.kind)
			}
			var n int
			if err := st.db.QueryRow(`SELECT (SELECT count(*) FROM keys) + (SELECT count(*) FROM secrets) + (SELECT count(*) FROM events) + (SELECT count(*) FROM companies)`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 5 {
				t.Errorf("after a refused batch the store holds %d rows, want the 5 it had", n)
			}
		})
	}
}
