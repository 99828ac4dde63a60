package store_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
)

func TestCompanies(t *testing.T) {
	f := newFixture(t)
	acme := f.company("Acme", "")
	muller := f.company("Müller & Söhne", "273-542-26244")
	if acme.ID == muller.ID || len(acme.ID) != 36 {
		t.Fatalf("ids %q, %q", acme.ID, muller.ID)
	}
	if !acme.CreatedAt.Equal(f.now) || !acme.UpdatedAt.Equal(f.now) {
		t.Errorf("timestamps %v %v, want %v", acme.CreatedAt, acme.UpdatedAt, f.now)
	}

	// Names are unique in any case, across Unicode; refs are unique.
	before := f.lastChange()
	_, err := f.st.CreateCompany(ctx, "ACME", "", "t")
	wantKind(t, "duplicate name", err, apikey.KindConflict, `company "Acme" already exists`)
	_, err = f.st.CreateCompany(ctx, "MÜLLER & SÖHNE", "", "t")
	wantKind(t, "duplicate unicode name", err, apikey.KindConflict, "already exists")
	_, err = f.st.CreateCompany(ctx, "Other", "273-542-26244", "t")
	wantKind(t, "duplicate ref", err, apikey.KindConflict, `ref "273-542-26244" already belongs to company "Müller & Söhne"`)
	_, err = f.st.CreateCompany(ctx, "bad\nname", "", "t")
	wantKind(t, "control character", err, apikey.KindUsage, "control characters")
	_, err = f.st.CreateCompany(ctx, "Ok", "bad\tref", "t")
	wantKind(t, "bad ref", err, apikey.KindUsage, "ref must not contain control characters")
	if f.lastChange() != before {
		t.Error("a refused create recorded an event")
	}

	// Resolution: id (any case), name (any case), ref, unique id prefix.
	for _, ref := range []string{acme.ID, strings.ToUpper(acme.ID), "acme", "ACME", acme.ID[:8]} {
		c, err := f.st.Company(ctx, ref)
		if err != nil || c.ID != acme.ID {
			t.Errorf("Company(%q) = %v, %v", ref, c.Name, err)
		}
	}
	if c, err := f.st.Company(ctx, "273-542-26244"); err != nil || c.ID != muller.ID {
		t.Errorf("by ref: %v, %v", c.Name, err)
	}
	_, err = f.st.Company(ctx, "Globex")
	wantKind(t, "unknown", err, apikey.KindNotFound, `company "Globex" not found`)
	_, err = f.st.Company(ctx, acme.ID[:3])
	wantKind(t, "short prefix", err, apikey.KindNotFound, "not found")
	_, err = f.st.Company(ctx, " ")
	wantKind(t, "blank", err, apikey.KindUsage, "must not be empty")

	// List, by name, with key counts.
	f.key(acme.ID, "k1", "")
	f.key(acme.ID, "k2", "")
	cs, err := f.st.ListCompanies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Name != "Acme" || cs[0].Keys != 2 || cs[1].Keys != 0 || cs[1].Ref != "273-542-26244" {
		t.Errorf("ListCompanies = %+v", cs)
	}

	// Update: rename (a change of case too), change and remove the ref.
	f.now = f.now.Add(time.Hour)
	name := "ACME Corp"
	c, err := f.st.UpdateCompany(ctx, "acme", store.CompanyUpdate{Name: &name}, "tester")
	if err != nil || c.Name != name || c.ID != acme.ID || !c.UpdatedAt.Equal(f.now) {
		t.Fatalf("rename: %+v, %v", c, err)
	}
	name = "Acme Corp"
	if c, err = f.st.UpdateCompany(ctx, acme.ID, store.CompanyUpdate{Name: &name}, "tester"); err != nil || c.Name != name {
		t.Fatalf("change of case: %+v, %v", c, err)
	}
	ref := "B-1"
	if c, err = f.st.UpdateCompany(ctx, acme.ID, store.CompanyUpdate{Ref: &ref}, "tester"); err != nil || c.Ref != "B-1" {
		t.Fatalf("set ref: %+v, %v", c, err)
	}
	empty := ""
	if c, err = f.st.UpdateCompany(ctx, "B-1", store.CompanyUpdate{Ref: &empty}, "tester"); err != nil || c.Ref != "" {
		t.Fatalf("remove ref: %+v, %v", c, err)
	}
	before = f.lastChange()
	if _, err = f.st.UpdateCompany(ctx, acme.ID, store.CompanyUpdate{Name: &name, Ref: &empty}, "tester"); err != nil {
		t.Fatal(err)
	}
	if f.lastChange() != before {
		t.Error("an update that changed nothing recorded an event")
	}
	taken := "müller & söhne"
	_, err = f.st.UpdateCompany(ctx, acme.ID, store.CompanyUpdate{Name: &taken}, "tester")
	wantKind(t, "rename onto another", err, apikey.KindConflict, "already exists")
	takenRef := "273-542-26244"
	_, err = f.st.UpdateCompany(ctx, acme.ID, store.CompanyUpdate{Ref: &takenRef}, "tester")
	wantKind(t, "ref of another", err, apikey.KindConflict, "already belongs")
	es := f.events(store.EventFilter{Company: acme.ID, Limit: 1})
	if es[0].Action != apikey.ActionCompanyUpdate || es[0].Details["ref"] == nil {
		t.Errorf("last event %+v", es[0])
	}
}

