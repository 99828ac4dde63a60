// Package storetest is the conformance suite of apikey's store: what every
// engine behind store.Store must do alike. An engine's tests call Run with a
// Harness that opens fresh stores on that engine.
//
// The suite speaks to the store through its methods only, and to the
// database only through Harness.Exec, in plain UPDATE statements of the
// columns both engines share (companies.id, companies.name,
// companies.name_key), so that it assumes nothing of the engine.
package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
)

// Harness opens stores of one engine for the suite.
type Harness struct {
	// Open returns a fresh, empty store whose clock is now (each call a
	// new store), closed at t.Cleanup.
	Open func(t *testing.T, now func() time.Time) *store.Store
	// Reopen opens another store on the database of st, as another
	// process would (its clock is the real one), closed at t.Cleanup.
	Reopen func(t *testing.T, st *store.Store) *store.Store
	// Exec runs SQL behind the store's back (to give rows awkward ids
	// etc.): plain UPDATE statements without placeholders, valid on both
	// SQLite and PostgreSQL.
	Exec func(t *testing.T, st *store.Store, sql string)
}

// Run runs every test of the suite, each on a store of its own.
func Run(t *testing.T, h Harness) {
	if h.Open == nil || h.Reopen == nil || h.Exec == nil {
		t.Fatal("storetest: the harness needs Open, Reopen and Exec")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, h)
		})
	}
}

var tests = []struct {
	name string
	fn   func(*testing.T, Harness)
}{
	// Companies.
	{"Companies", testCompanies},
	{"CompanyUniqueness", testCompanyUniqueness},
	{"CompanyNamedAfterAnID", testCompanyNamedAfterAnID},
	{"AmbiguousCompanyPrefix", testAmbiguousCompanyPrefix},
	{"FoldedNames", testFoldedNames},
	{"DeleteCompanies", testDeleteCompanies},
	{"HistoryOfADeletedCompanyByName", testHistoryOfADeletedCompanyByName},
	// Keys.
	{"CreateKey", testCreateKey},
	{"CreateKeysWritesWhatCreateKeyWrites", testCreateKeysWritesWhatCreateKeyWrites},
	{"CreateKeysIsAllOrNothing", testCreateKeysIsAllOrNothing},
	{"EachKeyFilters", testEachKeyFilters},
	{"EachKeyGivesEachKeyItsCompany", testEachKeyGivesEachKeyItsCompany},
	{"KeyReferences", testKeyReferences},
	{"KeyReferencesByName", testKeyReferencesByName},
	{"SetStatus", testSetStatus},
	{"SetStatusWithDetails", testSetStatusWithDetails},
	{"UpdateKey", testUpdateKey},
	{"RotateKeyAndGrace", testRotateKeyAndGrace},
	{"SealedSecret", testSealedSecret},
	{"SealedFollowsTheCurrentSecret", testSealedFollowsTheCurrentSecret},
	{"DeleteKeysAndTheTrail", testDeleteKeysAndTheTrail},
	{"TouchKeys", testTouchKeys},
	{"LimitsAndLegacy", testLimitsAndLegacy},
	// Export and import.
	{"ExportImport", testExportImport},
	{"ExportCompanies", testExportCompanies},
	{"ImportConflicts", testImportConflicts},
	{"ImportMalformed", testImportMalformed},
	{"ImportLegacy", testImportLegacy},
	// The trail.
	{"Events", testEvents},
	{"EventsAfter", testEventsAfter},
	{"OneEventPerChange", testOneEventPerChange},
	{"BytesThatAreNotUTF8", testBytesThatAreNotUTF8},
	// Several handles on one database.
	{"ReopenSeesTheData", testReopenSeesTheData},
	{"ConcurrentWriters", testConcurrentWriters},
	{"ConcurrentCreateOfOneCompany", testConcurrentCreateOfOneCompany},
	{"ConcurrentToggles", testConcurrentToggles},
}

var ctx = context.Background()

// fixture is a fresh store with a clock the test moves.
type fixture struct {
	t   *testing.T
	h   Harness
	st  *store.Store
	now time.Time
}

func newFixture(t *testing.T, h Harness) *fixture {
	t.Helper()
	f := &fixture{t: t, h: h, now: time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)}
	f.st = h.Open(t, func() time.Time { return f.now })
	return f
}

func (f *fixture) exec(sql string) {
	f.t.Helper()
	f.h.Exec(f.t, f.st, sql)
}

func (f *fixture) company(name, ref string) apikey.Company {
	f.t.Helper()
	c, err := f.st.CreateCompany(ctx, name, ref, "tester")
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// key issues a key with the given id ("" for a new one) and returns it
// with its secret.
func (f *fixture) key(company, name, id string, mod ...func(*store.NewKey)) (apikey.Key, string) {
	f.t.Helper()
	if id == "" {
		id = newID()
	}
	secret, m, err := apikey.MintSecret("ak", id, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	n := store.NewKey{ID: id, Company: company, Name: name, Status: apikey.StatusActive, Secret: m, Actor: "tester"}
	for _, fn := range mod {
		fn(&n)
	}
	k, err := f.st.CreateKey(ctx, n)
	if err != nil {
		f.t.Fatal(err)
	}
	return k, secret
}

var idCounter atomic.Int64

// newID makes distinct ids in the form of a UUID whose first characters
// differ, so that a prefix of 8 names one of them.
func newID() string {
	n := idCounter.Add(1)
	return fmt.Sprintf("%08x-%04x-4000-8000-%012x", 0x10000000+n*7919, n&0xffff, n)
}

func (f *fixture) events(filter store.EventFilter) []apikey.Event {
	f.t.Helper()
	es, err := f.st.Events(ctx, filter)
	if err != nil {
		f.t.Fatal(err)
	}
	return es
}

// eventsAfter returns the events recorded after seq, oldest first.
func (f *fixture) eventsAfter(seq int64) []apikey.Event {
	f.t.Helper()
	es, err := f.st.EventsAfter(ctx, seq, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return es
}

func (f *fixture) lastChange() int64 {
	f.t.Helper()
	n, err := f.st.LastChange(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fixture) keys(filter store.KeyFilter) []apikey.Key {
	f.t.Helper()
	return eachKey(f.t, f.st, filter, f.now)
}

func eachKey(t *testing.T, st *store.Store, filter store.KeyFilter, now time.Time) []apikey.Key {
	t.Helper()
	if filter.Now.IsZero() {
		filter.Now = now
	}
	var out []apikey.Key
	if err := st.EachKey(ctx, filter, func(k apikey.Key) error { out = append(out, k); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func names(ks []apikey.Key) string {
	out := make([]string, 0, len(ks))
	for _, k := range ks {
		out = append(out, k.Name)
	}
	return strings.Join(out, ",")
}

func actions(es []apikey.Event) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.Action)
	}
	return out
}

// jargon is what no error of the store may show: the words of SQL drivers.
var jargon = []string{"sql:", "sqlite", "SQLITE_", "constraint failed", "pq:", "pgx", "pgconn", "SQLSTATE", "duplicate key value", "violates"}

func wantKind(t *testing.T, what string, err error, kind apikey.Kind, text string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %q", what, text)
	}
	if apikey.KindOf(err) != kind {
		t.Errorf("%s: %v: kind %v, want %v", what, err, apikey.KindOf(err), kind)
	}
	if !strings.Contains(err.Error(), text) {
		t.Errorf("%s: %q, want %q in it", what, err, text)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("%s: %q is more than one line", what, err)
	}
	for _, j := range jargon {
		if strings.Contains(err.Error(), j) {
			t.Errorf("%s: %q shows driver jargon", what, err)
		}
	}
}
