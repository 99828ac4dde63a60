package storetest

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
)

func testCompanies(t *testing.T, h Harness) {
	f := newFixture(t, h)
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
	_, err = f.st.Company(ctx, "00000000-0000-4000-8000-000000000000")
	wantKind(t, "unknown id", err, apikey.KindNotFound, "not found")

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
	if c, err = f.st.Company(ctx, "ACME CORP"); err != nil || c.Name != "Acme Corp" || !c.UpdatedAt.Equal(f.now) || !c.CreatedAt.Equal(acme.CreatedAt) {
		t.Errorf("after renaming: %+v, %v", c, err)
	}
	ref := "B-1"
	if c, err = f.st.UpdateCompany(ctx, acme.ID, store.CompanyUpdate{Ref: &ref}, "tester"); err != nil || c.Ref != "B-1" {
		t.Fatalf("set ref: %+v, %v", c, err)
	}
	empty := ""
	if c, err = f.st.UpdateCompany(ctx, "b-1", store.CompanyUpdate{Ref: &empty}, "tester"); err != nil || c.Ref != "" {
		t.Fatalf("remove ref: %+v, %v", c, err)
	}
	_, err = f.st.Company(ctx, "B-1")
	wantKind(t, "a removed ref", err, apikey.KindNotFound, "not found")
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
	bad := "a\x00b"
	_, err = f.st.UpdateCompany(ctx, acme.ID, store.CompanyUpdate{Name: &bad}, "tester")
	wantKind(t, "bad name", err, apikey.KindUsage, "control characters")
	_, err = f.st.UpdateCompany(ctx, "Globex", store.CompanyUpdate{Name: &bad}, "tester")
	wantKind(t, "unknown", err, apikey.KindNotFound, "not found")
	if f.lastChange() != before {
		t.Error("a refused update recorded an event")
	}
	es := f.events(store.EventFilter{Company: acme.ID, Limit: 1})
	if es[0].Action != apikey.ActionCompanyUpdate || es[0].Details["ref"] == nil {
		t.Errorf("last event %+v", es[0])
	}
	if c, err := f.st.Company(ctx, acme.ID); err != nil || c.Name != "Acme Corp" || c.Ref != "" || c.Keys != 2 {
		t.Errorf("after the refused updates: %+v, %v", c, err)
	}
}

// testCompanyUniqueness: a reference names exactly one company, so no name
// or ref may fold to another company's name or ref (a conflict), or be
// another company's id (a conflict); a name or ref that has the form of an
// id could never be used as one (a usage error).
func testCompanyUniqueness(t *testing.T, h Harness) {
	f := newFixture(t, h)
	acme := f.company("Acme", "ACME-1")
	globex := f.company("Globex", "")
	before := f.lastChange()
	for _, c := range []struct {
		name, ref string
		kind      apikey.Kind
		text      string
	}{
		{"acme-1", "", apikey.KindConflict, `name "acme-1" is the ref of company "Acme"`},
		{"Other", "ACME", apikey.KindConflict, `ref "ACME" is the name of company "Acme"`},
		{"Other", "acme-1", apikey.KindConflict, `ref "acme-1" already belongs to company "Acme"`},
		{"Other", "globex", apikey.KindConflict, `ref "globex" is the name of company "Globex"`},
		{acme.ID, "", apikey.KindConflict, `name "` + acme.ID + `" is the id of company "Acme"`},
		{strings.ToUpper(acme.ID), "", apikey.KindConflict, `is the id of company "Acme"`},
		{"Other", globex.ID, apikey.KindConflict, `ref "` + globex.ID + `" is the id of company "Globex"`},
		{"00000000-0000-4000-8000-000000000000", "", apikey.KindUsage, "a company name must not have the form of an id"},
		{"Other", "00000000-0000-4000-8000-000000000000", apikey.KindUsage, "a company ref must not have the form of an id"},
	} {
		_, err := f.st.CreateCompany(ctx, c.name, c.ref, "t")
		wantKind(t, "create "+c.name+" ref "+c.ref, err, c.kind, c.text)
	}

	// The same rules hold for a rename, where the company's own name and
	// ref are no obstacle.
	str := func(s string) *string { return &s }
	for _, c := range []struct {
		u    store.CompanyUpdate
		kind apikey.Kind
		text string
	}{
		{store.CompanyUpdate{Name: str("ACME-1")}, apikey.KindConflict, "is the ref of company"},
		{store.CompanyUpdate{Name: str("ACME")}, apikey.KindConflict, `company "Acme" already exists`},
		{store.CompanyUpdate{Ref: str("acme")}, apikey.KindConflict, `ref "acme" is the name of company "Acme"`},
		{store.CompanyUpdate{Ref: str("Acme-1")}, apikey.KindConflict, "already belongs"},
		{store.CompanyUpdate{Name: str(acme.ID)}, apikey.KindConflict, "is the id of company"},
		{store.CompanyUpdate{Ref: str(acme.ID)}, apikey.KindConflict, "is the id of company"},
		{store.CompanyUpdate{Name: str("11111111-2222-4333-8444-555555555555")}, apikey.KindUsage, "must not have the form of an id"},
	} {
		_, err := f.st.UpdateCompany(ctx, "Globex", c.u, "t")
		wantKind(t, "rename Globex", err, c.kind, c.text)
	}
	if f.lastChange() != before {
		t.Error("a refused create or rename recorded an event")
	}
	if cs, _ := f.st.ListCompanies(ctx); len(cs) != 2 {
		t.Errorf("%d companies after refused creates", len(cs))
	}

	// Its own name as its ref, its own id as its name, and a change of
	// case of its own name or ref are no conflict.
	if _, err := f.st.UpdateCompany(ctx, "Acme", store.CompanyUpdate{Ref: str("acme")}, "t"); err != nil {
		t.Errorf("own name as ref: %v", err)
	}
	if _, err := f.st.UpdateCompany(ctx, "Acme", store.CompanyUpdate{Name: str("ACME"), Ref: str("Acme")}, "t"); err != nil {
		t.Errorf("change of case: %v", err)
	}
	if c, err := f.st.Company(ctx, "acme"); err != nil || c.ID != acme.ID || c.Name != "ACME" || c.Ref != "Acme" {
		t.Errorf("after the renames: %+v, %v", c, err)
	}
	// A name that is only an id prefix (not an id) of another company is
	// allowed; references by it are then ambiguous (see
	// AmbiguousCompanyPrefix).
	if _, err := f.st.CreateCompany(ctx, "Other", "", "t"); err != nil {
		t.Fatal(err)
	}
}