func TestDeleteCompanies(t *testing.T) {
	f := newFixture(t)
	acme := f.company("Acme", "ACME-0")
	newRef := "ACME-1"
	if _, err := f.st.UpdateCompany(ctx, acme.ID, store.CompanyUpdate{Ref: &newRef}, "tester"); err != nil {
		t.Fatal(err)
	}
	empty := f.company("Empty", "")
	_, secret := f.key(acme.ID, "k1", "")
	f.key(acme.ID, "k2", "")

	before := f.lastChange()
	err := f.st.DeleteCompanies(ctx, []string{empty.ID, acme.ID}, false, "tester")
	wantKind(t, "owns keys", err, apikey.KindConflict, `company "Acme" still owns 2 key(s)`)
	err = f.st.DeleteCompanies(ctx, []string{empty.ID, "00000000-0000-4000-8000-000000000000"}, false, "tester")
	wantKind(t, "unknown", err, apikey.KindNotFound, "not found")
	if f.lastChange() != before {
		t.Fatal("a refused delete recorded events")
	}
	if cs, _ := f.st.ListCompanies(ctx); len(cs) != 2 {
		t.Fatalf("a refused delete deleted: %d companies left", len(cs))
	}

	if err := f.st.DeleteCompanies(ctx, []string{empty.ID, acme.ID}, true, "oncall"); err != nil {
		t.Fatal(err)
	}
	if cs, _ := f.st.ListCompanies(ctx); len(cs) != 0 {
		t.Errorf("%d companies left", len(cs))
	}
	if ks := f.keys(store.KeyFilter{}); len(ks) != 0 {
		t.Errorf("%d keys left", len(ks))
	}
	if _, found, err := f.st.LookupSecret(ctx, apikey.HashSecret(secret)); err != nil || found {
		t.Errorf("secret of a deleted key still found: %v %v", found, err)
	}
	es := f.events(store.EventFilter{Limit: 4})
	actions := []string{es[0].Action, es[1].Action, es[2].Action, es[3].Action}
	if !reflect.DeepEqual(actions, []string{"company.delete", "key.delete", "key.delete", "company.delete"}) {
		t.Errorf("actions %v", actions)
	}
	if es[0].Actor != "oncall" || es[0].Company.Name != "Acme" || es[0].Details["keys"] != float64(2) {
		t.Errorf("company.delete event %+v", es[0])
	}

	// The trail outlives them: by former name, id, id prefix, or either
	// ref it had.
	for _, ref := range []string{"acme", acme.ID, acme.ID[:8], "ACME-0", "ACME-1"} {
		es := f.events(store.EventFilter{Company: ref})
		if len(es) != 7 { // company.create and .update, 2 key.create, 2 key.delete, company.delete
			t.Errorf("history of %q: %d events, want 7", ref, len(es))
		}
	}
	_, err = f.st.Events(ctx, store.EventFilter{Company: "ACME-2"})
	wantKind(t, "a ref it never had", err, apikey.KindNotFound, "not found")
}

