package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
)

func testCreateKey(t *testing.T, h Harness) {
	f := newFixture(t, h)
	acme := f.company("Acme", "ACME-1")
	exp := f.now.Add(90 * 24 * time.Hour)
	k, secret := f.key("ACME-1", "billing", "", func(n *store.NewKey) {
		n.Scopes = []string{"invoices:read"}
		n.Metadata = map[string]string{"shop": "x"}
		n.ExpiresAt = &exp
		n.Status = apikey.StatusInactive
	})
	want := apikey.Key{
		ID: k.ID, Company: apikey.CompanyRef{ID: acme.ID, Name: "Acme", Ref: "ACME-1"}, Name: "billing",
		Status: apikey.StatusInactive, Hint: apikey.HintOf(secret), Scopes: []string{"invoices:read"},
		Metadata: map[string]string{"shop": "x"}, CreatedAt: f.now, CreatedBy: "tester", UpdatedAt: f.now, ExpiresAt: &exp, AllowedIPs: []string{},
	}
	if !reflect.DeepEqual(k, want) {
		t.Errorf("CreateKey =\n%+v\nwant\n%+v", k, want)
	}
	got, err := f.st.Key(ctx, k.ID, "")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Key = %+v, %v", got, err)
	}
	if p, found, err := f.st.LookupSecret(ctx, apikey.HashSecret(secret)); err != nil || !found || !reflect.DeepEqual(p.Key, want) || p.SecretExpiresAt != nil {
		t.Errorf("LookupSecret = %+v, %v, %v", p, found, err)
	}
	es := f.events(store.EventFilter{Limit: 1})
	if es[0].Action != apikey.ActionKeyCreate || es[0].Key.ID != k.ID || es[0].Key.Name != "billing" || es[0].Company.ID != acme.ID ||
		es[0].Actor != "tester" || !es[0].At.Equal(f.now) || es[0].Details["status"] != "inactive" || es[0].Details["expires_at"] == nil {
		t.Errorf("key.create event %+v", es[0])
	}

	// A key name is unique within its company, not across companies.
	n := store.NewKey{ID: newID(), Company: "Acme", Name: "billing", Status: apikey.StatusActive, Actor: "t"}
	n.Secret.Hash = apikey.HashSecret("other")
	_, err = f.st.CreateKey(ctx, n)
	wantKind(t, "duplicate name", err, apikey.KindConflict, `company "Acme" already has a key named "billing"`)
	f.company("Globex", "")
	f.key("Globex", "billing", "")

	// Unknown company; --create-company makes it, in the same transaction.
	n = store.NewKey{ID: newID(), Company: "Initech", Name: "k", Status: apikey.StatusActive, Actor: "t"}
	n.Secret.Hash = apikey.HashSecret("initech")
	_, err = f.st.CreateKey(ctx, n)
	wantKind(t, "unknown company", err, apikey.KindNotFound, `company "Initech" not found`)
	n.CreateCompany = true
	k2, err := f.st.CreateKey(ctx, n)
	if err != nil || k2.Company.Name != "Initech" {
		t.Fatalf("create with company: %+v, %v", k2, err)
	}
	es = f.events(store.EventFilter{Limit: 2})
	if es[0].Action != apikey.ActionKeyCreate || es[1].Action != apikey.ActionCompanyCreate {
		t.Errorf("events %s, %s", es[0].Action, es[1].Action)
	}
	// --create-company does not make a company where the reference is
	// ambiguous or refused.
	n = store.NewKey{ID: newID(), Company: "00000000-0000-4000-8000-000000000000", CreateCompany: true, Name: "k", Status: apikey.StatusActive, Actor: "t"}
	n.Secret.Hash = apikey.HashSecret("uuid-shaped")
	_, err = f.st.CreateKey(ctx, n)
	wantKind(t, "company named like an id", err, apikey.KindUsage, "must not have the form of an id")

	// A failure after the company was made undoes it: the same secret hash
	// again is refused by the store.
	before := f.lastChange()
	n = store.NewKey{ID: newID(), Company: "Hooli", CreateCompany: true, Name: "k", Status: apikey.StatusActive, Actor: "t"}
	n.Secret.Hash = apikey.HashSecret("initech")
	_, err = f.st.CreateKey(ctx, n)
	wantKind(t, "reused secret", err, apikey.KindConflict, "conflicting change")
	if _, err := f.st.Company(ctx, "Hooli"); apikey.KindOf(err) != apikey.KindNotFound {
		t.Errorf("company of a failed create survives: %v", err)
	}
	if f.lastChange() != before {
		t.Error("a failed create recorded events")
	}
	// So is a key id that is taken.
	n = store.NewKey{ID: k.ID, Company: "Globex", Name: "same id", Status: apikey.StatusActive, Actor: "t"}
	n.Secret.Hash = apikey.HashSecret("same id")
	_, err = f.st.CreateKey(ctx, n)
	wantKind(t, "reused id", err, apikey.KindConflict, "conflicting change")
	if f.lastChange() != before {
		t.Error("a failed create recorded events")
	}

	// Bad values.
	for _, c := range []struct {
		mod  func(*store.NewKey)
		text string
	}{
		{func(n *store.NewKey) { n.Name = "" }, "key name must not be empty"},
		{func(n *store.NewKey) { n.Name = "a\nb" }, "control characters"},
		{func(n *store.NewKey) { n.Status = "expired" }, `invalid status "expired"`},
		{func(n *store.NewKey) { n.Scopes = []string{"a b"} }, "must not contain spaces"},
		{func(n *store.NewKey) { n.Company = "" }, "company reference must not be empty"},
	} {
		n := store.NewKey{ID: newID(), Company: "Acme", Name: "fine", Status: apikey.StatusActive, Actor: "t"}
		c.mod(&n)
		_, err := f.st.CreateKey(ctx, n)
		wantKind(t, c.text, err, apikey.KindUsage, c.text)
	}
	if f.lastChange() != before {
		t.Error("a refused create recorded events")
	}
}

// newKey is a key to create, of a company made when missing, with its
// secret.
func newKey(t *testing.T, company, name string) (store.NewKey, string) {
	t.Helper()
	id := newID()
	secret, m, err := apikey.MintSecret("ak", id, nil)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	return store.NewKey{ID: id, Company: company, CreateCompany: true, Name: name, Status: apikey.StatusActive,
		Scopes: []string{"invoices:read"}, Metadata: map[string]string{"env": "prod"}, ExpiresAt: &exp, Secret: m, Actor: "test"}, secret
}