// testCompanyNamedAfterAnID is issue 11, item 1: a tenant must not make a
// company that a reference by another company's id (as `verify --company`
// takes it from a request header) would resolve to.
func testCompanyNamedAfterAnID(t *testing.T, h Harness) {
	f := newFixture(t, h)
	victim := f.company("Victim", "")
	_, err := f.st.CreateCompany(ctx, victim.ID, "", "attacker")
	wantKind(t, "name is another's id", err, apikey.KindConflict, "is the id of company")
	_, err = f.st.CreateCompany(ctx, "Attacker", victim.ID, "attacker")
	wantKind(t, "ref is another's id", err, apikey.KindConflict, "is the id of company")

	// Old data, from before the rule, may hold such a company anyway: an
	// id still names only the company that has it.
	attacker := f.company("Attacker", "")
	f.exec(`UPDATE companies SET name = '` + victim.ID + `', name_key = '` + victim.ID + `' WHERE id = '` + attacker.ID + `'`)
	for _, ref := range []string{victim.ID, strings.ToUpper(victim.ID)} {
		if c, err := f.st.Company(ctx, ref); err != nil || c.ID != victim.ID {
			t.Errorf("Company(%q) = %+v, %v; want the victim", ref, c, err)
		}
	}
	k, _ := f.key(attacker.ID, "attacker's key", "")
	if got := f.keys(store.KeyFilter{Company: victim.ID}); len(got) != 0 {
		t.Errorf("the victim's keys include %q", names(got))
	}
	if _, err := f.st.Key(ctx, k.ID, victim.ID); apikey.KindOf(err) != apikey.KindNotFound {
		t.Errorf("the attacker's key as the victim's: %v", err)
	}
	if es := f.events(store.EventFilter{Company: victim.ID}); len(es) != 1 || es[0].Company.ID != victim.ID {
		t.Errorf("the victim's history: %+v", es)
	}
}

