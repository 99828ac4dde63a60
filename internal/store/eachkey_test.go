package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// TestEachKeyGivesEachKeyItsCompany lists keys of several companies with
// every filter and checks each against what Key reads (with the join).
func TestEachKeyGivesEachKeyItsCompany(t *testing.T) {
	ctx := context.Background()
	// A clock that moves on every reading orders the keys as created.
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st := openTest(t, WithClock(func() time.Time { at = at.Add(time.Second); return at }))
	if _, err := st.CreateCompany(ctx, "Acme", "273-542", "test"); err != nil {
		t.Fatal(err)
	}
	var all []NewKey
	for _, c := range []struct{ company, name string }{{"Acme", "a1"}, {"Globex", "g1"}, {"Acme", "a2"}, {"Initech", "i1"}, {"Globex", "g2"}} {
		n := newKey(t, c.company, c.name)
		n.ExpiresAt = nil
		all = append(all, n)
	}
	all[1].Status = apikey.StatusInactive
	if err := st.CreateKeys(ctx, all); err != nil {
		t.Fatal(err)
	}
	names := func(f KeyFilter) []string {
		t.Helper()
		var out []string
		err := st.EachKey(ctx, f, func(k apikey.Key) error {
			want, err := st.Key(ctx, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(k, want) {
				t.Errorf("EachKey gave %+v, Key gives %+v", k, want)
			}
			out = append(out, k.Name)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	now := time.Now()
	for _, tc := range []struct {
		f    KeyFilter
		want []string
	}{
		{KeyFilter{Now: now}, []string{"a1", "g1", "a2", "i1", "g2"}},
		{KeyFilter{Now: now, Company: "globex"}, []string{"g1", "g2"}},
		{KeyFilter{Now: now, Status: apikey.StatusActive}, []string{"a1", "a2", "i1", "g2"}},
		{KeyFilter{Now: now, Search: "273-5"}, []string{"a1", "a2"}},
		{KeyFilter{Now: now, Search: "INITECH"}, []string{"i1"}},
		{KeyFilter{Now: now, Search: "g"}, []string{"g1", "g2"}},
		{KeyFilter{Now: now, Limit: 2}, []string{"a1", "g1"}},
	} {
		if got := names(tc.f); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("EachKey(%+v) listed %v, want %v", tc.f, got, tc.want)
		}
	}
	stop := errors.New("stop")
	n := 0
	err := st.EachKey(ctx, KeyFilter{Now: now}, func(apikey.Key) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("EachKey returned %v after %d keys, want the caller's error after 1", err, n)
	}
}