// dump reads back, through the store's methods, what a store holds, without
// the company ids that differ between two stores given the same input.
func dump(t *testing.T, st *store.Store, secrets []string) []string {
	t.Helper()
	var out []string
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, k := range eachKey(t, st, store.KeyFilter{}, now) {
		k.Company.ID = ""
		out = append(out, "key "+jsonOf(t, k))
	}
	for _, s := range secrets {
		p, found, err := st.LookupSecret(ctx, apikey.HashSecret(s))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, "secret "+jsonOf(t, []any{found, p.Key.ID, p.SecretExpiresAt}))
	}
	es, err := st.EventsAfter(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Company != nil {
			e.Company.ID = ""
		}
		out = append(out, "event "+jsonOf(t, []any{e.At, e.Actor, e.Action, e.Company, e.Key, e.Details}))
	}
	cs, err := st.ListCompanies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		c.ID = ""
		out = append(out, "company "+jsonOf(t, c))
	}
	return out
}

func testCreateKeysWritesWhatCreateKeyWrites(t *testing.T, h Harness) {
	at := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	one, many := h.Open(t, at), h.Open(t, at)
	var keys []store.NewKey
	var secrets []string
	for i := range 6 {
		n, s := newKey(t, []string{"Company 0", "Company 1"}[i%2], "key "+string(rune('0'+i)))
		if i%3 == 0 {
			n.Scopes, n.Metadata, n.ExpiresAt, n.Status = nil, nil, nil, apikey.StatusInactive
		}
		keys = append(keys, n)
		secrets = append(secrets, s)
	}
	for _, n := range keys {
		if _, err := one.CreateKey(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := many.CreateKeys(ctx, keys); err != nil {
		t.Fatal(err)
	}
	a, b := dump(t, one, secrets), dump(t, many, secrets)
	if len(a) != 6+6+8+2 { // keys, secrets, events (6 key.create, 2 company.create), companies
		t.Errorf("CreateKey wrote %d records, want 22:\n%s", len(a), strings.Join(a, "\n"))
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("CreateKeys wrote other records than CreateKey:\n%s\nwant\n%s", strings.Join(b, "\n"), strings.Join(a, "\n"))
	}
	for _, n := range keys {
		k1, err := one.Key(ctx, n.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		k2, err := many.Key(ctx, n.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		k1.Company.ID, k2.Company.ID = "", ""
		if !reflect.DeepEqual(k1, k2) {
			t.Errorf("key %s reads back as %+v, want %+v", n.Name, k2, k1)
		}
	}
}

func testCreateKeysIsAllOrNothing(t *testing.T, h Harness) {
	batch := func(t *testing.T, mod func([]store.NewKey) []store.NewKey) ([]store.NewKey, []string) {
		var ks []store.NewKey
		var ss []string
		for _, c := range []struct{ company, name string }{{"Acme", "a"}, {"Other", "b"}, {"Acme", "c"}} {
			n, s := newKey(t, c.company, c.name)
			ks, ss = append(ks, n), append(ss, s)
		}
		return mod(ks), ss
	}
	for _, tc := range []struct {
		name string
		mod  func([]store.NewKey) []store.NewKey
		kind apikey.Kind
	}{
		{"name taken in the store", func(ks []store.NewKey) []store.NewKey { ks[2].Name = "taken"; return ks }, apikey.KindConflict},
		{"name twice in the batch", func(ks []store.NewKey) []store.NewKey { ks[2].Name = "a"; return ks }, apikey.KindConflict},
		{"id twice in the batch", func(ks []store.NewKey) []store.NewKey { ks[2].ID = ks[0].ID; return ks }, apikey.KindConflict},
		{"invalid name", func(ks []store.NewKey) []store.NewKey { ks[1].Name = " "; return ks }, apikey.KindUsage},
		{"invalid status", func(ks []store.NewKey) []store.NewKey { ks[1].Status = apikey.StatusExpired; return ks }, apikey.KindUsage},
		{"unknown company", func(ks []store.NewKey) []store.NewKey { ks[1].CreateCompany = false; return ks }, apikey.KindNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, h)
			existing, _ := newKey(t, "Acme", "taken")
			if _, err := f.st.CreateKey(ctx, existing); err != nil {
				t.Fatal(err)
			}
			before := f.lastChange()
			keys, secrets := batch(t, tc.mod)
			err := f.st.CreateKeys(ctx, keys)
			if apikey.KindOf(err) != tc.kind {
				t.Fatalf("CreateKeys: %v (kind %v), want kind %v", err, apikey.KindOf(err), tc.kind)
			}
			if ks := f.keys(store.KeyFilter{}); len(ks) != 1 || ks[0].ID != existing.ID {
				t.Errorf("after a refused batch the store holds keys %q", names(ks))
			}
			if cs, err := f.st.ListCompanies(ctx); err != nil || len(cs) != 1 || cs[0].Name != "Acme" {
				t.Errorf("after a refused batch the store holds companies %+v, %v", cs, err)
			}
			if es := f.eventsAfter(0); f.lastChange() != before || len(es) != 2 {
				t.Errorf("after a refused batch the trail holds %v", actions(es))
			}
			for _, s := range secrets {
				if _, found, err := f.st.LookupSecret(ctx, apikey.HashSecret(s)); found || err != nil {
					t.Errorf("a secret of a refused batch is found: %v", err)
				}
			}
		})
	}
}

func testEachKeyFilters(t *testing.T, h Harness) {
	f := newFixture(t, h)
	f.company("Acme", "ACME-1")
	f.company("Globex", "")
	soon := f.now.Add(time.Hour)
	a1, _ := f.key("Acme", "shop sync", "")
	f.now = f.now.Add(time.Second)
	f.key("Acme", "billing", "", func(n *store.NewKey) { n.Status = apikey.StatusInactive })
	f.now = f.now.Add(time.Second)
	f.key("Acme", "soon", "", func(n *store.NewKey) { n.ExpiresAt = &soon })
	f.now = f.now.Add(time.Second)
	f.key("Globex", "100% done", "")
	f.now = f.now.Add(time.Second)
	f.key("Globex", "under_score", "")
	f.now = f.now.Add(time.Second)
	f.key("Globex", `back\slash`, "")

	later := f.now.Add(2 * time.Hour)
	for _, c := range []struct {
		filter store.KeyFilter
		want   string
	}{
		{store.KeyFilter{}, `shop sync,billing,soon,100% done,under_score,back\slash`},
		{store.KeyFilter{Company: "acme"}, "shop sync,billing,soon"},
		{store.KeyFilter{Company: "ACME-1", Status: apikey.StatusInactive}, "billing"},
		{store.KeyFilter{Status: apikey.StatusActive}, `shop sync,soon,100% done,under_score,back\slash`},
		{store.KeyFilter{Status: apikey.StatusExpired}, ""},
		{store.KeyFilter{Status: apikey.StatusExpired, Now: later}, "soon"},
		{store.KeyFilter{Status: apikey.StatusActive, Now: later, Company: "Acme"}, "shop sync"},
		{store.KeyFilter{Limit: 2}, "shop sync,billing"},
		{store.KeyFilter{Search: "SYNC"}, "shop sync"},
		{store.KeyFilter{Search: "globex"}, `100% done,under_score,back\slash`},
		{store.KeyFilter{Search: "acme-1"}, "shop sync,billing,soon"},
		{store.KeyFilter{Search: a1.ID[:8]}, "shop sync"},
		{store.KeyFilter{Search: strings.ToUpper(a1.ID[:8])}, "shop sync"},
		{store.KeyFilter{Search: "%"}, "100% done"},
		{store.KeyFilter{Search: "_"}, "under_score"},
		{store.KeyFilter{Search: `\`}, `back\slash`},
		{store.KeyFilter{Search: "'; DROP TABLE keys; --"}, ""},
		{store.KeyFilter{Search: `"`}, ""},
		{store.KeyFilter{Search: "o", Limit: 1, Company: "Globex"}, "100% done"},
	} {
		if got := names(f.keys(c.filter)); got != c.want {
			t.Errorf("%+v: %q, want %q", c.filter, got, c.want)
		}
	}
	if got := len(f.keys(store.KeyFilter{})); got != 6 {
		t.Errorf("%d keys after the searches", got)
	}
	err := f.st.EachKey(ctx, store.KeyFilter{Company: "Nobody", Now: f.now}, func(apikey.Key) error { return nil })
	wantKind(t, "unknown company", err, apikey.KindNotFound, "not found")
	err = f.st.EachKey(ctx, store.KeyFilter{Status: "bogus", Now: f.now}, func(apikey.Key) error { return nil })
	wantKind(t, "bad status", err, apikey.KindUsage, "invalid status")
	err = f.st.EachKey(ctx, store.KeyFilter{Limit: -1, Now: f.now}, func(apikey.Key) error { return nil })
	wantKind(t, "bad limit", err, apikey.KindUsage, "invalid limit")
	stop := apikey.Usagef("stop")
	n := 0
	err = f.st.EachKey(ctx, store.KeyFilter{Now: f.now}, func(apikey.Key) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("callback error: %v after %d keys", err, n)
	}
}

// testEachKeyGivesEachKeyItsCompany lists keys of several companies with
// every filter and checks each against what Key reads.
func testEachKeyGivesEachKeyItsCompany(t *testing.T, h Harness) {
	// A clock that moves on every reading orders the keys as created.
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st := h.Open(t, func() time.Time { at = at.Add(time.Second); return at })
	if _, err := st.CreateCompany(ctx, "Acme", "273-542", "test"); err != nil {
		t.Fatal(err)
	}
	var all []store.NewKey
	for _, c := range []struct{ company, name string }{{"Acme", "a1"}, {"Globex", "g1"}, {"Acme", "a2"}, {"Initech", "i1"}, {"Globex", "g2"}} {
		n, _ := newKey(t, c.company, c.name)
		n.ExpiresAt = nil
		all = append(all, n)
	}
	all[1].Status = apikey.StatusInactive
	if err := st.CreateKeys(ctx, all); err != nil {
		t.Fatal(err)
	}
	list := func(f store.KeyFilter) []string {
		t.Helper()
		var out []string
		err := st.EachKey(ctx, f, func(k apikey.Key) error {
			want, err := st.Key(ctx, k.ID, "")
			if err != nil {
				return err
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
		f    store.KeyFilter
		want []string
	}{
		{store.KeyFilter{Now: now}, []string{"a1", "g1", "a2", "i1", "g2"}},
		{store.KeyFilter{Now: now, Company: "globex"}, []string{"g1", "g2"}},
		{store.KeyFilter{Now: now, Status: apikey.StatusActive}, []string{"a1", "a2", "i1", "g2"}},
		{store.KeyFilter{Now: now, Search: "273-5"}, []string{"a1", "a2"}},
		{store.KeyFilter{Now: now, Search: "INITECH"}, []string{"i1"}},
		{store.KeyFilter{Now: now, Search: "g"}, []string{"g1", "g2"}},
		{store.KeyFilter{Now: now, Limit: 2}, []string{"a1", "g1"}},
	} {
		if got := list(tc.f); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("EachKey(%+v) listed %v, want %v", tc.f, got, tc.want)
		}
	}
	stop := errors.New("stop")
	n := 0
	err := st.EachKey(ctx, store.KeyFilter{Now: now}, func(apikey.Key) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("EachKey returned %v after %d keys, want the caller's error after 1", err, n)
	}
}

func testKeyReferences(t *testing.T, h Harness) {
	f := newFixture(t, h)
	f.company("Acme", "")
	one, _ := f.key("Acme", "one", "abcd1111-0000-4000-8000-000000000001")
	two, _ := f.key("Acme", "two", "abcd2222-0000-4000-8000-000000000002")
	exact, _ := f.key("Acme", "exact", "abcd3333-0000-4000-8000-000000000003")

	for ref, want := range map[string]string{
		one.ID: "one", strings.ToUpper(one.ID): "one", "abcd1": "one", "ABCD2": "two", "abcd2222-0000": "two", exact.ID: "exact",
		"one": "one", "TWO": "two",
	} {
		k, err := f.st.Key(ctx, ref, "")
		if err != nil || k.Name != want {
			t.Errorf("Key(%q) = %q, %v; want %q", ref, k.Name, err, want)
		}
	}
	_, err := f.st.Key(ctx, "abcd", "")
	wantKind(t, "ambiguous", err, apikey.KindUsage, `key reference "abcd" is ambiguous: it matches abcd1111-0000-4000-8000-000000000001 (one, Acme), abcd2222`)
	_, err = f.st.Key(ctx, "abc", "")
	wantKind(t, "short", err, apikey.KindUsage, `key reference "abc" is too short: give at least 4 characters of the id`)
	_, err = f.st.Key(ctx, "abcd9", "")
	wantKind(t, "unknown", err, apikey.KindNotFound, `key "abcd9" not found`)
	_, err = f.st.Key(ctx, "three", "")
	wantKind(t, "unknown name", err, apikey.KindNotFound, `key "three" not found`)
	_, err = f.st.Key(ctx, "", "")
	wantKind(t, "empty", err, apikey.KindUsage, "must not be empty")
	_, err = f.st.Key(ctx, "abcd1111-0000-4000-8000-000000000009", "")
	wantKind(t, "unknown id", err, apikey.KindNotFound, "not found")

	ks, err := f.st.Keys(ctx, []string{"abcd2", one.ID, two.ID, "ABCD1111", "one"}, "")
	if err != nil || len(ks) != 2 || ks[0].Name != "two" || ks[1].Name != "one" {
		t.Errorf("Keys: each once, in order given: %v, %v", ks, err)
	}
	_, err = f.st.Keys(ctx, []string{one.ID, "abcd"}, "")
	wantKind(t, "ambiguous among several", err, apikey.KindUsage, "ambiguous")

	// More than five candidates are cut short.
	for i := range 6 {
		f.key("Acme", "many"+string(rune('a'+i)), "eeee000"+string(rune('0'+i))+"-0000-4000-8000-000000000000")
	}
	_, err = f.st.Key(ctx, "eeee", "")
	wantKind(t, "many", err, apikey.KindUsage, ", …")
}

// testKeyReferencesByName: a key may be named by its name, exactly or in
// any case, narrowed by its company; what names two keys is ambiguous.
func testKeyReferencesByName(t *testing.T, h Harness) {
	f := newFixture(t, h)
	acme := f.company("Acme", "ACME-1")
	globex := f.company("Globex", "")
	billingA, _ := f.key("Acme", "billing", "")
	billingG, _ := f.key("Globex", "billing", "")
	prodUpper, _ := f.key("Acme", "Prod", "")
	prodLower, _ := f.key("Acme", "prod", "")
	short, _ := f.key("Acme", "abc", "")
	f.key("Globex", "beef", "")
	beef, _ := f.key("Globex", "other", "beef0000-0000-4000-8000-000000000001")

	for _, c := range []struct {
		ref, company, want string
	}{
		{"billing", "Acme", billingA.ID},
		{"billing", acme.ID, billingA.ID},
		{"BILLING", "acme-1", billingA.ID},
		{"billing", "globex", billingG.ID},
		{"billing", globex.ID, billingG.ID},
		{"Prod", "", prodUpper.ID},
		{"prod", "", prodLower.ID},
		{"prod", "Acme", prodLower.ID},
		{"abc", "", short.ID},
		{beef.ID, "", beef.ID},
		{beef.ID, "Globex", beef.ID},
	} {
		k, err := f.st.Key(ctx, c.ref, c.company)
		if err != nil || k.ID != c.want {
			t.Errorf("Key(%q, %q) = %s %q, %v; want %s", c.ref, c.company, k.ID, k.Name, err, c.want)
		}
	}
	for _, c := range []struct {
		ref, company string
		kind         apikey.Kind
		text         string
	}{
		{"billing", "", apikey.KindUsage, `key reference "billing" is ambiguous: it matches`},
		{"PROD", "", apikey.KindUsage, `key reference "PROD" is ambiguous`},
		{"beef", "", apikey.KindUsage, `key reference "beef" is ambiguous`},
		{"beef", "Globex", apikey.KindUsage, "ambiguous"},
		{"prod", "Globex", apikey.KindNotFound, `key "prod" not found`},
		{beef.ID, "Acme", apikey.KindNotFound, "not found"},
		{"billing", "Initech", apikey.KindNotFound, `company "Initech" not found`},
	} {
		_, err := f.st.Key(ctx, c.ref, c.company)
		wantKind(t, "Key("+c.ref+", "+c.company+")", err, c.kind, c.text)
	}
	if _, err := f.st.Key(ctx, "billing", ""); err != nil && (!strings.Contains(err.Error(), billingA.ID) || !strings.Contains(err.Error(), billingG.ID)) {
		t.Errorf("the candidates of an ambiguous name: %v", err)
	}

	// Every method that takes key references resolves names the same way.
	res, err := f.st.SetStatus(ctx, []string{"billing"}, "Acme", store.Disable, "t")
	if err != nil || len(res) != 1 || res[0].Key.ID != billingA.ID || !res[0].Changed {
		t.Errorf("SetStatus by name: %+v, %v", res, err)
	}
	_, err = f.st.SetStatus(ctx, []string{"billing"}, "", store.Disable, "t")
	wantKind(t, "SetStatus ambiguous", err, apikey.KindUsage, "ambiguous")
	name := "invoices"
	if k, err := f.st.UpdateKey(ctx, "BILLING", globex.ID, store.KeyUpdate{Name: &name}, "t"); err != nil || k.ID != billingG.ID {
		t.Errorf("UpdateKey by name: %+v, %v", k, err)
	}
	// The name is free in Globex now; Acme's billing is the only one.
	if k, err := f.st.Key(ctx, "billing", ""); err != nil || k.ID != billingA.ID {
		t.Errorf("after the rename: %+v, %v", k, err)
	}
	if es := f.events(store.EventFilter{Key: "invoices", Company: "Globex"}); len(es) != 2 || es[0].Action != apikey.ActionKeyUpdate {
		t.Errorf("history by key name: %v", actions(es))
	}
}

func testSetStatus(t *testing.T, h Harness) {
	f := newFixture(t, h)
	f.company("Acme", "")
	one, _ := f.key("Acme", "one", "")
	two, _ := f.key("Acme", "two", "", func(n *store.NewKey) { n.Status = apikey.StatusInactive })

	f.now = f.now.Add(time.Minute)
	res, err := f.st.SetStatus(ctx, []string{one.ID, two.ID}, "", store.Toggle, "tester")
	if err != nil || len(res) != 2 || res[0].Key.Status != apikey.StatusInactive || res[1].Key.Status != apikey.StatusActive || !res[0].Changed || !res[1].Changed {
		t.Fatalf("toggle: %+v, %v", res, err)
	}
	if !res[0].Key.UpdatedAt.Equal(f.now) {
		t.Errorf("updated_at %v", res[0].Key.UpdatedAt)
	}
	if k, err := f.st.Key(ctx, one.ID, ""); err != nil || k.Status != apikey.StatusInactive || !k.UpdatedAt.Equal(f.now) {
		t.Errorf("stored after toggle: %+v, %v", k, err)
	}
	before := f.lastChange()
	res, err = f.st.SetStatus(ctx, []string{two.ID}, "", store.Enable, "tester")
	if err != nil || res[0].Changed || res[0].Key.Status != apikey.StatusActive {
		t.Errorf("enable an active key: %+v, %v", res, err)
	}
	if f.lastChange() != before {
		t.Error("an unchanged key recorded an event")
	}
	res, err = f.st.SetStatus(ctx, []string{one.ID, two.ID}, "", store.Disable, "oncall")
	if err != nil || res[0].Changed || !res[1].Changed {
		t.Errorf("disable: %+v, %v", res, err)
	}
	es := f.events(store.EventFilter{Limit: 1})
	if es[0].Action != apikey.ActionKeyDisable || es[0].Actor != "oncall" || es[0].Key.ID != two.ID {
		t.Errorf("event %+v", es[0])
	}

	// One unknown among several: none changes.
	before = f.lastChange()
	_, err = f.st.SetStatus(ctx, []string{one.ID, "00000000", two.ID}, "", store.Enable, "tester")
	wantKind(t, "unknown among several", err, apikey.KindNotFound, `key "00000000" not found`)
	// Nor when a key is not of the company given.
	f.company("Globex", "")
	_, err = f.st.SetStatus(ctx, []string{one.ID}, "Globex", store.Enable, "tester")
	wantKind(t, "another company's key", err, apikey.KindNotFound, "not found")
	for _, k := range f.keys(store.KeyFilter{}) {
		if k.Status != apikey.StatusInactive {
			t.Errorf("%s changed to %s", k.Name, k.Status)
		}
	}
	if got := f.eventsAfter(before); len(got) != 1 || got[0].Action != apikey.ActionCompanyCreate {
		t.Errorf("a refused change recorded events: %v", actions(got))
	}
}

// testSetStatusWithDetails: scan disables the keys whose secrets it found,
// and each key.disable event says where; a key left as it was records
// nothing.
func testSetStatusWithDetails(t *testing.T, h Harness) {
	f := newFixture(t, h)
	f.company("Acme", "")
	one, _ := f.key("Acme", "one", "")
	two, _ := f.key("Acme", "two", "", func(n *store.NewKey) { n.Status = apikey.StatusInactive })
	before := f.lastChange()
	var asked []string
	res, err := f.st.SetStatus(ctx, []string{one.ID, two.ID}, "", store.Disable, "scanner",
		store.WithDetails(func(k apikey.Key) map[string]any {
			asked = append(asked, k.Name)
			return map[string]any{"found_in": "config/" + k.Name + ".env:3", "findings": 2}
		}))
	if err != nil || len(res) != 2 || !res[0].Changed || res[1].Changed || res[0].Key.Status != apikey.StatusInactive {
		t.Fatalf("disable: %+v, %v", res, err)
	}
	if len(asked) != 1 || asked[0] != "one" {
		t.Errorf("details were asked of %q, want only the key that changed", asked)
	}
	es := f.eventsAfter(before)
	if len(es) != 1 || es[0].Action != apikey.ActionKeyDisable || es[0].Key.ID != one.ID || es[0].Actor != "scanner" {
		t.Fatalf("events %v", actions(es))
	}
	d := es[0].Details
	if d["found_in"] != "config/one.env:3" || fmt.Sprint(d["findings"]) != "2" || len(d) != 2 {
		t.Errorf("details %v", d)
	}
	// A nil map records no details, as SetStatus without the option does.
	_, err = f.st.SetStatus(ctx, []string{one.ID}, "", store.Enable, "t", store.WithDetails(func(apikey.Key) map[string]any { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if es := f.events(store.EventFilter{Limit: 1}); es[0].Action != apikey.ActionKeyEnable || len(es[0].Details) != 0 {
		t.Errorf("enable recorded %+v", es[0])
	}
}

func testUpdateKey(t *testing.T, h Harness) {
	f := newFixture(t, h)
	f.company("Acme", "")
	k, _ := f.key("Acme", "one", "", func(n *store.NewKey) {
		n.Scopes = []string{"a"}
		n.Metadata = map[string]string{"keep": "1", "drop": "2"}
	})
	f.key("Acme", "taken", "")

	f.now = f.now.Add(time.Minute)
	name := "renamed"
	exp := f.now.Add(24 * time.Hour)
	got, err := f.st.UpdateKey(ctx, k.ID[:8], "", store.KeyUpdate{
		Name: &name, ExpiresAt: &exp, Scopes: []string{"b", "c"}, Metadata: map[string]string{"drop": "", "add": "3"},
	}, "tester")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != name || !got.ExpiresAt.Equal(exp) || !reflect.DeepEqual(got.Scopes, []string{"b", "c"}) ||
		!reflect.DeepEqual(got.Metadata, map[string]string{"keep": "1", "add": "3"}) || !got.UpdatedAt.Equal(f.now) || got.Hint != k.Hint {
		t.Errorf("UpdateKey = %+v", got)
	}
	stored, _ := f.st.Key(ctx, k.ID, "")
	if !reflect.DeepEqual(stored, got) {
		t.Errorf("stored %+v\nreturned %+v", stored, got)
	}
	es := f.events(store.EventFilter{Key: k.ID, Limit: 1})
	d := es[0].Details
	if es[0].Action != apikey.ActionKeyUpdate || d["name"] == nil || d["expires_at"] == nil || d["scopes"] == nil || d["metadata"] == nil {
		t.Errorf("event details %v", d)
	}
	if es[0].Key.Name != "renamed" {
		t.Errorf("the event names the key %q, want its new name", es[0].Key.Name)
	}

	got, err = f.st.UpdateKey(ctx, k.ID, "", store.KeyUpdate{ClearExpiry: true, Scopes: []string{}}, "tester")
	if err != nil || got.ExpiresAt != nil || len(got.Scopes) != 0 || got.Scopes == nil {
		t.Errorf("clear: %+v, %v", got, err)
	}
	if stored, _ := f.st.Key(ctx, k.ID, ""); stored.ExpiresAt != nil || stored.Scopes == nil || len(stored.Scopes) != 0 {
		t.Errorf("stored after clear: %+v", stored)
	}

	before := f.lastChange()
	if _, err := f.st.UpdateKey(ctx, k.ID, "", store.KeyUpdate{Name: &name, ClearExpiry: true, Scopes: []string{}, Metadata: map[string]string{"nothere": ""}}, "tester"); err != nil {
		t.Fatal(err)
	}
	if f.lastChange() != before {
		t.Error("an update that changed nothing recorded an event")
	}

	taken := "taken"
	_, err = f.st.UpdateKey(ctx, k.ID, "", store.KeyUpdate{Name: &taken}, "tester")
	wantKind(t, "rename onto another", err, apikey.KindConflict, `already has a key named "taken"`)
	bad := "a\tb"
	_, err = f.st.UpdateKey(ctx, k.ID, "", store.KeyUpdate{Name: &bad}, "tester")
	wantKind(t, "bad name", err, apikey.KindUsage, "control characters")
	_, err = f.st.UpdateKey(ctx, k.ID, "", store.KeyUpdate{Scopes: []string{"a b"}}, "tester")
	wantKind(t, "bad scope", err, apikey.KindUsage, "must not contain spaces")
	_, err = f.st.UpdateKey(ctx, "ffffffff", "", store.KeyUpdate{Name: &bad}, "tester")
	wantKind(t, "unknown", err, apikey.KindNotFound, "not found")
	if f.lastChange() != before {
		t.Error("a refused update recorded events")
	}
	// A rename to another case of its own name is a change.
	upper := "RENAMED"
	if got, err := f.st.UpdateKey(ctx, k.ID, "", store.KeyUpdate{Name: &upper}, "tester"); err != nil || got.Name != upper {
		t.Errorf("change of case: %+v, %v", got, err)
	}
}

func testRotateKeyAndGrace(t *testing.T, h Harness) {
	f := newFixture(t, h)
	f.company("Acme", "")
	k, old := f.key("Acme", "one", "")

	lookup := func(secret string) (store.Presented, bool) {
		t.Helper()
		p, found, err := f.st.LookupSecret(ctx, apikey.HashSecret(secret))
		if err != nil {
			t.Fatal(err)
		}
		return p, found
	}
	if p, found := lookup(old); !found || p.Key.ID != k.ID || p.SecretExpiresAt != nil {
		t.Fatalf("lookup before rotation: %+v %v", p, found)
	}

	// Without grace the old secret stops at once.
	second, m, _ := apikey.MintSecret("ak", k.ID, nil)
	f.now = f.now.Add(time.Minute)
	rk, err := f.st.RotateKey(ctx, k.ID, m, 0, "tester")
	if err != nil || rk.ID != k.ID || rk.Hint != m.Hint || rk.Name != "one" || !rk.UpdatedAt.Equal(f.now) {
		t.Fatalf("rotate: %+v, %v", rk, err)
	}
	if _, found := lookup(old); found {
		t.Error("old secret still found after a rotation without grace")
	}
	if p, found := lookup(second); !found || p.SecretExpiresAt != nil || p.Key.Hint != m.Hint {
		t.Error("new secret not found")
	}
	es := f.events(store.EventFilter{Key: k.ID, Limit: 1})
	if es[0].Action != apikey.ActionKeyRotate || es[0].Details["previous_hint"] != k.Hint || es[0].Details["hint"] != m.Hint {
		t.Errorf("event %+v", es[0])
	}

	// With grace the old one works until the grace ends, and Judge says so.
	third, m3, _ := apikey.MintSecret("ak", k.ID, nil)
	if _, err := f.st.RotateKey(ctx, k.ID, m3, time.Hour, "tester"); err != nil {
		t.Fatal(err)
	}
	p, found := lookup(second)
	if !found || p.SecretExpiresAt == nil || !p.SecretExpiresAt.Equal(f.now.Add(time.Hour)) {
		t.Fatalf("old secret in grace: %+v %v", p, found)
	}
	if r := apikey.Judge(p.Key, p.SecretExpiresAt, "", f.now.Add(59*time.Minute)); r != apikey.ReasonNone {
		t.Errorf("in grace: %q", r)
	}
	if r := apikey.Judge(p.Key, p.SecretExpiresAt, "", f.now.Add(time.Hour)); r != apikey.ReasonInvalid {
		t.Errorf("after grace: %q", r)
	}
	if _, found := lookup(third); !found {
		t.Error("newest secret not found")
	}
	if es := f.events(store.EventFilter{Key: k.ID, Limit: 1}); es[0].Details["grace_until"] != f.now.Add(time.Hour).Format(time.RFC3339) {
		t.Errorf("event %+v", es[0])
	}

	// A later rotation sweeps secrets whose grace is over.
	f.now = f.now.Add(2 * time.Hour)
	_, m4, _ := apikey.MintSecret("ak", k.ID, nil)
	if _, err := f.st.RotateKey(ctx, k.ID, m4, time.Hour, "tester"); err != nil {
		t.Fatal(err)
	}
	if _, found := lookup(second); found {
		t.Error("a secret past its grace was not swept")
	}
	if p, found := lookup(third); !found || p.SecretExpiresAt == nil {
		t.Error("the secret just replaced should be in its grace")
	}

	// A rotation with a shorter grace shortens the grace of the secrets
	// still in an earlier one; it never lengthens it.
	fifth, m5, _ := apikey.MintSecret("ak", k.ID, nil)
	f.now = f.now.Add(time.Minute)
	if _, err := f.st.RotateKey(ctx, k.ID, m5, 10*time.Minute, "tester"); err != nil {
		t.Fatal(err)
	}
	if p, found := lookup(third); !found || p.SecretExpiresAt == nil || !p.SecretExpiresAt.Equal(f.now.Add(10*time.Minute)) {
		t.Errorf("a secret in an earlier grace keeps %+v after a shorter one", p.SecretExpiresAt)
	}
	_, m6, _ := apikey.MintSecret("ak", k.ID, nil)
	if _, err := f.st.RotateKey(ctx, k.ID, m6, 5*time.Hour, "tester"); err != nil {
		t.Fatal(err)
	}
	if p, found := lookup(third); !found || p.SecretExpiresAt == nil || !p.SecretExpiresAt.Equal(f.now.Add(10*time.Minute)) {
		t.Errorf("a longer grace lengthened an earlier one to %+v", p.SecretExpiresAt)
	}
	if p, found := lookup(fifth); !found || p.SecretExpiresAt == nil || !p.SecretExpiresAt.Equal(f.now.Add(5*time.Hour)) {
		t.Errorf("the secret just replaced: %+v %v", p, found)
	}

	// A rotation without grace, as after a leak, stops every earlier
	// secret, those still in a grace included.
	seventh, m7, _ := apikey.MintSecret("ak", k.ID, nil)
	if _, err := f.st.RotateKey(ctx, k.ID, m7, 0, "tester"); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"third": third, "fifth": fifth} {
		if _, found := lookup(s); found {
			t.Errorf("the %s secret, in an earlier grace, still works after a rotation without grace", name)
		}
	}
	if _, found := lookup(seventh); !found {
		t.Error("the newest secret is not found")
	}

	_, err = f.st.RotateKey(ctx, "00000000-0000-4000-8000-000000000000", m4, 0, "tester")
	wantKind(t, "unknown", err, apikey.KindNotFound, "not found")
}

func testSealedSecret(t *testing.T, h Harness) {
	f := newFixture(t, h)
	f.company("Acme", "")
	sealer, err := apikey.ParseMasterKey("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	if err != nil {
		t.Fatal(err)
	}
	id := newID()
	secret, m, _ := apikey.MintSecret("ak", id, sealer)
	k, err := f.st.CreateKey(ctx, store.NewKey{ID: id, Company: "Acme", Name: "sealed", Status: apikey.StatusActive, Secret: m, Actor: "t"})
	if err != nil || !k.Sealed {
		t.Fatalf("create sealed: %+v, %v", k, err)
	}
	open := func(b []byte) (string, error) { return sealer.Open(id, b) }
	got, err := f.st.SealedSecret(ctx, id, "revealer", open)
	if err != nil || got != secret {
		t.Fatalf("SealedSecret = %q, %v", got, err)
	}
	if es := f.events(store.EventFilter{Limit: 1}); es[0].Action != apikey.ActionKeyReveal || es[0].Actor != "revealer" {
		t.Errorf("event %+v", es[0])
	}

	// A copy that does not open: the error, and no event.
	before := f.lastChange()
	wrong := apikey.Usagef("cannot open")
	_, err = f.st.SealedSecret(ctx, id, "t", func([]byte) (string, error) { return "", wrong })
	if err != wrong {
		t.Errorf("opener's error: %v", err)
	}
	if f.lastChange() != before {
		t.Error("a failed reveal recorded an event")
	}

	// After a rotation without a master key, nothing can be revealed.
	_, m2, _ := apikey.MintSecret("ak", id, nil)
	rk, err := f.st.RotateKey(ctx, id, m2, time.Hour, "t")
	if err != nil || rk.Sealed {
		t.Fatalf("rotate: %+v %v", rk, err)
	}
	_, err = f.st.SealedSecret(ctx, id, "t", open)
	wantKind(t, "unsealed", err, apikey.KindUsage, "cannot be revealed: it was created without a master key")
	plain, _ := f.key("Acme", "plain", "")
	_, err = f.st.SealedSecret(ctx, plain.ID, "t", open)
	wantKind(t, "plain", err, apikey.KindUsage, "cannot be revealed")
	_, err = f.st.SealedSecret(ctx, "00000000-0000-4000-8000-000000000000", "t", open)
	wantKind(t, "unknown", err, apikey.KindNotFound, "not found")
}

// testSealedFollowsTheCurrentSecret checks that create and rotate keep the
// sealed flag of a key in step with its current secret.
func testSealedFollowsTheCurrentSecret(t *testing.T, h Harness) {
	f := newFixture(t, h)
	n, _ := newKey(t, "Acme", "k")
	n.Secret.Sealed = []byte("sealed")
	k, err := f.st.CreateKey(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	check := func(step string, want bool) {
		t.Helper()
		got, err := f.st.Key(ctx, k.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if got.Sealed != want {
			t.Errorf("after %s: Sealed %v, want %v", step, got.Sealed, want)
		}
		listed := f.keys(store.KeyFilter{})
		if len(listed) != 1 || listed[0].Sealed != want {
			t.Errorf("after %s: EachKey lists %+v, want Sealed %v", step, listed, want)
		}
	}
	check("create with a master key", true)
	plain, _ := newKey(t, "Acme", "unused")
	if _, err := f.st.RotateKey(ctx, k.ID, plain.Secret, time.Hour, "test"); err != nil {
		t.Fatal(err)
	}
	check("rotate without a master key", false)
	sealed, _ := newKey(t, "Acme", "unused")
	sealed.Secret.Sealed = []byte("sealed")
	if _, err := f.st.RotateKey(ctx, k.ID, sealed.Secret, 0, "test"); err != nil {
		t.Fatal(err)
	}
	check("rotate with a master key", true)
}

func testDeleteKeysAndTheTrail(t *testing.T, h Harness) {
	f := newFixture(t, h)
	f.company("Acme", "")
	one, s1 := f.key("Acme", "one", "abcd1111-0000-4000-8000-000000000001")
	two, _ := f.key("Acme", "two", "abcd2222-0000-4000-8000-000000000002")
	three, _ := f.key("Acme", "three", "")

	before := f.lastChange()
	err := f.st.DeleteKeys(ctx, []string{one.ID, "00000000-0000-4000-8000-000000000000"}, "t")
	wantKind(t, "unknown among several", err, apikey.KindNotFound, "not found")
	if len(f.keys(store.KeyFilter{})) != 3 || f.lastChange() != before {
		t.Fatal("a refused delete changed the store")
	}

	if err := f.st.DeleteKeys(ctx, []string{one.ID, two.ID}, "oncall"); err != nil {
		t.Fatal(err)
	}
	if ks := f.keys(store.KeyFilter{}); len(ks) != 1 || ks[0].ID != three.ID {
		t.Errorf("left: %v", ks)
	}
	if _, found, _ := f.st.LookupSecret(ctx, apikey.HashSecret(s1)); found {
		t.Error("secret of a deleted key still found")
	}
	if es := f.eventsAfter(before); len(es) != 2 || es[0].Action != apikey.ActionKeyDelete || es[1].Action != apikey.ActionKeyDelete || es[1].Seq != f.lastChange() {
		t.Errorf("events of the delete: %+v, LastChange %d", es, f.lastChange())
	}
	if cs, _ := f.st.ListCompanies(ctx); len(cs) != 1 || cs[0].Keys != 1 {
		t.Errorf("companies after the delete: %+v", cs)
	}

	// Deleted keys keep their trail, by id or prefix; a prefix shared by two
	// deleted keys is ambiguous.
	es := f.events(store.EventFilter{Key: one.ID})
	if len(es) != 2 || es[0].Action != apikey.ActionKeyDelete || es[0].Actor != "oncall" || es[0].Key.Name != "one" || es[0].Details["hint"] != one.Hint {
		t.Errorf("trail of a deleted key: %+v", es)
	}
	if es := f.events(store.EventFilter{Key: "ABCD2"}); len(es) != 2 || es[0].Key.ID != two.ID {
		t.Errorf("by prefix: %+v", es)
	}
	_, err = f.st.Events(ctx, store.EventFilter{Key: "abcd"})
	wantKind(t, "ambiguous deleted", err, apikey.KindUsage, `key reference "abcd" is ambiguous`)
	_, err = f.st.Events(ctx, store.EventFilter{Key: "ffffffff"})
	wantKind(t, "never existed", err, apikey.KindNotFound, "not found")
	_, err = f.st.Events(ctx, store.EventFilter{Company: "Globex"})
	wantKind(t, "unknown company", err, apikey.KindNotFound, "not found")
	err = f.st.DeleteKeys(ctx, []string{one.ID}, "t")
	wantKind(t, "deleted twice", err, apikey.KindNotFound, "not found")
}

func testTouchKeys(t *testing.T, h Harness) {
	f := newFixture(t, h)
	f.company("Acme", "")
	k, _ := f.key("Acme", "one", "")
	other, _ := f.key("Acme", "other", "")
	before := f.lastChange()
	t1 := f.now.Add(time.Hour)
	// A key given twice keeps its latest time, before or after the other;
	// an unknown key is passed over, and so is a key given with another
	// creation time than its own.
	use := func(k apikey.Key, at time.Time) store.KeyUse {
		return store.KeyUse{KeyID: k.ID, CreatedAt: k.CreatedAt, At: at}
	}
	wrongCreation := use(other, t1)
	wrongCreation.CreatedAt = other.CreatedAt.Add(time.Microsecond)
	if err := f.st.TouchKeys(ctx, []store.KeyUse{use(k, t1.Add(-time.Minute)), {KeyID: "00000000-0000-4000-8000-000000000000", CreatedAt: k.CreatedAt, At: t1},
		use(k, t1), wrongCreation, use(k, t1.Add(-2*time.Minute))}); err != nil {
		t.Fatal(err)
	}
	got, _ := f.st.Key(ctx, k.ID, "")
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(t1) || !got.UpdatedAt.Equal(k.UpdatedAt) {
		t.Errorf("last used %v, want %v (updated %v)", got.LastUsedAt, t1, got.UpdatedAt)
	}
	if got, _ := f.st.Key(ctx, other.ID, ""); got.LastUsedAt != nil {
		t.Errorf("another key's last use %v", got.LastUsedAt)
	}
	if listed := f.keys(store.KeyFilter{}); listed[0].LastUsedAt == nil || !listed[0].LastUsedAt.Equal(t1) {
		t.Errorf("EachKey lists last use %v", listed[0].LastUsedAt)
	}
	if err := f.st.TouchKeys(ctx, []store.KeyUse{use(k, t1.Add(-time.Minute))}); err != nil {
		t.Fatal(err)
	}
	got, _ = f.st.Key(ctx, k.ID, "")
	if !got.LastUsedAt.Equal(t1) {
		t.Errorf("an older use moved last used back to %v", got.LastUsedAt)
	}
	if err := f.st.TouchKeys(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if f.lastChange() != before {
		t.Error("recording use wrote events")
	}
}

// jsonOf is v as JSON: values rather than the addresses of pointers, maps
// in order.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testLimitsAndLegacy stores a key's rate limit and allowlist in canonical
// form, reads them back through every read, changes and clears them with
// the change recorded, refuses bad ones, and keeps the legacy mark.
func testLimitsAndLegacy(t *testing.T, h Harness) {
	f := newFixture(t, h)
	f.company("Acme", "")
	k, secret := f.key("Acme", "limited", "", func(n *store.NewKey) {
		n.RateLimit = "100/m"
		n.AllowedIPs = []string{"203.0.113.7", "10.1.2.3/8", "::ffff:192.0.2.1", "203.0.113.7/32"}
		n.Legacy = true
	})
	wantIPs := []string{"203.0.113.7/32", "10.0.0.0/8", "192.0.2.1/32"}
	check := func(what string, got apikey.Key, rate string, ips []string) {
		t.Helper()
		if got.RateLimit != rate || !slices.Equal(got.AllowedIPs, ips) || got.AllowedIPs == nil || !got.Legacy {
			t.Errorf("%s: rate %q, ips %q, legacy %v; want %q, %q, true", what, got.RateLimit, got.AllowedIPs, got.Legacy, rate, ips)
		}
	}
	check("CreateKey", k, "100/m", wantIPs)
	got, err := f.st.Key(ctx, k.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	check("Key", got, "100/m", wantIPs)
	p, found, err := f.st.LookupSecret(ctx, apikey.HashSecret(secret))
	if err != nil || !found {
		t.Fatal(found, err)
	}
	check("LookupSecret", p.Key, "100/m", wantIPs)
	check("EachKey", f.keys(store.KeyFilter{})[0], "100/m", wantIPs)
	e := f.events(store.EventFilter{Limit: 1})[0]
	if e.Details["rate_limit"] != "100/m" || fmt.Sprint(e.Details["allowed_ips"]) != fmt.Sprint(wantIPs) || e.Details["legacy"] != true {
		t.Errorf("key.create details %v", e.Details)
	}

	// Changed, then cleared, each recorded from and to.
	rate := "5/s"
	k, err = f.st.UpdateKey(ctx, k.ID, "", store.KeyUpdate{RateLimit: &rate, AllowedIPs: []string{"2001:db8::1"}}, "t")
	if err != nil {
		t.Fatal(err)
	}
	check("UpdateKey", k, "5/s", []string{"2001:db8::1/128"})
	e = f.events(store.EventFilter{Limit: 1})[0]
	if fmt.Sprint(e.Details["rate_limit"]) != "map[from:100/m to:5/s]" || fmt.Sprint(e.Details["allowed_ips"]) != "map[from:[203.0.113.7/32 10.0.0.0/8 192.0.2.1/32] to:[2001:db8::1/128]]" {
		t.Errorf("key.update details %v", e.Details)
	}
	none := ""
	k, err = f.st.UpdateKey(ctx, k.ID, "", store.KeyUpdate{RateLimit: &none, AllowedIPs: []string{}}, "t")
	if err != nil {
		t.Fatal(err)
	}
	check("cleared", k, "", []string{})
	got, _ = f.st.Key(ctx, k.ID, "")
	check("cleared, read back", got, "", []string{})
	before := f.lastChange()
	if _, err := f.st.UpdateKey(ctx, k.ID, "", store.KeyUpdate{RateLimit: &none, AllowedIPs: []string{}}, "t"); err != nil || f.lastChange() != before {
		t.Errorf("clearing what is clear recorded an event (%v)", err)
	}

	// Bad values: a usage error, nothing stored.
	bad := "100/d"
	_, err = f.st.UpdateKey(ctx, k.ID, "", store.KeyUpdate{RateLimit: &bad}, "t")
	wantKind(t, "bad rate", err, apikey.KindUsage, "invalid rate limit")
	_, err = f.st.UpdateKey(ctx, k.ID, "", store.KeyUpdate{AllowedIPs: []string{"10.0.0.0/33"}}, "t")
	wantKind(t, "bad cidr", err, apikey.KindUsage, "invalid address or CIDR")
	id := newID()
	_, m, _ := apikey.MintSecret("ak", id, nil)
	_, err = f.st.CreateKey(ctx, store.NewKey{ID: id, Company: "Acme", Name: "bad", Status: apikey.StatusActive, Secret: m, Actor: "t", RateLimit: "0/s"})
	wantKind(t, "bad new rate", err, apikey.KindUsage, "invalid rate limit")
	if f.lastChange() != before {
		t.Error("a refused change recorded an event")
	}
}
