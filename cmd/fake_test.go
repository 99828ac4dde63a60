package cmd

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/prompt"
	"github.com/apikeyhq/apikey/internal/store"
)

// strictStore is a Store on which every call fails the test. A fake embeds
// it and overrides only the methods its test expects, so that a command
// that reads or changes more than it should is caught.
type strictStore struct{ t *testing.T }

var _ Store = strictStore{}

func (s strictStore) unexpected(method string) error {
	s.t.Helper()
	s.t.Errorf("unexpected call to Store.%s", method)
	return errors.New("unexpected call to Store." + method)
}

func (s strictStore) CreateCompany(context.Context, string, string, string) (apikey.Company, error) {
	return apikey.Company{}, s.unexpected("CreateCompany")
}

func (s strictStore) ListCompanies(context.Context) ([]apikey.Company, error) {
	return nil, s.unexpected("ListCompanies")
}

func (s strictStore) Company(context.Context, string) (apikey.Company, error) {
	return apikey.Company{}, s.unexpected("Company")
}

func (s strictStore) UpdateCompany(context.Context, string, store.CompanyUpdate, string) (apikey.Company, error) {
	return apikey.Company{}, s.unexpected("UpdateCompany")
}

func (s strictStore) DeleteCompanies(context.Context, []string, bool, string) error {
	return s.unexpected("DeleteCompanies")
}

func (s strictStore) CreateKey(context.Context, store.NewKey) (apikey.Key, error) {
	return apikey.Key{}, s.unexpected("CreateKey")
}

func (s strictStore) EachKey(context.Context, store.KeyFilter, func(apikey.Key) error) error {
	return s.unexpected("EachKey")
}

func (s strictStore) Key(context.Context, string, string) (apikey.Key, error) {
	return apikey.Key{}, s.unexpected("Key")
}

func (s strictStore) Keys(context.Context, []string, string) ([]apikey.Key, error) {
	return nil, s.unexpected("Keys")
}

func (s strictStore) SetStatus(context.Context, []string, string, store.StatusChange, string, ...store.StatusOption) ([]store.StatusResult, error) {
	return nil, s.unexpected("SetStatus")
}

func (s strictStore) UpdateKey(context.Context, string, string, store.KeyUpdate, string) (apikey.Key, error) {
	return apikey.Key{}, s.unexpected("UpdateKey")
}

func (s strictStore) RotateKey(context.Context, string, apikey.SecretMaterial, time.Duration, string) (apikey.Key, error) {
	return apikey.Key{}, s.unexpected("RotateKey")
}

func (s strictStore) DeleteKeys(context.Context, []string, string) error {
	return s.unexpected("DeleteKeys")
}

func (s strictStore) SealedSecret(context.Context, string, string, func([]byte) (string, error)) (string, error) {
	return "", s.unexpected("SealedSecret")
}

func (s strictStore) Events(context.Context, store.EventFilter) ([]apikey.Event, error) {
	return nil, s.unexpected("Events")
}

func (s strictStore) LookupSecret(context.Context, apikey.Hash) (store.Presented, bool, error) {
	return store.Presented{}, false, s.unexpected("LookupSecret")
}

func (s strictStore) LastChange(context.Context) (int64, error) {
	return 0, s.unexpected("LastChange")
}

func (s strictStore) EventsAfter(context.Context, int64, int) ([]apikey.Event, error) {
	return nil, s.unexpected("EventsAfter")
}

func (s strictStore) TouchKeys(context.Context, []store.KeyUse) error {
	return s.unexpected("TouchKeys")
}

func (s strictStore) Listen(context.Context, func(), func(bool)) bool {
	s.unexpected("Listen")
	return false
}

func (s strictStore) Kind() string {
	s.unexpected("Kind")
	return ""
}

func (s strictStore) Export(context.Context, []string, store.ExportSink) error {
	return s.unexpected("Export")
}

func (s strictStore) Import(context.Context, func() (store.ImportRecord, error), store.ImportOptions) (store.ImportReport, error) {
	return store.ImportReport{}, s.unexpected("Import")
}

func (s strictStore) ImportLegacy(context.Context, func() (store.LegacyKey, error), store.ImportOptions) (store.ImportReport, error) {
	return store.ImportReport{}, s.unexpected("ImportLegacy")
}

func (s strictStore) LegacySecrets(context.Context) (int, error) {
	return 0, s.unexpected("LegacySecrets")
}

// opens returns a store opener that hands out st.
func opens(st Store) func(context.Context) (Store, error) {
	return func(context.Context) (Store, error) { return st, nil }
}

// opensNothing is the store opener of a test in which the command must
// stop before it touches the store.
func opensNothing(t *testing.T) func(context.Context) (Store, error) {
	return func(context.Context) (Store, error) {
		t.Helper()
		t.Error("the store was opened")
		return nil, errors.New("the store was opened")
	}
}

// answers is a Prompter that gives canned answers and records the
// questions asked.
type answers struct {
	t       *testing.T
	confirm bool
	asked   []string
}

func (a *answers) Confirm(title, _ string) (bool, error) {
	a.asked = append(a.asked, title)
	return a.confirm, nil
}

func (a *answers) Input(title, _ string, _ func(string) error) (string, error) {
	a.t.Errorf("unexpected question %q", title)
	return "", errors.New("unexpected question")
}

func (a *answers) Select(title string, _ []prompt.Option) (string, error) {
	a.t.Errorf("unexpected question %q", title)
	return "", errors.New("unexpected question")
}

// noPrompts is the Prompter of a test in which nothing must be asked.
func noPrompts(t *testing.T) func() prompt.Prompter {
	return func() prompt.Prompter {
		t.Helper()
		t.Error("a prompter was asked for")
		return &answers{t: t}
	}
}

// clock is a fixed time for the tests' Now.
var clock = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return clock }
