package storetest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
)

// export is an export held in memory: what a store streams into a sink.
type export struct {
	ids       []string
	companies []apikey.Company
	keys      []store.KeyRecord
	events    []apikey.Event
}

func (x *export) Begin(ids []string) error       { x.ids = ids; return nil }
func (x *export) Company(c apikey.Company) error { x.companies = append(x.companies, c); return nil }
func (x *export) Key(r store.KeyRecord) error    { x.keys = append(x.keys, r); return nil }
func (x *export) Event(e apikey.Event) error     { x.events = append(x.events, e); return nil }
func (x *export) len() (companies, keys, events int) {
	return len(x.companies), len(x.keys), len(x.events)
}

// records replays the export as a file would give it, a line per record
// (the header is line 1).
func (x *export) records() func() (store.ImportRecord, error) {
	var recs []store.ImportRecord
	for _, c := range x.companies {
		recs = append(recs, store.ImportRecord{Company: &c})
	}
	for _, k := range x.keys {
		recs = append(recs, store.ImportRecord{Key: &k})
	}
	for _, e := range x.events {
		recs = append(recs, store.ImportRecord{Event: &e})
	}
	i := 0
	return func() (store.ImportRecord, error) {
		if i == len(recs) {
			return store.ImportRecord{}, io.EOF
		}
		r := recs[i]
		i++
		r.Line = i + 1
		// Each record afresh, as a file gives it: the importer may not
		// keep what it was handed.
		r = cloneRecord(r)
		return r, nil
	}
}

func cloneRecord(r store.ImportRecord) store.ImportRecord {
	if r.Company != nil {
		c := *r.Company
		r.Company = &c
	}
	if r.Key != nil {
		k := *r.Key
		k.Key.Scopes = slices.Clone(k.Key.Scopes)
		k.Key.Metadata = maps.Clone(k.Key.Metadata)
		k.Key.AllowedIPs = slices.Clone(k.Key.AllowedIPs)
		k.Secrets = slices.Clone(k.Secrets)
		r.Key = &k
	}
	if r.Event != nil {
		e := *r.Event
		e.Details = maps.Clone(e.Details)
		r.Event = &e
	}
	return r
}

func (f *fixture) export(refs []string) *export {
	f.t.Helper()
	x := &export{}
	if err := f.st.Export(ctx, refs, x); err != nil {
		f.t.Fatal(err)
	}
	return x
}

// populated is a store with what an export must carry: a ref, scopes,
// metadata, an expiry, limits, a sealed copy, a rotation in its grace, a
// last use, and the trail of a deleted key and a deleted company.
func populated(t *testing.T, h Harness) (f *fixture, secrets map[string]string) {
	f = newFixture(t, h)
	sealer, err := apikey.ParseMasterKey("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	if err != nil {
		t.Fatal(err)
	}
	secrets = map[string]string{}
	f.company("Acme", "273-542-26244")
	f.company("Globex", "")
	exp := f.now.Add(90 * 24 * time.Hour)
	one, s1 := f.key("Acme", "one", "", func(n *store.NewKey) {
		n.Scopes, n.Metadata, n.ExpiresAt = []string{"read", "write"}, map[string]string{"env": "prod", "team": "billing"}, &exp
		n.RateLimit, n.AllowedIPs = "100/m", []string{"10.0.0.0/8", "192.168.1.7"}
	})
	secrets[one.ID] = s1
	sealedID := newID()
	sealedSecret, m, err := apikey.MintSecret("ak", sealedID, sealer)
	if err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Second)
	if _, err := f.st.CreateKey(ctx, store.NewKey{ID: sealedID, Company: "Globex", Name: "sealed", Status: apikey.StatusInactive, Secret: m, Actor: "alice"}); err != nil {
		t.Fatal(err)
	}
	secrets[sealedID] = sealedSecret
	// A rotation with grace: both secrets work.
	f.now = f.now.Add(time.Second)
	rotated, old := f.key("Acme", "rotated", "")
	next, m2, _ := apikey.MintSecret("ak", rotated.ID, sealer)
	f.now = f.now.Add(time.Second)
	if _, err := f.st.RotateKey(ctx, rotated.ID, m2, time.Hour, "bob"); err != nil {
		t.Fatal(err)
	}
	secrets[rotated.ID] = next
	secrets[rotated.ID+"/old"] = old
	if err := f.st.TouchKeys(ctx, []store.KeyUse{{KeyID: one.ID, CreatedAt: one.CreatedAt, At: f.now}}); err != nil {
		t.Fatal(err)
	}
	// The trail of what is gone.
	f.company("Initech", "")
	gone, _ := f.key("Initech", "gone", "")
	if err := f.st.DeleteKeys(ctx, []string{gone.ID}, "tester"); err != nil {
		t.Fatal(err)
	}
	c, _ := f.st.Company(ctx, "Initech")
	if err := f.st.DeleteCompanies(ctx, []string{c.ID}, true, "tester"); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Second)
	return f, secrets
}

