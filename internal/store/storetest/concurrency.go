package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
)

// handles opens n more stores on the database of st, as n processes would.
func handles(t *testing.T, h Harness, st *store.Store, n int) []*store.Store {
	t.Helper()
	out := make([]*store.Store, n)
	for i := range out {
		out[i] = h.Reopen(t, st)
	}
	return out
}

// together runs fn(i) for each i < n in goroutines released at once, and
// returns their errors by i.
func together(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// testReopenSeesTheData: another handle on the same database sees what the
// first wrote, and the first what it writes.
func testReopenSeesTheData(t *testing.T, h Harness) {
	f := newFixture(t, h)
	acme := f.company("Acme", "ACME-1")
	k, secret := f.key("Acme", "one", "")
	other := h.Reopen(t, f.st)
	if c, err := other.Company(ctx, "acme-1"); err != nil || c.ID != acme.ID || c.Keys != 1 {
		t.Errorf("the other handle reads %+v, %v", c, err)
	}
	if got, err := other.Key(ctx, "one", "Acme"); err != nil || got.ID != k.ID || !got.CreatedAt.Equal(k.CreatedAt) {
		t.Errorf("the other handle reads %+v, %v", got, err)
	}
	if p, found, err := other.LookupSecret(ctx, apikey.HashSecret(secret)); err != nil || !found || p.Key.ID != k.ID {
		t.Errorf("the other handle looks the secret up as %+v %v %v", p, found, err)
	}
	if _, err := other.SetStatus(ctx, []string{k.ID}, "", store.Disable, "other"); err != nil {
		t.Fatal(err)
	}
	if got, err := f.st.Key(ctx, k.ID, ""); err != nil || got.Status != apikey.StatusInactive {
		t.Errorf("the first handle reads %+v, %v", got, err)
	}
	a, err := f.st.LastChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := other.LastChange(ctx)
	if err != nil || a != b {
		t.Errorf("LastChange %d and %d, %v", a, b, err)
	}
	if es := f.events(store.EventFilter{Limit: 1}); es[0].Action != apikey.ActionKeyDisable || es[0].Actor != "other" || es[0].Seq != a {
		t.Errorf("the first handle reads the other's event as %+v", es[0])
	}
	_, err = other.CreateCompany(ctx, "ACME", "", "other")
	wantKind(t, "a duplicate through the other handle", err, apikey.KindConflict, "already exists")
}

// testConcurrentWriters: handles writing at once each succeed, and no
// write is lost.
func testConcurrentWriters(t *testing.T, h Harness) {
	f := newFixture(t, h)
	const n = 8
	hs := handles(t, h, f.st, n)
	errs := together(n, func(i int) error {
		name := fmt.Sprintf("Company %d", i)
		if _, err := hs[i].CreateCompany(ctx, name, "", "w"); err != nil {
			return err
		}
		id := newID()
		_, m, err := apikey.MintSecret("ak", id, nil)
		if err != nil {
			return err
		}
		_, err = hs[i].CreateKey(ctx, store.NewKey{ID: id, Company: name, Name: "key", Status: apikey.StatusActive, Secret: m, Actor: "w"})
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("handle %d: %v", i, err)
		}
	}
	cs, err := f.st.ListCompanies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != n {
		t.Errorf("%d companies, want %d", len(cs), n)
	}
	for _, c := range cs {
		if c.Keys != 1 {
			t.Errorf("%s owns %d keys", c.Name, c.Keys)
		}
	}
	if ks := f.keys(store.KeyFilter{}); len(ks) != n {
		t.Errorf("%d keys, want %d", len(ks), n)
	}
	es := f.eventsAfter(0)
	if len(es) != 2*n || es[len(es)-1].Seq != f.lastChange() {
		t.Errorf("%d events (LastChange %d), want %d: %v", len(es), f.lastChange(), 2*n, actions(es))
	}
}

// testConcurrentCreateOfOneCompany: handles that create one company at
// once (by the same name in any case, or the same value as name and as
// ref) end with one company: one succeeds, the others get a conflict, and
// the trail records one creation.
func testConcurrentCreateOfOneCompany(t *testing.T, h Harness) {
	for _, c := range []struct {
		name     string
		nameRef  func(i int) (string, string)
		wantName string
	}{
		{"same name", func(i int) (string, string) { return []string{"Acme", "ACME", "acme", "AcMe"}[i%4], "" }, "acme"},
		{"name and ref", func(i int) (string, string) {
			if i%2 == 0 {
				return "Shared", ""
			}
			return fmt.Sprintf("Company %d", i), "SHARED"
		}, "shared"},
		{"same ref", func(i int) (string, string) { return fmt.Sprintf("Company %d", i), []string{"R-1", "r-1"}[i%2] }, "r-1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, h)
			const n = 8
			hs := handles(t, h, f.st, n)
			errs := together(n, func(i int) error {
				name, ref := c.nameRef(i)
				_, err := hs[i].CreateCompany(ctx, name, ref, fmt.Sprintf("admin %d", i))
				return err
			})
			won := 0
			for i, err := range errs {
				switch {
				case err == nil:
					won++
				case apikey.KindOf(err) != apikey.KindConflict:
					t.Errorf("handle %d: %v (kind %v), want a conflict", i, err, apikey.KindOf(err))
				default:
					wantKind(t, fmt.Sprintf("handle %d", i), err, apikey.KindConflict, "")
				}
			}
			if won != 1 {
				t.Errorf("%d handles created the company, want 1: %v", won, errs)
			}
			cs, err := f.st.ListCompanies(ctx)
			if err != nil || len(cs) != 1 {
				t.Fatalf("companies %+v, %v", cs, err)
			}
			got, err := f.st.Company(ctx, c.wantName)
			if err != nil || got.ID != cs[0].ID {
				t.Errorf("Company(%q) = %+v, %v", c.wantName, got, err)
			}
			if es := f.eventsAfter(0); len(es) != 1 || es[0].Action != apikey.ActionCompanyCreate || es[0].Company.ID != cs[0].ID {
				t.Errorf("the trail holds %+v", es)
			}
		})
	}
}