func TestCreateKey(t *testing.T) {
	f := newFixture(t)
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
		Metadata: map[string]string{"shop": "x"}, CreatedAt: f.now, CreatedBy: "tester", UpdatedAt: f.now, ExpiresAt: &exp,
	}
	if !reflect.DeepEqual(k, want) {
		t.Errorf("CreateKey =\n%+v\nwant\n%+v", k, want)
	}
	got, err := f.st.Key(ctx, k.ID)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Key = %+v, %v", got, err)
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
	es := f.events(store.EventFilter{Limit: 2})
	if es[0].Action != apikey.ActionKeyCreate || es[1].Action != apikey.ActionCompanyCreate {
		t.Errorf("events %s, %s", es[0].Action, es[1].Action)
	}

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
}

func TestEachKeyFilters(t *testing.T) {
	f := newFixture(t)
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

	names := func(ks []apikey.Key) string {
		var out []string
		for _, k := range ks {
			out = append(out, k.Name)
		}
		return strings.Join(out, ",")
	}
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
	stop := apikey.Usagef("stop")
	n := 0
	err = f.st.EachKey(ctx, store.KeyFilter{Now: f.now}, func(apikey.Key) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("callback error: %v after %d keys", err, n)
	}
}

func TestKeyReferences(t *testing.T) {
	f := newFixture(t)
	f.company("Acme", "")
	one, _ := f.key("Acme", "one", "abcd1111-0000-4000-8000-000000000001")
	two, _ := f.key("Acme", "two", "abcd2222-0000-4000-8000-000000000002")
	exact, _ := f.key("Acme", "exact", "abcd3333-0000-4000-8000-000000000003")

	for ref, want := range map[string]string{
		one.ID: "one", "abcd1": "one", "ABCD2": "two", "abcd2222-0000": "two", exact.ID: "exact",
	} {
		k, err := f.st.Key(ctx, ref)
		if err != nil || k.Name != want {
			t.Errorf("Key(%q) = %q, %v; want %q", ref, k.Name, err, want)
		}
	}
	_, err := f.st.Key(ctx, "abcd")
	wantKind(t, "ambiguous", err, apikey.KindUsage, `key reference "abcd" is ambiguous: it matches abcd1111-0000-4000-8000-000000000001 (one, Acme), abcd2222`)
	_, err = f.st.Key(ctx, "abc")
	wantKind(t, "short", err, apikey.KindUsage, `key reference "abc" is too short: give at least 4 characters of the id`)
	_, err = f.st.Key(ctx, "one")
	wantKind(t, "a name", err, apikey.KindNotFound, `key "one" not found`)
	_, err = f.st.Key(ctx, "abcd9")
	wantKind(t, "unknown", err, apikey.KindNotFound, `key "abcd9" not found`)
	_, err = f.st.Key(ctx, "")
	wantKind(t, "empty", err, apikey.KindUsage, "must not be empty")

	ks, err := f.st.Keys(ctx, []string{"abcd2", one.ID, two.ID, "ABCD1111"})
	if err != nil || len(ks) != 2 || ks[0].Name != "two" || ks[1].Name != "one" {
		t.Errorf("Keys: each once, in order given: %v, %v", ks, err)
	}
	_, err = f.st.Keys(ctx, []string{one.ID, "abcd"})
	wantKind(t, "ambiguous among several", err, apikey.KindUsage, "ambiguous")

	// More than five candidates are cut short.
	for i := range 6 {
		f.key("Acme", "many"+string(rune('a'+i)), "eeee000"+string(rune('0'+i))+"-0000-4000-8000-000000000000")
	}
	_, err = f.st.Key(ctx, "eeee")
	wantKind(t, "many", err, apikey.KindUsage, ", …")
}

func TestAmbiguousCompanyPrefix(t *testing.T) {
	f := newFixture(t)
	f.company("Acme", "")
	f.company("Globex", "")
	raw(t, f.path, `UPDATE companies SET id = 'feed0000-0000-4000-8000-00000000000' || CASE name WHEN 'Acme' THEN 'a' ELSE 'b' END`)
	_, err := f.st.Company(ctx, "feed")
	wantKind(t, "ambiguous", err, apikey.KindUsage, `company reference "feed" is ambiguous: it matches feed0000-0000-4000-8000-00000000000a (Acme), feed0000-0000-4000-8000-00000000000b (Globex)`)
	if c, err := f.st.Company(ctx, "feed0000-0000-4000-8000-00000000000b"); err != nil || c.Name != "Globex" {
		t.Errorf("full id: %v %v", c.Name, err)
	}
	// A name wins over an id prefix.
	f.company("feed", "")
	if c, err := f.st.Company(ctx, "FEED"); err != nil || c.Name != "feed" {
		t.Errorf("a company named like a prefix: %v %v", c.Name, err)
	}
}