// testExportImport: an export replayed into an empty store gives the same
// companies, keys (ids, times, limits, last use), secrets (each verifies,
// grace and sealed copies kept) and trail, in order; replayed again it
// changes nothing, and says so.
func testExportImport(t *testing.T, h Harness) {
	src, secrets := populated(t, h)
	x := src.export(nil)
	if x.ids != nil {
		t.Errorf("the whole store has company ids %v", x.ids)
	}
	if c, k, e := x.len(); c != 2 || k != 3 || e != 10 {
		t.Fatalf("exported %d companies, %d keys, %d events", c, k, e)
	}
	for i := 1; i < len(x.events); i++ {
		if x.events[i].Seq <= x.events[i-1].Seq {
			t.Fatalf("events not in seq order: %d after %d", x.events[i].Seq, x.events[i-1].Seq)
		}
	}
	dst := newFixture(t, h)
	dst.now = src.now.Add(time.Hour)
	rep, err := dst.st.Import(ctx, x.records(), store.ImportOptions{Actor: "importer", Details: map[string]any{"format": "test"}})
	if err != nil {
		t.Fatal(err)
	}
	want := store.ImportReport{Companies: store.ImportCounts{New: 2}, Keys: store.ImportCounts{New: 3}, Events: store.ImportCounts{New: 10}, Conflicts: []store.ImportConflict{}}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("report %+v, want %+v", rep, want)
	}

	// Keys: every field, in the same order.
	srcKeys, dstKeys := src.keys(store.KeyFilter{}), dst.keys(store.KeyFilter{})
	if len(srcKeys) != len(dstKeys) {
		t.Fatalf("%d keys, want %d", len(dstKeys), len(srcKeys))
	}
	for i := range srcKeys {
		if !reflect.DeepEqual(srcKeys[i], dstKeys[i]) {
			t.Errorf("key %d:\n got %+v\nwant %+v", i, dstKeys[i], srcKeys[i])
		}
	}
	// Secrets: each verifies, the old one in its grace.
	for id, secret := range secrets {
		p, found, err := dst.st.LookupSecret(ctx, apikey.HashSecret(secret))
		if err != nil || !found || p.Key.ID != strings.TrimSuffix(id, "/old") {
			t.Errorf("secret of %s: found %v, %v, key %s", id, found, err, p.Key.ID)
			continue
		}
		if strings.HasSuffix(id, "/old") != (p.SecretExpiresAt != nil) {
			t.Errorf("secret of %s: grace %v", id, p.SecretExpiresAt)
		}
	}
	// Companies.
	for _, name := range []string{"Acme", "Globex"} {
		a, _ := src.st.Company(ctx, name)
		b, err := dst.st.Company(ctx, name)
		if err != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("company %s: %+v, %v; want %+v", name, b, err, a)
		}
	}
	// The trail: the same events, in the same order, then the import.
	srcEvents, dstEvents := src.eventsAfter(0), dst.eventsAfter(0)
	if len(dstEvents) != len(srcEvents)+1 {
		t.Fatalf("%d events, want %d and the import", len(dstEvents), len(srcEvents))
	}
	for i, e := range srcEvents {
		g := dstEvents[i]
		if !g.At.Equal(e.At) || g.Actor != e.Actor || g.Action != e.Action || !reflect.DeepEqual(g.Company, e.Company) || !reflect.DeepEqual(g.Key, e.Key) ||
			fmt.Sprint(withoutRole(g.Details)) != fmt.Sprint(e.Details) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, g, e)
		}
		if e.DBRole != "" && g.Details[store.OriginDBRole] != e.DBRole {
			t.Errorf("event %d: origin role %v, want %q", i, g.Details[store.OriginDBRole], e.DBRole)
		}
	}
	last := dstEvents[len(dstEvents)-1]
	if last.Action != store.ActionImport || last.Actor != "importer" || last.Company != nil || last.Key != nil ||
		fmt.Sprint(last.Details) != "map[companies:2 events:10 format:test keys:3]" {
		t.Errorf("import event %+v", last)
	}
	// History finds a deleted company by its former name.
	if es := dst.events(store.EventFilter{Company: "Initech"}); len(es) != 4 {
		t.Errorf("history of the deleted company: %d events", len(es))
	}

	// Again: nothing to do, nothing recorded.
	before := dst.lastChange()
	rep, err = dst.st.Import(ctx, x.records(), store.ImportOptions{Actor: "importer"})
	if err != nil {
		t.Fatal(err)
	}
	want = store.ImportReport{Companies: store.ImportCounts{Unchanged: 2}, Keys: store.ImportCounts{Unchanged: 3}, Events: store.ImportCounts{Unchanged: 10}, Conflicts: []store.ImportConflict{}}
	if !reflect.DeepEqual(rep, want) || rep.Changed() || dst.lastChange() != before {
		t.Errorf("second import: %+v, last change %d (was %d)", rep, dst.lastChange(), before)
	}

	// The import's own export, imported into a third store, is the same
	// again, the store.import event included.
	third := newFixture(t, h)
	y := dst.export(nil)
	if rep, err := third.st.Import(ctx, y.records(), store.ImportOptions{Actor: "importer"}); err != nil || rep.Events.New != 11 {
		t.Fatalf("import of the import: %+v, %v", rep, err)
	}
	if got := third.keys(store.KeyFilter{}); !reflect.DeepEqual(got, dstKeys) {
		t.Errorf("keys after a second move differ")
	}
	// Sealed copies open with the master key they were sealed under.
	sealer, _ := apikey.ParseMasterKey("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	revealed := 0
	for _, k := range third.keys(store.KeyFilter{}) {
		if !k.Sealed {
			continue
		}
		got, err := third.st.SealedSecret(ctx, k.ID, "tester", func(b []byte) (string, error) { return sealer.Open(k.ID, b) })
		if err != nil || got != secrets[k.ID] {
			t.Errorf("reveal %s: %v", k.Name, err)
		}
		revealed++
	}
	if revealed != 2 {
		t.Errorf("%d sealed keys, want 2", revealed)
	}
}