// testConcurrentToggles: admins toggling one key at once from their own
// handles toggle it once each, one after the other: each toggle reads the
// status the one before wrote, and records one event.
func testConcurrentToggles(t *testing.T, h Harness) {
	f := newFixture(t, h)
	f.company("Acme", "")
	k, _ := f.key("Acme", "one", "")
	const n = 8
	hs := handles(t, h, f.st, n)
	before := f.lastChange()
	results := make([]store.StatusResult, n)
	errs := together(n, func(i int) error {
		res, err := hs[i].SetStatus(ctx, []string{k.ID}, "", store.Toggle, fmt.Sprintf("admin %d", i))
		if err == nil && len(res) == 1 {
			results[i] = res[0]
		}
		return err
	})
	toggled, inactive := 0, 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("admin %d: %v", i, err)
			continue
		}
		if !results[i].Changed {
			t.Errorf("admin %d: the toggle changed nothing", i)
			continue
		}
		toggled++
		if results[i].Key.Status == apikey.StatusInactive {
			inactive++
		}
	}
	if toggled != n {
		t.Errorf("%d of %d toggles succeeded", toggled, n)
	}
	// Starting active, the toggles disable and enable in turn.
	if inactive != (toggled+1)/2 {
		t.Errorf("%d of %d toggles disabled the key, want %d", inactive, toggled, (toggled+1)/2)
	}
	want := apikey.StatusActive
	if toggled%2 == 1 {
		want = apikey.StatusInactive
	}
	if got, err := f.st.Key(ctx, k.ID, ""); err != nil || got.Status != want {
		t.Errorf("after %d toggles the key is %s (%v), want %s", toggled, got.Status, err, want)
	}
	es := f.eventsAfter(before)
	if len(es) != toggled {
		t.Errorf("%d toggles recorded %d events: %v", toggled, len(es), actions(es))
	}
	for i, e := range es {
		wantAction := apikey.ActionKeyDisable
		if i%2 == 1 {
			wantAction = apikey.ActionKeyEnable
		}
		if e.Action != wantAction || e.Key == nil || e.Key.ID != k.ID {
			t.Errorf("event %d of the toggles: %s of %+v, want %s", i, e.Action, e.Key, wantAction)
		}
	}
	actors := map[string]bool{}
	for _, e := range es {
		actors[e.Actor] = true
	}
	if len(actors) != toggled {
		t.Errorf("the toggles' events name %d admins, want %d", len(actors), toggled)
	}
}