func TestSetStatus(t *testing.T) {
	f := newFixture(t)
	f.company("Acme", "")
	one, _ := f.key("Acme", "one", "")
	two, _ := f.key("Acme", "two", "", func(n *store.NewKey) { n.Status = apikey.StatusInactive })

	f.now = f.now.Add(time.Minute)
	res, err := f.st.SetStatus(ctx, []string{one.ID, two.ID}, store.Toggle, "tester")
	if err != nil || len(res) != 2 || res[0].Key.Status != apikey.StatusInactive || res[1].Key.Status != apikey.StatusActive || !res[0].Changed || !res[1].Changed {
		t.Fatalf("toggle: %+v, %v", res, err)
	}
	if !res[0].Key.UpdatedAt.Equal(f.now) {
		t.Errorf("updated_at %v", res[0].Key.UpdatedAt)
	}
	before := f.lastChange()
	res, err = f.st.SetStatus(ctx, []string{two.ID}, store.Enable, "tester")
	if err != nil || res[0].Changed || res[0].Key.Status != apikey.StatusActive {
		t.Errorf("enable an active key: %+v, %v", res, err)
	}
	if f.lastChange() != before {
		t.Error("an unchanged key recorded an event")
	}
	res, err = f.st.SetStatus(ctx, []string{one.ID, two.ID}, store.Disable, "oncall")
	if err != nil || res[0].Changed || !res[1].Changed {
		t.Errorf("disable: %+v, %v", res, err)
	}
	es := f.events(store.EventFilter{Limit: 1})
	if es[0].Action != apikey.ActionKeyDisable || es[0].Actor != "oncall" || es[0].Key.ID != two.ID {
		t.Errorf("event %+v", es[0])
	}

	// One unknown among several: none changes.
	before = f.lastChange()
	_, err = f.st.SetStatus(ctx, []string{one.ID, "00000000", two.ID}, store.Enable, "tester")
	wantKind(t, "unknown among several", err, apikey.KindNotFound, `key "00000000" not found`)
	for _, k := range f.keys(store.KeyFilter{}) {
		if k.Status != apikey.StatusInactive {
			t.Errorf("%s changed to %s", k.Name, k.Status)
		}
	}
	if f.lastChange() != before {
		t.Error("a refused change recorded events")
	}
}

func TestUpdateKey(t *testing.T) {
	f := newFixture(t)
	f.company("Acme", "")
	k, _ := f.key("Acme", "one", "", func(n *store.NewKey) {
		n.Scopes = []string{"a"}
		n.Metadata = map[string]string{"keep": "1", "drop": "2"}
	})
	f.key("Acme", "taken", "")

	f.now = f.now.Add(time.Minute)
	name := "renamed"
	exp := f.now.Add(24 * time.Hour)
	got, err := f.st.UpdateKey(ctx, k.ID[:8], store.KeyUpdate{
		Name: &name, ExpiresAt: &exp, Scopes: []string{"b", "c"}, Metadata: map[string]string{"drop": "", "add": "3"},
	}, "tester")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != name || !got.ExpiresAt.Equal(exp) || !reflect.DeepEqual(got.Scopes, []string{"b", "c"}) ||
		!reflect.DeepEqual(got.Metadata, map[string]string{"keep": "1", "add": "3"}) || !got.UpdatedAt.Equal(f.now) || got.Hint != k.Hint {
		t.Errorf("UpdateKey = %+v", got)
	}
	stored, _ := f.st.Key(ctx, k.ID)
	if !reflect.DeepEqual(stored, got) {
		t.Errorf("stored %+v\nreturned %+v", stored, got)
	}
	es := f.events(store.EventFilter{Key: k.ID, Limit: 1})
	d := es[0].Details
	if es[0].Action != apikey.ActionKeyUpdate || d["name"] == nil || d["expires_at"] == nil || d["scopes"] == nil || d["metadata"] == nil {
		t.Errorf("event details %v", d)
	}

	got, err = f.st.UpdateKey(ctx, k.ID, store.KeyUpdate{ClearExpiry: true, Scopes: []string{}}, "tester")
	if err != nil || got.ExpiresAt != nil || len(got.Scopes) != 0 || got.Scopes == nil {
		t.Errorf("clear: %+v, %v", got, err)
	}

	before := f.lastChange()
	if _, err := f.st.UpdateKey(ctx, k.ID, store.KeyUpdate{Name: &name, ClearExpiry: true, Scopes: []string{}, Metadata: map[string]string{"nothere": ""}}, "tester"); err != nil {
		t.Fatal(err)
	}
	if f.lastChange() != before {
		t.Error("an update that changed nothing recorded an event")
	}

	taken := "taken"
	_, err = f.st.UpdateKey(ctx, k.ID, store.KeyUpdate{Name: &taken}, "tester")
	wantKind(t, "rename onto another", err, apikey.KindConflict, `already has a key named "taken"`)
	bad := "a\tb"
	_, err = f.st.UpdateKey(ctx, k.ID, store.KeyUpdate{Name: &bad}, "tester")
	wantKind(t, "bad name", err, apikey.KindUsage, "control characters")
	_, err = f.st.UpdateKey(ctx, "ffffffff", store.KeyUpdate{Name: &bad}, "tester")
	wantKind(t, "unknown", err, apikey.KindNotFound, "not found")
	if f.lastChange() != before {
		t.Error("a refused update recorded events")
	}
}