func withoutRole(d map[string]any) map[string]any {
	d = maps.Clone(d)
	delete(d, store.OriginDBRole)
	return d
}

// testExportCompanies: an export of some companies holds them, their keys
// and their events (those of their deleted keys included), and nothing
// else.
func testExportCompanies(t *testing.T, h Harness) {
	f := newFixture(t, h)
	acme := f.company("Acme", "")
	f.company("Globex", "")
	f.key("Acme", "a1", "")
	gone, _ := f.key("Acme", "gone", "")
	f.key("Globex", "g1", "")
	f.key("Acme", "a2", "")
	if err := f.st.DeleteKeys(ctx, []string{gone.ID}, "tester"); err != nil {
		t.Fatal(err)
	}
	x := f.export([]string{"acme", acme.ID}) // one company, named twice
	if !slices.Equal(x.ids, []string{acme.ID}) {
		t.Errorf("ids %v", x.ids)
	}
	if c, k, e := x.len(); c != 1 || k != 2 || e != 5 {
		t.Errorf("exported %d companies, %d keys, %d events", c, k, e)
	}
	if x.keys[0].Key.Name != "a1" || x.keys[1].Key.Name != "a2" {
		t.Errorf("keys %s, %s", x.keys[0].Key.Name, x.keys[1].Key.Name)
	}
	for _, e := range x.events {
		if e.Company == nil || e.Company.ID != acme.ID {
			t.Errorf("event of another company: %+v", e)
		}
	}
	err := f.st.Export(ctx, []string{"Nobody"}, &export{})
	wantKind(t, "unknown company", err, apikey.KindNotFound, `company "Nobody" not found`)
}