// testAmbiguousCompanyPrefix: a reference that names two companies is
// ambiguous, whichever way it names each.
func testAmbiguousCompanyPrefix(t *testing.T, h Harness) {
	f := newFixture(t, h)
	acme := f.company("Acme", "")
	globex := f.company("Globex", "")
	f.exec(`UPDATE companies SET id = 'feed0000-0000-4000-8000-00000000000a' WHERE id = '` + acme.ID + `'`)
	f.exec(`UPDATE companies SET id = 'feed0000-0000-4000-8000-00000000000b' WHERE id = '` + globex.ID + `'`)
	_, err := f.st.Company(ctx, "feed")
	wantKind(t, "ambiguous", err, apikey.KindUsage, `company reference "feed" is ambiguous: it matches feed0000-0000-4000-8000-00000000000a (Acme), feed0000-0000-4000-8000-00000000000b (Globex)`)
	if c, err := f.st.Company(ctx, "feed0000-0000-4000-8000-00000000000b"); err != nil || c.Name != "Globex" {
		t.Errorf("full id: %v %v", c.Name, err)
	}
	if c, err := f.st.Company(ctx, "FEED0000-0000-4000-8000-00000000000A"); err != nil || c.Name != "Acme" {
		t.Errorf("full id in upper case: %v %v", c.Name, err)
	}
	if c, err := f.st.Company(ctx, "feed0000-0000-4000-8000-00000000000"); err == nil || apikey.KindOf(err) != apikey.KindUsage {
		t.Errorf("a prefix of both: %v %v", c.Name, err)
	}

	// A name is no better than an id prefix: a company named like the
	// prefix makes the reference ambiguous, not the other company's.
	f.company("feed", "")
	_, err = f.st.Company(ctx, "FEED")
	wantKind(t, "a company named like a prefix", err, apikey.KindUsage, `company reference "FEED" is ambiguous`)
	if err != nil && !strings.Contains(err.Error(), "(feed)") {
		t.Errorf("the candidates leave out the company named feed: %v", err)
	}
	// Nor is a ref: one company's ref, another's id prefix.
	f.company("Initech", "feed0")
	_, err = f.st.Company(ctx, "feed0")
	wantKind(t, "a ref like a prefix", err, apikey.KindUsage, "ambiguous")
	// What names one company still resolves.
	for ref, want := range map[string]string{"initech": "Initech", "feed0000-0000-4000-8000-00000000000a": "Acme"} {
		if c, err := f.st.Company(ctx, ref); err != nil || c.Name != want {
			t.Errorf("Company(%q) = %v, %v; want %s", ref, c.Name, err, want)
		}
	}
	// A key reference narrowed by an ambiguous company is refused, not
	// narrowed to either.
	_, err = f.st.Keys(ctx, []string{"anything"}, "feed")
	wantKind(t, "keys of an ambiguous company", err, apikey.KindUsage, "ambiguous")
}

