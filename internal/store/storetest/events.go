package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
)

func testEvents(t *testing.T, h Harness) {
	f := newFixture(t, h)
	if es := f.events(store.EventFilter{}); es == nil || len(es) != 0 {
		t.Errorf("empty trail: %#v", es)
	}
	if f.lastChange() != 0 {
		t.Error("LastChange of an empty store")
	}
	if es, err := f.st.EventsAfter(ctx, 0, 10); err != nil || len(es) != 0 {
		t.Errorf("EventsAfter of an empty store: %v, %v", es, err)
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
	if all[0].Seq <= all[1].Seq || all[1].Seq <= all[2].Seq || all[0].Seq != f.lastChange() {
		t.Errorf("seq %d %d %d, LastChange %d", all[0].Seq, all[1].Seq, all[2].Seq, f.lastChange())
	}
	if all[2].Key != nil || all[2].Company.Name != "Acme" || all[2].Details == nil || all[2].Actor != "tester" {
		t.Errorf("company event %+v", all[2])
	}
	if es := f.events(store.EventFilter{Company: "acme"}); len(es) != 2 {
		t.Errorf("by company: %d", len(es))
	}
	if es := f.events(store.EventFilter{Key: "one"}); len(es) != 1 || es[0].Key.ID != k.ID {
		t.Errorf("by key name: %+v", es)
	}
	if es := f.events(store.EventFilter{Key: k.ID, Company: "Globex"}); len(es) != 0 {
		t.Errorf("key and another company: %d", len(es))
	}
	if es := f.events(store.EventFilter{Limit: 1}); len(es) != 1 || es[0].Seq != all[0].Seq {
		t.Errorf("limit: %+v", es)
	}
	_, err := f.st.Events(ctx, store.EventFilter{Limit: -1})
	wantKind(t, "bad limit", err, apikey.KindUsage, "invalid limit")
}

// testEventsAfter: what a running server reads to learn of changes. Paging
// on from the last number seen, in any page size, misses no event, even
// while other handles write.
func testEventsAfter(t *testing.T, h Harness) {
	f := newFixture(t, h)
	for i := range 9 {
		f.now = f.now.Add(time.Second)
		f.company(fmt.Sprintf("Company %d", i), "")
	}
	newestFirst := f.events(store.EventFilter{})
	all := slices.Clone(newestFirst)
	slices.Reverse(all)
	if got := f.eventsAfter(0); !reflect.DeepEqual(got, all) {
		t.Errorf("EventsAfter(0, 0) =\n%+v\nwant\n%+v", got, all)
	}
	for _, limit := range []int{1, 2, 4, 9, 10} {
		var got []apikey.Event
		var after int64
		for pages := 0; ; pages++ {
			page, err := f.st.EventsAfter(ctx, after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(page))
			}
			if len(page) < limit && len(got)+len(page) < len(all) {
				t.Fatalf("limit %d: a short page of %d before the end", limit, len(page))
			}
			if len(page) == 0 || pages > len(all) {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].Seq
		}
		if !reflect.DeepEqual(got, all) {
			t.Errorf("limit %d: paged\n%+v\nwant\n%+v", limit, got, all)
		}
	}
	mid := all[4].Seq
	if got := f.eventsAfter(mid); !reflect.DeepEqual(got, all[5:]) {
		t.Errorf("EventsAfter(%d) = %+v, want %+v", mid, got, all[5:])
	}
	if got := f.eventsAfter(f.lastChange()); len(got) != 0 {
		t.Errorf("after the last: %+v", got)
	}

	// Tailing while four other handles write: every event once, in order.
	const writers, each = 4, 10
	handles := make([]*store.Store, writers)
	for i := range handles {
		handles[i] = h.Reopen(t, f.st)
	}
	start := f.lastChange()
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w, st := range handles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := st.CreateCompany(ctx, fmt.Sprintf("Writer %d-%d", w, i), "", "w"); err != nil {
					errs <- err
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var seen []int64
	after, finished := start, false
	for {
		page, err := f.st.EventsAfter(ctx, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			seen = append(seen, e.Seq)
			after = e.Seq
		}
		if len(page) > 0 {
			continue
		}
		if finished {
			break
		}
		select {
		case <-done:
			finished = true // one more pass reads what the last writes left
		case <-time.After(time.Millisecond):
		}
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var want []int64
	for _, e := range f.eventsAfter(start) {
		want = append(want, e.Seq)
	}
	if len(want) != writers*each || !reflect.DeepEqual(seen, want) {
		t.Errorf("tailing saw %d events %v,\nthe trail holds %d: %v", len(seen), seen, len(want), want)
	}
}

// testOneEventPerChange: every change records exactly one event of its
// own (a cascade one per key and one for the company), in the same
// transaction; what changes nothing records none.
func testOneEventPerChange(t *testing.T, h Harness) {
	f := newFixture(t, h)
	sealer, err := apikey.ParseMasterKey("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	if err != nil {
		t.Fatal(err)
	}
	last := f.lastChange()
	step := func(what string, want []string, do func() error) {
		t.Helper()
		f.now = f.now.Add(time.Minute)
		if err := do(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		es := f.eventsAfter(last)
		if got := actions(es); !slices.Equal(got, want) {
			t.Errorf("%s recorded %v, want %v", what, got, want)
		}
		for _, e := range es {
			if !e.At.Equal(f.now) || e.Actor != "actor" || e.Company == nil || e.Company.ID == "" {
				t.Errorf("%s: event %+v", what, e)
			}
		}
		if n := len(es); n > 0 {
			if lc := f.lastChange(); lc != es[n-1].Seq {
				t.Errorf("%s: LastChange %d, newest event %d", what, lc, es[n-1].Seq)
			}
			last = es[n-1].Seq
		}
	}
	str := func(s string) *string { return &s }
	mint := func(id string, s *apikey.Sealer) apikey.SecretMaterial {
		_, m, err := apikey.MintSecret("ak", id, s)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	id1, id2, id3 := newID(), newID(), newID()
	var acme apikey.Company
	step("company create", []string{"company.create"}, func() (err error) {
		acme, err = f.st.CreateCompany(ctx, "Acme", "A-1", "actor")
		return err
	})
	step("company update", []string{"company.update"}, func() error {
		_, err := f.st.UpdateCompany(ctx, "Acme", store.CompanyUpdate{Name: str("Acme Inc"), Ref: str("A-2")}, "actor")
		return err
	})
	step("company update to what it is", nil, func() error {
		_, err := f.st.UpdateCompany(ctx, "a-2", store.CompanyUpdate{Name: str("Acme Inc")}, "actor")
		return err
	})
	step("key create", []string{"key.create"}, func() error {
		_, err := f.st.CreateKey(ctx, store.NewKey{ID: id1, Company: "Acme Inc", Name: "one", Status: apikey.StatusActive, Secret: mint(id1, sealer), Actor: "actor"})
		return err
	})
	step("key create with its company", []string{"company.create", "key.create"}, func() error {
		_, err := f.st.CreateKey(ctx, store.NewKey{ID: id2, Company: "Globex", CreateCompany: true, Name: "two", Status: apikey.StatusActive, Secret: mint(id2, nil), Actor: "actor"})
		return err
	})
	step("a batch", []string{"company.create", "key.create", "key.create"}, func() error {
		a, b := newID(), newID()
		return f.st.CreateKeys(ctx, []store.NewKey{
			{ID: a, Company: "Initech", CreateCompany: true, Name: "a", Status: apikey.StatusActive, Secret: mint(a, nil), Actor: "actor"},
			{ID: b, Company: "Initech", CreateCompany: true, Name: "b", Status: apikey.StatusActive, Secret: mint(b, nil), Actor: "actor"},
		})
	})
	step("disable", []string{"key.disable"}, func() error {
		_, err := f.st.SetStatus(ctx, []string{id1}, "", store.Disable, "actor")
		return err
	})
	step("disable again", nil, func() error {
		_, err := f.st.SetStatus(ctx, []string{id1}, "", store.Disable, "actor")
		return err
	})
	step("enable", []string{"key.enable"}, func() error {
		_, err := f.st.SetStatus(ctx, []string{id1}, "", store.Enable, "actor")
		return err
	})
	step("toggle two", []string{"key.disable", "key.disable"}, func() error {
		_, err := f.st.SetStatus(ctx, []string{id1, id2}, "", store.Toggle, "actor")
		return err
	})
	step("key update", []string{"key.update"}, func() error {
		_, err := f.st.UpdateKey(ctx, id1, "", store.KeyUpdate{Name: str("uno"), Scopes: []string{"s"}, Metadata: map[string]string{"a": "b"}}, "actor")
		return err
	})
	step("key update to what it is", nil, func() error {
		_, err := f.st.UpdateKey(ctx, id1, "", store.KeyUpdate{Name: str("uno")}, "actor")
		return err
	})
	step("reveal", []string{"key.reveal"}, func() error {
		_, err := f.st.SealedSecret(ctx, id1, "actor", func(b []byte) (string, error) { return sealer.Open(id1, b) })
		return err
	})
	step("rotate", []string{"key.rotate"}, func() error {
		_, err := f.st.RotateKey(ctx, id1, mint(id1, nil), time.Hour, "actor")
		return err
	})
	step("touch", nil, func() error {
		k, err := f.st.Key(ctx, id1, "")
		if err != nil {
			return err
		}
		return f.st.TouchKeys(ctx, []store.KeyUse{{KeyID: id1, CreatedAt: k.CreatedAt, At: f.now}})
	})
	step("key create in Acme", []string{"key.create"}, func() error {
		_, err := f.st.CreateKey(ctx, store.NewKey{ID: id3, Company: acme.ID, Name: "three", Status: apikey.StatusActive, Secret: mint(id3, nil), Actor: "actor"})
		return err
	})
	step("delete a key", []string{"key.delete"}, func() error {
		return f.st.DeleteKeys(ctx, []string{id3}, "actor")
	})
	step("cascade", []string{"key.delete", "company.delete"}, func() error {
		return f.st.DeleteCompanies(ctx, []string{acme.ID}, true, "actor")
	})
	es := f.events(store.EventFilter{Company: acme.ID})
	if len(es) != 13 {
		t.Errorf("Acme's trail holds %d events: %v", len(es), actions(es))
	}
}

// testBytesThatAreNotUTF8 gives references and a search that are not UTF-8,
// as a shell variable may hold: no stored name or ref can match them, and
// one engine may refuse such bytes where another would compare them, so
// the store answers alike on every engine: not found, and a usage error for
// the search.
func testBytesThatAreNotUTF8(t *testing.T, h Harness) {
	f := newFixture(t, h)
	f.company("Acme", "ACME-1")
	k, _ := f.key("Acme", "ci", "")
	bad := "Acme\xff"
	_, err := f.st.Company(ctx, bad)
	wantKind(t, "company", err, apikey.KindNotFound, "not found")
	_, err = f.st.Key(ctx, "ci\xff", "")
	wantKind(t, "key", err, apikey.KindNotFound, "not found")
	_, err = f.st.Key(ctx, "ci", bad)
	wantKind(t, "key of a company", err, apikey.KindNotFound, "not found")
	_, err = f.st.SetStatus(ctx, []string{k.ID, "\xfe"}, "", store.Disable, "t")
	wantKind(t, "status", err, apikey.KindNotFound, "not found")
	_, err = f.st.Events(ctx, store.EventFilter{Company: bad})
	wantKind(t, "history of a company", err, apikey.KindNotFound, "not found")
	_, err = f.st.Events(ctx, store.EventFilter{Key: "\xff\xfe"})
	wantKind(t, "history of a key", err, apikey.KindNotFound, "not found")
	err = f.st.EachKey(ctx, store.KeyFilter{Search: "c\xffi", Now: f.now}, func(apikey.Key) error { return nil })
	wantKind(t, "search", err, apikey.KindUsage, "not valid UTF-8")
	if got := f.keys(store.KeyFilter{Status: apikey.StatusActive}); len(got) != 1 {
		t.Errorf("the key changed: %v", names(got))
	}
}