// testImportConflicts: a company of the same name and another id, a key of
// the same name, a secret that is another key's: each reported with its
// line; with ConflictFail nothing is imported, with ConflictSkip the rest
// is, and what belongs to a skipped record is skipped with it.
func testImportConflicts(t *testing.T, h Harness) {
	src := newFixture(t, h)
	src.company("Acme", "")
	src.now = src.now.Add(time.Second) // companies are exported in the order they were made
	src.company("Globex", "")
	src.key("Acme", "a1", "")
	_, shared := src.key("Globex", "g1", "")
	src.key("Globex", "g2", "")
	x := src.export(nil)

	g1 := x.keys[1].Key
	// The file's companies, with other ids (and a name in another case).
	dst2 := newFixture(t, h)
	dst2.company("ACME", "")
	dst2.company("Globex", "")
	before := dst2.lastChange()
	beforeKeys := dst2.keys(store.KeyFilter{})

	rep, err := dst2.st.Import(ctx, x.records(), store.ImportOptions{})
	wantKind(t, "conflicts", err, apikey.KindConflict, "2 conflicts with the store: nothing was imported")
	if dst2.lastChange() != before || len(dst2.keys(store.KeyFilter{})) != len(beforeKeys) {
		t.Error("a failed import changed the store")
	}
	if rep.ConflictCount != 2 || len(rep.Conflicts) != 2 || rep.Conflicts[0].Record != "company" || rep.Conflicts[0].Line != 2 ||
		!strings.Contains(rep.Conflicts[0].Reason, `company "ACME" already exists`) {
		t.Errorf("conflicts %+v", rep.Conflicts)
	}

	// A dry run says the same and changes nothing.
	dry, err := dst2.st.Import(ctx, x.records(), store.ImportOptions{DryRun: true})
	wantKind(t, "dry run", err, apikey.KindConflict, "nothing would be imported")
	if !dry.DryRun || dry.ConflictCount != 2 || dst2.lastChange() != before {
		t.Errorf("dry run %+v", dry)
	}

	// Skip: Globex is both the file's and the store's, with other ids:
	// skipped with its keys and events; Acme likewise.
	rep, err = dst2.st.Import(ctx, x.records(), store.ImportOptions{OnConflict: store.ConflictSkip})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Companies != (store.ImportCounts{Skipped: 2}) || rep.Keys != (store.ImportCounts{Skipped: 3}) || rep.Events != (store.ImportCounts{Skipped: 5}) || rep.Changed() {
		t.Errorf("skip: %+v", rep)
	}
	if dst2.lastChange() != before {
		t.Error("an import that skipped everything recorded something")
	}

	// A key of the same name, and a secret that is another key's.
	dst3 := newFixture(t, h)
	if _, err := dst3.st.Import(ctx, x.records(), store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	y := *x
	y.keys = nil
	renamed := x.keys[0]
	renamed.Key.ID = newID() // a1 again, under another id
	thief := x.keys[2]
	thief.Key.ID, thief.Key.Name = newID(), "thief"
	thief.Secrets = slices.Clone(x.keys[1].Secrets) // g1's secret
	y.keys = []store.KeyRecord{x.keys[0], renamed, thief}
	y.events = nil
	rep, err = dst3.st.Import(ctx, y.records(), store.ImportOptions{OnConflict: store.ConflictSkip})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Keys != (store.ImportCounts{Unchanged: 1, Skipped: 2}) || len(rep.Conflicts) != 2 ||
		!strings.Contains(rep.Conflicts[0].Reason, `already has a key named "a1"`) ||
		!strings.Contains(rep.Conflicts[1].Reason, "is the secret of key "+g1.ID) {
		t.Errorf("key conflicts: %+v", rep)
	}
	if p, _, _ := dst3.st.LookupSecret(ctx, apikey.HashSecret(shared)); p.Key.ID != g1.ID {
		t.Errorf("the secret moved to %s", p.Key.ID)
	}
	// A changed key is a conflict too.
	changed := x.keys[0]
	changed.Key.Scopes = []string{"admin"}
	y.keys = []store.KeyRecord{changed}
	_, err = dst3.st.Import(ctx, y.records(), store.ImportOptions{})
	wantKind(t, "changed key", err, apikey.KindConflict, "1 conflict with the store")

	// What was deleted stays deleted: an old export imported into the
	// store it came from brings back neither a deleted key nor a deleted
	// company, and their secrets stay refused.
	a1 := x.keys[0].Key
	if err := src.st.DeleteKeys(ctx, []string{a1.ID}, "tester"); err != nil {
		t.Fatal(err)
	}
	globex, _ := src.st.Company(ctx, "Globex")
	if err := src.st.DeleteCompanies(ctx, []string{globex.ID}, true, "tester"); err != nil {
		t.Fatal(err)
	}
	rep, err = src.st.Import(ctx, x.records(), store.ImportOptions{OnConflict: store.ConflictSkip, Actor: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Companies != (store.ImportCounts{Unchanged: 1, Skipped: 1}) || rep.Keys != (store.ImportCounts{Skipped: 3}) || rep.Changed() ||
		!strings.Contains(rep.Conflicts[0].Reason, `company "Globex" was deleted from this store, and stays deleted`) ||
		!strings.Contains(rep.Conflicts[1].Reason, `key "a1" was deleted from this store, and stays deleted`) {
		t.Errorf("resurrection: %+v", rep)
	}
	if ks := src.keys(store.KeyFilter{}); len(ks) != 0 {
		t.Errorf("deleted keys came back: %s", names(ks))
	}

	// A company named like an id (a store made before that rule may have
	// one) is a conflict: it could not be named, but the rest may come in.
	odd := &export{companies: []apikey.Company{
		{ID: newID(), Name: newID(), CreatedAt: src.now, UpdatedAt: src.now},
		{ID: newID(), Name: "Fine", CreatedAt: src.now, UpdatedAt: src.now},
	}}
	rep, err = src.st.Import(ctx, odd.records(), store.ImportOptions{OnConflict: store.ConflictSkip, Actor: "tester"})
	if err != nil || rep.Companies != (store.ImportCounts{New: 1, Skipped: 1}) || !strings.Contains(rep.Conflicts[0].Reason, "must not have the form of an id") {
		t.Errorf("a company named like an id: %+v, %v", rep, err)
	}
}

// testImportMalformed: a record the rules refuse names its line, is a
// usage error, and nothing is imported.
func testImportMalformed(t *testing.T, h Harness) {
	src := newFixture(t, h)
	src.company("Acme", "")
	src.key("Acme", "a1", "")
	src.key("Acme", "a2", "")
	x := src.export(nil)
	for _, tc := range []struct {
		name  string
		spoil func(x *export)
		text  string
	}{
		{"blank name", func(x *export) { x.keys[1].Key.Name = " " }, "line 4: key name must not be empty"},
		{"bad status", func(x *export) { x.keys[0].Key.Status = "expired" }, `line 3: invalid status "expired"`},
		{"no current secret", func(x *export) { t := src.now; x.keys[0].Secrets[0].ExpiresAt = &t }, "line 3: key " + x.keys[0].Key.ID + " has 0 current secrets"},
		{"bad id", func(x *export) { x.companies[0].ID = "acme" }, `line 2: company id "acme" is not a UUID`},
		{"unknown company", func(x *export) { x.companies = nil }, "line 2: the company " + x.companies[0].ID + " of key"},
		{"bad action", func(x *export) { x.events[0].Action = "Key Create" }, `line 5: invalid action "Key Create"`},
		{"bad rate limit", func(x *export) { x.keys[0].Key.RateLimit = "fast" }, "line 3: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := *x
			y.companies = slices.Clone(x.companies)
			y.keys = nil
			for _, k := range x.keys {
				y.keys = append(y.keys, *cloneRecord(store.ImportRecord{Key: &k}).Key)
			}
			y.events = slices.Clone(x.events)
			tc.spoil(&y)
			dst := newFixture(t, h)
			_, err := dst.st.Import(ctx, y.records(), store.ImportOptions{})
			wantKind(t, tc.name, err, apikey.KindUsage, tc.text)
			if dst.lastChange() != 0 || len(dst.keys(store.KeyFilter{})) > 0 {
				t.Errorf("%s: the store changed", tc.name)
			}
		})
	}
	// An error of the file itself (its reader's) ends the import as it is.
	dst := newFixture(t, h)
	next := x.records()
	n := 0
	_, err := dst.st.Import(ctx, func() (store.ImportRecord, error) {
		if n++; n == 3 {
			return store.ImportRecord{}, apikey.Usagef("line 4: not valid JSON")
		}
		return next()
	}, store.ImportOptions{})
	wantKind(t, "reader", err, apikey.KindUsage, "line 4: not valid JSON")
	if dst.lastChange() != 0 || len(dst.keys(store.KeyFilter{})) != 0 {
		t.Error("a failed read left something")
	}
}

// testImportLegacy: keys of another system come in by their hashes, marked
// legacy, their companies made as needed; they verify by hash and are
// counted; importing them again changes nothing; rotating one makes it an
// apikey key, whose legacy secret still works in its grace.
func testImportLegacy(t *testing.T, h Harness) {
	f := newFixture(t, h)
	f.company("Acme", "A-1")
	if n, err := f.st.LegacySecrets(ctx); err != nil || n != 0 {
		t.Fatalf("legacy secrets of a new store: %d, %v", n, err)
	}
	exp := f.now.Add(-time.Hour) // expired already in the old system
	rows := []store.LegacyKey{
		{Company: "Acme", Name: "old-ci", Secret: apikey.LegacyMaterial("sk_live_0123456789abcdef"), Scopes: []string{"read"}},
		{Company: "Initech", Ref: "I-9", Name: "batch", Status: apikey.StatusInactive, Secret: apikey.LegacyMaterial("INITECH-KEY-AAAA-BBBB-CCCC"), ExpiresAt: &exp},
		{Company: "a-1", Name: "by-ref", Secret: apikey.LegacyMaterial("ref-ref-ref-ref-ref")},
	}
	feed := func(rows []store.LegacyKey) func() (store.LegacyKey, error) {
		i := 0
		return func() (store.LegacyKey, error) {
			if i == len(rows) {
				return store.LegacyKey{}, io.EOF
			}
			r := rows[i]
			i++
			r.Line = i + 1
			if r.Status == "" {
				r.Status = apikey.StatusActive
			}
			return r, nil
		}
	}
	rep, err := f.st.ImportLegacy(ctx, feed(rows), store.ImportOptions{Actor: "migrator"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Keys.New != 3 || rep.Companies.New != 1 || rep.ConflictCount != 0 {
		t.Errorf("report %+v", rep)
	}
	if n, _ := f.st.LegacySecrets(ctx); n != 3 {
		t.Errorf("%d legacy secrets", n)
	}
	p, found, err := f.st.LookupSecret(ctx, apikey.HashSecret("sk_live_0123456789abcdef"))
	if err != nil || !found || p.Key.Name != "old-ci" || !p.Key.Legacy || p.Key.Hint != "sk_…def" || p.Key.Sealed || !slices.Equal(p.Key.Scopes, []string{"read"}) {
		t.Fatalf("legacy lookup: %+v %v %v", p.Key, found, err)
	}
	if r := apikey.Judge(p.Key, p.SecretExpiresAt, "", f.now); r != apikey.ReasonNone {
		t.Errorf("legacy key judged %s", r)
	}
	initech, err := f.st.Company(ctx, "I-9")
	if err != nil || initech.Name != "Initech" || initech.Keys != 1 {
		t.Errorf("made company: %+v %v", initech, err)
	}
	batch, _ := f.st.Key(ctx, "batch", "Initech")
	if batch.Status != apikey.StatusInactive || batch.EffectiveStatus(f.now) != apikey.StatusExpired || batch.CreatedBy != "migrator" {
		t.Errorf("batch: %+v", batch)
	}
	if byRef, err := f.st.Key(ctx, "by-ref", "Acme"); err != nil || !byRef.Legacy {
		t.Errorf("by ref: %+v %v", byRef, err)
	}
	es := f.events(store.EventFilter{Limit: 1})
	if es[0].Action != store.ActionImport || es[0].Details["legacy"] != true || es[0].Actor != "migrator" {
		t.Errorf("import event %+v", es[0])
	}
	created := f.events(store.EventFilter{Key: "old-ci"})
	if len(created) != 1 || created[0].Details["legacy"] != true {
		t.Errorf("key.create of a legacy key: %+v", created)
	}

	// Again: nothing to do.
	before := f.lastChange()
	rep, err = f.st.ImportLegacy(ctx, feed(rows), store.ImportOptions{Actor: "migrator"})
	if err != nil || rep.Changed() || rep.Keys.Unchanged != 3 || f.lastChange() != before {
		t.Errorf("again: %+v %v", rep, err)
	}

	// Conflicts: a name with another secret, a secret that is another
	// key's, a ref that is not the company's.
	bad := []store.LegacyKey{
		{Company: "Acme", Name: "old-ci", Secret: apikey.LegacyMaterial("another-secret-0000")},
		{Company: "Acme", Name: "copy", Secret: apikey.LegacyMaterial("sk_live_0123456789abcdef")},
		{Company: "Acme", Ref: "A-2", Name: "new", Secret: apikey.LegacyMaterial("fresh-secret-00000")},
		{Company: "Acme", Name: "fine", Secret: apikey.LegacyMaterial("fine-secret-000000")},
	}
	rep, err = f.st.ImportLegacy(ctx, feed(bad), store.ImportOptions{Actor: "migrator"})
	wantKind(t, "legacy conflicts", err, apikey.KindConflict, "3 conflicts")
	if rep.ConflictCount != 3 || rep.Conflicts[0].Name != "old-ci" || rep.Conflicts[0].Line != 2 || f.lastChange() != before {
		t.Errorf("conflicts: %+v", rep)
	}
	rep, err = f.st.ImportLegacy(ctx, feed(bad), store.ImportOptions{OnConflict: store.ConflictSkip, Actor: "migrator"})
	if err != nil || rep.Keys.New != 1 || rep.Keys.Skipped != 3 {
		t.Errorf("skip: %+v %v", rep, err)
	}
	// A malformed row: its line, nothing imported.
	before = f.lastChange()
	_, err = f.st.ImportLegacy(ctx, feed([]store.LegacyKey{{Company: "Acme", Name: "ok", Secret: apikey.LegacyMaterial("ok-secret-00000000")}, {Company: "Acme", Name: "", Secret: apikey.LegacyMaterial("ok-secret-11111111")}}), store.ImportOptions{Actor: "migrator"})
	wantKind(t, "malformed", err, apikey.KindUsage, "line 3: key name must not be empty")
	if f.lastChange() != before {
		t.Error("a malformed row left something")
	}

	// Rotation with grace: an apikey key now, and the legacy secret
	// still works, and is still counted, until the grace ends.
	ci, _ := f.st.Key(ctx, "old-ci", "Acme")
	_, m, _ := apikey.MintSecret("ak", ci.ID, nil)
	rk, err := f.st.RotateKey(ctx, ci.ID, m, time.Hour, "tester")
	if err != nil || rk.Legacy {
		t.Fatalf("rotate: %+v %v", rk, err)
	}
	if got, _ := f.st.Key(ctx, ci.ID, ""); got.Legacy {
		t.Error("still legacy after a rotation")
	}
	ev := f.events(store.EventFilter{Key: ci.ID, Limit: 1})[0]
	if b, _ := json.Marshal(ev.Details["legacy"]); string(b) != `{"from":true,"to":false}` {
		t.Errorf("rotate event %+v", ev.Details)
	}
	if _, found, _ := f.st.LookupSecret(ctx, apikey.HashSecret("sk_live_0123456789abcdef")); !found {
		t.Error("the legacy secret stopped in its grace")
	}
	if n, _ := f.st.LegacySecrets(ctx); n != 4 {
		t.Errorf("%d legacy secrets during the grace, want 4", n)
	}
	_, m, _ = apikey.MintSecret("ak", ci.ID, nil)
	if _, err := f.st.RotateKey(ctx, ci.ID, m, 0, "tester"); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.st.LegacySecrets(ctx); n != 3 {
		t.Errorf("%d legacy secrets after a rotation without grace, want 3", n)
	}

	// Legacy secrets move with an export.
	x := f.export(nil)
	g := newFixture(t, h)
	if _, err := g.st.Import(ctx, x.records(), store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if n, _ := g.st.LegacySecrets(ctx); n != 3 {
		t.Errorf("%d legacy secrets after a move, want 3", n)
	}
	if p, found, _ := g.st.LookupSecret(ctx, apikey.HashSecret("INITECH-KEY-AAAA-BBBB-CCCC")); !found || !p.Key.Legacy {
		t.Error("legacy key lost in a move")
	}
}