// testFoldedNames: names, refs and searches compare under Unicode case
// folding (apikey.Fold), not ASCII case alone.
func testFoldedNames(t *testing.T, h Harness) {
	f := newFixture(t, h)
	ecole := f.company("École", "Réf-É")
	uber := f.company("ÜBER", "")
	ubung := f.company("Übung", "")
	strasse := f.company("Straße", "Maß-1")
	for _, c := range []struct {
		name, ref string
		text      string
	}{
		{"école", "", `company "École" already exists`},
		{"ÉCOLE", "", `company "École" already exists`},
		{"über", "", `company "ÜBER" already exists`},
		{"Über", "", `company "ÜBER" already exists`},
		{"ÜBUNG", "", `company "Übung" already exists`},
		{"übung", "", `company "Übung" already exists`},
		{"STRASSE", "", `company "Straße" already exists`},
		{"strasse", "", `company "Straße" already exists`},
		{"STRAẞE", "", `company "Straße" already exists`},
		{"Other", "réf-é", `ref "réf-é" already belongs to company "École"`},
		{"Other", "MASS-1", `ref "MASS-1" already belongs to company "Straße"`},
		{"maß-1", "", `name "maß-1" is the ref of company "Straße"`},
		{"Other", "ÉCOLE", `ref "ÉCOLE" is the name of company "École"`},
	} {
		_, err := f.st.CreateCompany(ctx, c.name, c.ref, "t")
		wantKind(t, "create "+c.name, err, apikey.KindConflict, c.text)
	}
	for ref, want := range map[string]string{
		"École": ecole.ID, "école": ecole.ID, "ÉCOLE": ecole.ID, "réf-é": ecole.ID, "RÉF-É": ecole.ID,
		"ÜBER": uber.ID, "über": uber.ID, "Über": uber.ID,
		"Übung": ubung.ID, "übung": ubung.ID, "ÜBUNG": ubung.ID,
		"Straße": strasse.ID, "straße": strasse.ID, "STRASSE": strasse.ID, "strasse": strasse.ID, "MASS-1": strasse.ID, "maß-1": strasse.ID,
	} {
		if c, err := f.st.Company(ctx, ref); err != nil || c.ID != want {
			t.Errorf("Company(%q) = %q, %v", ref, c.Name, err)
		}
	}
	// Decomposed and composed forms are the same name.
	if c, err := f.st.Company(ctx, "E\u0301cole"); err != nil || c.ID != ecole.ID {
		t.Errorf("decomposed É: %q, %v", c.Name, err)
	}

	f.key("École", "Élève", "")
	f.key("ÜBER", "ÜBERSICHT", "")
	f.key("Übung", "plain", "")
	f.key("Straße", "Fußweg", "")
	for _, c := range []struct{ search, want string }{
		{"élève", "Élève"},
		{"ÉLÈVE", "Élève"},
		{"übersicht", "ÜBERSICHT"},
		{"Übersicht", "ÜBERSICHT"},
		{"FUSSWEG", "Fußweg"},
		{"fußweg", "Fußweg"},
		{"école", "Élève"},
		{"ÉCOLE", "Élève"},
		{"über", "ÜBERSICHT"},
		{"ÜBUNG", "plain"},
		{"übung", "plain"},
		{"STRASSE", "Fußweg"},
		{"strasse", "Fußweg"},
		{"réf-é", "Élève"},
		{"RÉF", "Élève"},
		{"mass-1", "Fußweg"},
		{"MASS", "Fußweg"},
		{"ü", "ÜBERSICHT,plain"},
		{"Ü", "ÜBERSICHT,plain"},
	} {
		if got := names(f.keys(store.KeyFilter{Search: c.search})); got != c.want {
			t.Errorf("Search %q: %q, want %q", c.search, got, c.want)
		}
	}

	// A key's name is unique as typed; a reference by it folds.
	for ref, want := range map[string]string{"élève": "Élève", "übersicht": "ÜBERSICHT", "FUSSWEG": "Fußweg"} {
		if k, err := f.st.Key(ctx, ref, ""); err != nil || k.Name != want {
			t.Errorf("Key(%q) = %q, %v", ref, k.Name, err)
		}
	}
	if k, err := f.st.Key(ctx, "FUSSWEG", "strasse"); err != nil || k.Name != "Fußweg" {
		t.Errorf("Key(FUSSWEG, strasse) = %q, %v", k.Name, err)
	}
}

func testDeleteCompanies(t *testing.T, h Harness) {
	f := newFixture(t, h)
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
	if got := actions(es); !reflect.DeepEqual(got, []string{"company.delete", "key.delete", "key.delete", "company.delete"}) {
		t.Errorf("actions %v", got)
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

	// A name, once free, may be taken again; its history is then that of
	// the live company.
	again := f.company("ACME", "")
	if es := f.events(store.EventFilter{Company: "acme"}); len(es) != 1 || es[0].Company.ID != again.ID {
		t.Errorf("history of a name taken again: %+v", es)
	}
}

// testHistoryOfADeletedCompanyByName: the trail finds a deleted company by
// the name it had, in any case, across Unicode.
func testHistoryOfADeletedCompanyByName(t *testing.T, h Harness) {
	f := newFixture(t, h)
	muller := f.company("Müller", "")
	strasse := f.company("Straße", "")
	f.company("Other", "")
	if err := f.st.DeleteCompanies(ctx, []string{muller.ID, strasse.ID}, false, "t"); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{"Müller": muller.ID, "MÜLLER": muller.ID, "müller": muller.ID, "STRASSE": strasse.ID, "straße": strasse.ID} {
		es := f.events(store.EventFilter{Company: ref})
		if len(es) != 2 || es[0].Action != apikey.ActionCompanyDelete || es[0].Company.ID != want || es[1].Action != apikey.ActionCompanyCreate {
			t.Errorf("history of %q: %+v", ref, es)
		}
	}
	_, err := f.st.Events(ctx, store.EventFilter{Company: "Mueller"})
	wantKind(t, "another name", err, apikey.KindNotFound, "not found")

	// Two deleted companies that had one name are ambiguous.
	again := f.company("MÜLLER", "")
	if err := f.st.DeleteCompanies(ctx, []string{again.ID}, false, "t"); err != nil {
		t.Fatal(err)
	}
	_, err = f.st.Events(ctx, store.EventFilter{Company: "müller"})
	wantKind(t, "two deleted companies of one name", err, apikey.KindUsage, "ambiguous")
}