func TestRotateKeyAndGrace(t *testing.T) {
	f := newFixture(t)
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
	if p, found := lookup(second); !found || p.SecretExpiresAt != nil {
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

func TestSealedSecret(t *testing.T) {
	f := newFixture(t)
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

func TestDeleteKeysAndTheTrail(t *testing.T) {
	f := newFixture(t)
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
	if got := f.lastChange(); got != before+2 {
		t.Errorf("LastChange %d, want %d", got, before+2)
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
}

func TestEvents(t *testing.T) {
	f := newFixture(t)
	if es := f.events(store.EventFilter{}); es == nil || len(es) != 0 {
		t.Errorf("empty trail: %#v", es)
	}
	if f.lastChange() != 0 {
		t.Error("LastChange of an empty store")
	}
	f.company("Acme", "")
	f.now = f.now.Add(time.Second)
	f.company("Globex", "")
	f.now = f.now.Add(time.Second)
	k, _ := f.key("Acme", "one", "")
	all := f.events(store.EventFilter{})
	if len(all) != 3 {
		t.Fatalf("%d events", len(all))
	}
	if all[0].Action != apikey.ActionKeyCreate || all[2].Action != apikey.ActionCompanyCreate || !all[0].At.Equal(f.now) {
		t.Errorf("not newest first: %+v", all)
	}
	if all[0].Seq <= all[1].Seq || all[0].Seq != f.lastChange() {
		t.Errorf("seq %d %d, LastChange %d", all[0].Seq, all[1].Seq, f.lastChange())
	}
	if all[2].Key != nil || all[2].Company.Name != "Acme" || all[2].Details == nil {
		t.Errorf("company event %+v", all[2])
	}
	if es := f.events(store.EventFilter{Company: "acme"}); len(es) != 2 {
		t.Errorf("by company: %d", len(es))
	}
	if es := f.events(store.EventFilter{Key: k.ID, Company: "Globex"}); len(es) != 0 {
		t.Errorf("key and another company: %d", len(es))
	}
	if es := f.events(store.EventFilter{Limit: 1}); len(es) != 1 || es[0].Seq != all[0].Seq {
		t.Errorf("limit: %+v", es)
	}
}

func TestTouchKeys(t *testing.T) {
	f := newFixture(t)
	f.company("Acme", "")
	k, _ := f.key("Acme", "one", "")
	before := f.lastChange()
	t1 := f.now.Add(time.Hour)
	if err := f.st.TouchKeys(ctx, map[string]time.Time{k.ID: t1, "00000000-0000-4000-8000-000000000000": t1}); err != nil {
		t.Fatal(err)
	}
	got, _ := f.st.Key(ctx, k.ID)
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(t1) {
		t.Errorf("last used %v, want %v", got.LastUsedAt, t1)
	}
	if err := f.st.TouchKeys(ctx, map[string]time.Time{k.ID: t1.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	got, _ = f.st.Key(ctx, k.ID)
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
