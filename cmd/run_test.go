package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/prompt"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/google/uuid"
)

// Tests that call run functions directly, with in-memory streams, against a
// fake store (fake_test.go) or a real SQLite one.

const acmeID = "23aee342-eccd-4fed-8553-7eb6092cea70"

var acme = apikey.CompanyRef{ID: acmeID, Name: "Acme"}

func testKey(id, name string) apikey.Key {
	return apikey.Key{
		ID: id, Name: name, Company: acme, Status: apikey.StatusActive, Hint: "ak_3f9Q…d9x2",
		CreatedAt: clock.Add(-time.Hour), CreatedBy: "alice", UpdatedAt: clock.Add(-time.Hour),
	}
}

var (
	billing = testKey("3f2a0c1e-0000-4000-8000-000000000001", "billing")
	shop    = testKey("9c41d2aa-0000-4000-8000-000000000002", "shop")
)

// jsonIDs decodes a JSON array of keys or companies into their ids.
func jsonIDs(t *testing.T, doc string) []string {
	t.Helper()
	var rows []struct{ ID string }
	if err := json.Unmarshal([]byte(doc), &rows); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, doc)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

// wantUsage fails the test unless err is a usage error with message msg.
func wantUsage(t *testing.T, err error, msg string) {
	t.Helper()
	if apikey.KindOf(err) != apikey.KindUsage || err.Error() != msg && !strings.HasPrefix(err.Error(), msg+": ") {
		t.Fatalf("got error %v, want the usage error %q", err, msg)
	}
}

type listStore struct {
	strictStore
	keys   []apikey.Key
	filter *store.KeyFilter
}

func (s *listStore) EachKey(_ context.Context, f store.KeyFilter, fn func(apikey.Key) error) error {
	s.filter = &f
	for _, k := range s.keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func TestListRun(t *testing.T) {
	ctx := context.Background()
	t.Run("filters and JSON", func(t *testing.T) {
		ios, _, out, errOut := iostreams.Test()
		st := &listStore{strictStore: strictStore{t}, keys: []apikey.Key{billing, shop}}
		err := listRun(ctx, &ListOptions{IO: ios, Store: opens(st), Now: fixedNow,
			Company: "Acme", Status: "inactive", Search: "shop", Limit: 20, Output: "json"})
		if err != nil {
			t.Fatal(err)
		}
		want := store.KeyFilter{Company: "Acme", Status: apikey.StatusInactive, Search: "shop", Limit: 20, Now: clock}
		if st.filter == nil || *st.filter != want {
			t.Errorf("EachKey got filter %+v, want %+v", st.filter, want)
		}
		if ids := jsonIDs(t, out.String()); !reflect.DeepEqual(ids, []string{billing.ID, shop.ID}) {
			t.Errorf("listed %v", ids)
		}
		if errOut.Len() > 0 {
			t.Errorf("stderr %q", errOut)
		}
	})
	t.Run("none", func(t *testing.T) {
		for format, want := range map[string]string{"table": "", "json": "[]\n"} {
			ios, _, out, errOut := iostreams.Test()
			st := &listStore{strictStore: strictStore{t}}
			if err := listRun(ctx, &ListOptions{IO: ios, Store: opens(st), Now: fixedNow, Output: format}); err != nil {
				t.Fatal(err)
			}
			if out.String() != want {
				t.Errorf("-o %s: stdout %q, want %q", format, out, want)
			}
			if wantErr := map[string]string{"table": "No keys found.\n"}[format]; errOut.String() != wantErr {
				t.Errorf("-o %s: stderr %q, want %q", format, errOut, wantErr)
			}
		}
	})
	t.Run("bad input stops before the store", func(t *testing.T) {
		ios, _, _, _ := iostreams.Test()
		err := listRun(ctx, &ListOptions{IO: ios, Store: opensNothing(t), Now: fixedNow, Status: "gone", Output: "table"})
		wantUsage(t, err, `invalid status "gone"`)
		err = listRun(ctx, &ListOptions{IO: ios, Store: opensNothing(t), Now: fixedNow, Limit: -1, Output: "table"})
		wantUsage(t, err, "invalid limit -1")
		err = listRun(ctx, &ListOptions{IO: ios, Store: opensNothing(t), Now: fixedNow, Output: "yaml"})
		wantUsage(t, err, `invalid output format "yaml"`)
	})
}

type deleteStore struct {
	strictStore
	keys    []apikey.Key
	refs    []string
	company string
	filter  *store.KeyFilter
	deleted []string
	actor   string
}

func (s *deleteStore) Keys(_ context.Context, refs []string, company string) ([]apikey.Key, error) {
	s.refs, s.company = refs, company
	return s.keys, nil
}

func (s *deleteStore) EachKey(_ context.Context, f store.KeyFilter, fn func(apikey.Key) error) error {
	s.filter = &f
	for _, k := range s.keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func (s *deleteStore) DeleteKeys(_ context.Context, ids []string, actor string) error {
	s.deleted, s.actor = ids, actor
	return nil
}

func TestDeleteRun(t *testing.T) {
	ctx := context.Background()
	t.Run("without --yes and without a terminal", func(t *testing.T) {
		ios, _, out, _ := iostreams.Test()
		err := deleteRun(ctx, &DeleteOptions{IO: ios, Store: opensNothing(t), Prompter: noPrompts(t), Now: fixedNow, Actor: "alice",
			Keys: []string{"billing"}, Output: "table"})
		wantUsage(t, err, "--yes required when not running interactively")
		if out.Len() > 0 {
			t.Errorf("stdout %q", out)
		}
	})
	t.Run("refused at a terminal", func(t *testing.T) {
		ios, _, _, errOut := iostreams.Test()
		ios.SetTTY(true, true, true)
		st := &deleteStore{strictStore: strictStore{t}, keys: []apikey.Key{billing, shop}}
		no := &answers{t: t}
		err := deleteRun(ctx, &DeleteOptions{IO: ios, Store: opens(st), Prompter: func() prompt.Prompter { return no }, Now: fixedNow, Actor: "alice",
			Keys: []string{"billing", "shop"}, Output: "table"})
		wantUsage(t, err, "not confirmed")
		if st.deleted != nil {
			t.Errorf("deleted %v", st.deleted)
		}
		if !reflect.DeepEqual(no.asked, []string{"Are you sure?"}) {
			t.Errorf("asked %q", no.asked)
		}
		want := "About to delete 2 keys:\n  billing  (Acme)  " + billing.ID + "\n  shop  (Acme)  " + shop.ID + "\n"
		if errOut.String() != want {
			t.Errorf("stderr %q, want %q", errOut, want)
		}
	})
	t.Run("--yes", func(t *testing.T) {
		ios, _, out, errOut := iostreams.Test()
		st := &deleteStore{strictStore: strictStore{t}, keys: []apikey.Key{billing, shop}}
		err := deleteRun(ctx, &DeleteOptions{IO: ios, Store: opens(st), Prompter: noPrompts(t), Now: fixedNow, Actor: "alice",
			Keys: []string{"billing", "9c41"}, Company: "Acme", Yes: true, Output: "json"})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(st.refs, []string{"billing", "9c41"}) || st.company != "Acme" {
			t.Errorf("Keys got %q of %q", st.refs, st.company)
		}
		if !reflect.DeepEqual(st.deleted, []string{billing.ID, shop.ID}) || st.actor != "alice" {
			t.Errorf("DeleteKeys got %v by %q", st.deleted, st.actor)
		}
		if ids := jsonIDs(t, out.String()); !reflect.DeepEqual(ids, []string{billing.ID, shop.ID}) {
			t.Errorf("printed %v", ids)
		}
		if errOut.String() != "Deleted 2 keys.\n" {
			t.Errorf("stderr %q", errOut)
		}
	})
	t.Run("--company --all --dry-run", func(t *testing.T) {
		ios, _, out, errOut := iostreams.Test()
		st := &deleteStore{strictStore: strictStore{t}, keys: []apikey.Key{shop}}
		err := deleteRun(ctx, &DeleteOptions{IO: ios, Store: opens(st), Prompter: noPrompts(t), Now: fixedNow, Actor: "alice",
			Company: "Acme", Status: "inactive", All: true, DryRun: true, Output: "json"})
		if err != nil {
			t.Fatal(err)
		}
		want := store.KeyFilter{Company: "Acme", Status: apikey.StatusInactive, Now: clock}
		if st.filter == nil || *st.filter != want {
			t.Errorf("EachKey got filter %+v, want %+v", st.filter, want)
		}
		if st.deleted != nil {
			t.Errorf("a dry run deleted %v", st.deleted)
		}
		if ids := jsonIDs(t, out.String()); !reflect.DeepEqual(ids, []string{shop.ID}) {
			t.Errorf("printed %v", ids)
		}
		if errOut.String() != "Would delete 1 key (dry run: nothing was deleted).\n" {
			t.Errorf("stderr %q", errOut)
		}
	})
}

type statusStore struct {
	strictStore
	refs    []string
	company string
	change  store.StatusChange
	actor   string
}

func (s *statusStore) SetStatus(_ context.Context, refs []string, company string, change store.StatusChange, actor string, _ ...store.StatusOption) ([]store.StatusResult, error) {
	s.refs, s.company, s.change, s.actor = refs, company, change, actor
	k := billing
	k.Status = apikey.StatusInactive
	return []store.StatusResult{{Key: k, Changed: true}}, nil
}

func TestStatusRunDisable(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	st := &statusStore{strictStore: strictStore{t}, change: -1}
	err := statusRun(context.Background(), &StatusOptions{IO: ios, Store: opens(st), Now: fixedNow, Actor: "alice",
		Keys: []string{"billing"}, Company: "Acme", Change: store.Disable, Output: "json"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.refs, []string{"billing"}) || st.company != "Acme" || st.change != store.Disable || st.actor != "alice" {
		t.Errorf("SetStatus got %q of %q, change %v, by %q", st.refs, st.company, st.change, st.actor)
	}
	var keys []struct{ ID, Status string }
	if err := json.Unmarshal(out.Bytes(), &keys); err != nil || len(keys) != 1 || keys[0].ID != billing.ID || keys[0].Status != "inactive" {
		t.Errorf("printed %s (%v)", out, err)
	}
}

type createStore struct {
	strictStore
	got *store.NewKey
}

func (s *createStore) CreateKey(_ context.Context, n store.NewKey) (apikey.Key, error) {
	s.got = &n
	return apikey.Key{
		ID: n.ID, Name: n.Name, Company: acme, Status: n.Status, Hint: n.Secret.Hint, Scopes: n.Scopes, Metadata: n.Metadata,
		ExpiresAt: n.ExpiresAt, CreatedAt: clock, CreatedBy: n.Actor, UpdatedAt: clock,
	}, nil
}

func TestCreateRun(t *testing.T) {
	ctx := context.Background()
	noSealer := func() (*apikey.Sealer, error) { return nil, nil }
	t.Run("the store gets the key, the secret is printed once", func(t *testing.T) {
		ios, _, out, errOut := iostreams.Test()
		st := &createStore{strictStore: strictStore{t}}
		err := createRun(ctx, &CreateOptions{
			IO: ios, Store: opens(st), Prompter: noPrompts(t), Now: fixedNow, Sealer: noSealer,
			Actor: "alice", KeyPrefix: "acme", Snippet: SnippetSettings{KeyHeader: "X-Token", CompanyHeader: "X-Tenant"},
			Company: "Acme", Name: "billing", Inactive: true, InactiveSet: true, Expires: "90d",
			Scopes: []string{"invoices:read"}, Meta: []string{"env=prod"}, CreateCompany: true, Format: "headers", Output: "table",
			RateLimit: "0100/m", AllowIPs: []string{"203.0.113.9/24", "::ffff:198.51.100.7", "2001:db8::1"},
		})
		if err != nil {
			t.Fatal(err)
		}
		n := st.got
		if n == nil {
			t.Fatal("CreateKey was not called")
		}
		expires := clock.Add(90 * 24 * time.Hour)
		if _, err := uuid.Parse(n.ID); err != nil || n.Company != "Acme" || !n.CreateCompany || n.Name != "billing" ||
			n.Status != apikey.StatusInactive || !reflect.DeepEqual(n.Scopes, []string{"invoices:read"}) ||
			!reflect.DeepEqual(n.Metadata, map[string]string{"env": "prod"}) || n.ExpiresAt == nil || !n.ExpiresAt.Equal(expires) ||
			n.Actor != "alice" || n.Secret.Sealed != nil {
			t.Errorf("CreateKey got %+v", *n)
		}
		// The limits are handed on in their canonical forms.
		if n.RateLimit != "100/m" || !reflect.DeepEqual(n.AllowedIPs, []string{"203.0.113.0/24", "198.51.100.7/32", "2001:db8::1/128"}) {
			t.Errorf("CreateKey got rate limit %q, allowlist %q", n.RateLimit, n.AllowedIPs)
		}
		// The snippet: a comment line, then the two headers.
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 3 || lines[2] != "X-Tenant: "+acmeID {
			t.Fatalf("stdout %q", out)
		}
		secret, ok := strings.CutPrefix(lines[1], "X-Token: ")
		if !ok || !strings.HasPrefix(secret, "acme_") || apikey.CheckSecret(secret) != nil {
			t.Fatalf("no secret with the configured prefix in %q", out)
		}
		if apikey.HashSecret(secret) != n.Secret.Hash || apikey.HintOf(secret) != n.Secret.Hint {
			t.Error("the store was not given the printed secret's hash and hint")
		}
		if strings.Count(out.String(), secret) != 1 || strings.Contains(errOut.String(), secret) {
			t.Errorf("the secret is not printed exactly once: stdout %q, stderr %q", out, errOut)
		}
		want := `Created key "billing" (` + n.ID + ") of Acme.\nCopy the secret now: it will not be shown again.\n"
		if errOut.String() != want {
			t.Errorf("stderr %q, want %q", errOut, want)
		}
	})
	t.Run("nothing to ask with and no terminal", func(t *testing.T) {
		ios, _, out, _ := iostreams.Test()
		err := createRun(ctx, &CreateOptions{
			IO: ios, Store: opens(strictStore{t}), Prompter: noPrompts(t), Now: fixedNow, Sealer: noSealer,
			Actor: "alice", KeyPrefix: "ak", Company: "Acme", Format: "headers", Output: "table",
		})
		wantUsage(t, err, "--company and --name required when not running interactively")
		if out.Len() > 0 {
			t.Errorf("stdout %q", out)
		}
	})
	t.Run("an invalid rate limit or address stops before the store", func(t *testing.T) {
		for _, tc := range []struct {
			limit string
			ips   []string
			msg   string
		}{
			{"100/d", nil, `invalid rate limit "100/d"`},
			{"0/s", nil, `invalid rate limit "0/s"`},
			{"", []string{"10.0.0.0/8", "10.0.0.300"}, `invalid address or CIDR "10.0.0.300"`},
			{"", []string{"fe80::1%eth0"}, `invalid address or CIDR "fe80::1%eth0"`},
		} {
			ios, _, out, _ := iostreams.Test()
			err := createRun(ctx, &CreateOptions{
				IO: ios, Store: opensNothing(t), Prompter: noPrompts(t), Now: fixedNow, Sealer: noSealer,
				Actor: "alice", KeyPrefix: "ak", Company: "Acme", Name: "billing", Format: "headers", Output: "table",
				RateLimit: tc.limit, AllowIPs: tc.ips,
			})
			wantUsage(t, err, tc.msg)
			if out.Len() > 0 {
				t.Errorf("stdout %q", out)
			}
		}
	})
}

type verifyStore struct {
	strictStore
	presented map[apikey.Hash]store.Presented
	companies []apikey.Company
}

func (s *verifyStore) LookupSecret(_ context.Context, h apikey.Hash) (store.Presented, bool, error) {
	p, ok := s.presented[h]
	return p, ok, nil
}

func (s *verifyStore) Company(_ context.Context, ref string) (apikey.Company, error) {
	for _, c := range s.companies {
		if c.ID == ref || strings.EqualFold(c.Name, ref) {
			return c, nil
		}
	}
	return apikey.Company{}, apikey.NotFoundf("company %q not found", ref)
}

func TestVerifyRun(t *testing.T) {
	secret := func() string {
		s, err := apikey.NewSecret("ak")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	active, inactive, expired, unknown := secret(), secret(), secret(), secret()
	// One character changed: the checksum catches it.
	mistyped := active[:len(active)-1] + map[bool]string{true: "y", false: "x"}[strings.HasSuffix(active, "x")]
	past := clock.Add(-time.Minute)
	off, gone := shop, billing
	off.Status = apikey.StatusInactive
	gone.ExpiresAt = &past
	st := func(t *testing.T) *verifyStore {
		return &verifyStore{strictStore: strictStore{t},
			presented: map[apikey.Hash]store.Presented{
				apikey.HashSecret(active):   {Key: billing},
				apikey.HashSecret(inactive): {Key: off},
				apikey.HashSecret(expired):  {Key: gone},
			},
			companies: []apikey.Company{{ID: acmeID, Name: "Acme"}, {ID: "5b8e3d7e-0000-4000-8000-000000000009", Name: "Globex"}},
		}
	}
	for _, tc := range []struct {
		name, stdin, env, company string
		reason                    apikey.Reason // ReasonNone: valid
		storeUnused               bool
	}{
		{name: "no key", storeUnused: true, reason: apikey.ReasonMissingKey},
		{name: "not a key", stdin: "hello\n", storeUnused: true, reason: apikey.ReasonMalformed},
		{name: "mistyped", stdin: mistyped + "\n", storeUnused: true, reason: apikey.ReasonMalformed},
		{name: "unknown", stdin: unknown + "\n", reason: apikey.ReasonInvalid},
		{name: "inactive", stdin: inactive, reason: apikey.ReasonInactive},
		{name: "expired", stdin: expired, reason: apikey.ReasonExpired},
		{name: "another company's", stdin: active, company: "Globex", reason: apikey.ReasonInvalid},
		{name: "no such company", stdin: active, company: "Initech", reason: apikey.ReasonInvalid},
		{name: "valid", stdin: active + "\n", company: "acme"},
		{name: "valid from APIKEY_KEY", stdin: unknown, env: active},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, in, out, errOut := iostreams.Test()
			in.WriteString(tc.stdin)
			opts := &VerifyOptions{IO: ios, Store: opens(st(t)), Now: fixedNow, EnvSecret: tc.env, Company: tc.company, Output: "table"}
			if tc.storeUnused {
				opts.Store = opensNothing(t)
			}
			err := verifyRun(context.Background(), opts)
			if tc.reason == apikey.ReasonNone {
				want := `valid: key "billing" (` + billing.ID + ") of Acme, company id " + acmeID + "\n"
				if err != nil || out.String() != want || errOut.Len() > 0 {
					t.Errorf("error %v, stdout %q, stderr %q; want %q", err, out, errOut, want)
				}
				return
			}
			var silent silentError
			if !errors.As(err, &silent) || silent.code != ExitInvalid {
				t.Errorf("error %v, want exit %d", err, ExitInvalid)
			}
			if want := "apikey: key is not valid: " + string(tc.reason) + "\n"; errOut.String() != want || out.Len() > 0 {
				t.Errorf("stdout %q, stderr %q; want %q", out, errOut, want)
			}
		})
	}
}

type historyStore struct {
	strictStore
	filter *store.EventFilter
	events []apikey.Event
}

func (s *historyStore) Events(_ context.Context, f store.EventFilter) ([]apikey.Event, error) {
	s.filter = &f
	return s.events, nil
}

func TestHistoryRun(t *testing.T) {
	ctx := context.Background()
	key := &apikey.KeyRef{ID: billing.ID, Name: billing.Name}
	events := []apikey.Event{
		{Seq: 2, At: clock, Actor: "bob", Action: apikey.ActionKeyDisable, Company: &acme, Key: key},
		{Seq: 1, At: clock.Add(-time.Hour), Actor: "alice", Action: apikey.ActionKeyCreate, Company: &acme, Key: key},
	}
	ios, _, out, _ := iostreams.Test()
	st := &historyStore{strictStore: strictStore{t}, events: events}
	err := historyRun(ctx, &HistoryOptions{IO: ios, Store: opens(st), Now: fixedNow, Key: "billing", Company: "Acme", Limit: 5, Output: "json"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.EventFilter{Key: "billing", Company: "Acme", Limit: 5}); st.filter == nil || *st.filter != want {
		t.Errorf("Events got filter %+v, want %+v", st.filter, want)
	}
	var got []struct{ Actor, Action string }
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if want := []struct{ Actor, Action string }{{"bob", "key.disable"}, {"alice", "key.create"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("printed %+v", got)
	}

	ios, _, out, errOut := iostreams.Test()
	if err := historyRun(ctx, &HistoryOptions{IO: ios, Store: opens(&historyStore{strictStore: strictStore{t}}), Now: fixedNow, Output: "table"}); err != nil {
		t.Fatal(err)
	}
	if out.Len() > 0 || errOut.String() != "No events.\n" {
		t.Errorf("no events: stdout %q, stderr %q", out, errOut)
	}

	err = historyRun(ctx, &HistoryOptions{IO: ios, Store: opensNothing(t), Now: fixedNow, Limit: -1, Output: "table"})
	wantUsage(t, err, "invalid limit -1")
}

// openSQLite opens a new SQLite store in a temporary directory.
func openSQLite(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "apikey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestRunOnSQLite takes a key through its life with run functions on a real
// store: what one command writes, the next reads.
func TestRunOnSQLite(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	streams := func() (*iostreams.IOStreams, *bytes.Buffer, *bytes.Buffer) {
		ios, _, out, errOut := iostreams.Test()
		return ios, out, errOut
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ios, out, _ := streams()
	must(companyCreateRun(ctx, &CompanyCreateOptions{IO: ios, Store: opens(st), Now: time.Now, Actor: "alice", Name: "Acme", Ref: "B-1", Output: "json"}))
	var co struct{ ID, Name string }
	must(json.Unmarshal(out.Bytes(), &co))

	ios, out, _ = streams()
	must(createRun(ctx, &CreateOptions{IO: ios, Store: opens(st), Prompter: noPrompts(t), Now: time.Now,
		Sealer: func() (*apikey.Sealer, error) { return nil, nil }, Actor: "alice", KeyPrefix: "ak",
		Snippet: SnippetSettings{KeyHeader: "X-Api-Key", CompanyHeader: "X-Company"},
		Company: "B-1", Name: "billing", Format: "headers", Output: "json"}))
	var k struct{ ID, Key string }
	must(json.Unmarshal(out.Bytes(), &k))

	ios, _, _ = streams()
	must(statusRun(ctx, &StatusOptions{IO: ios, Store: opens(st), Now: time.Now, Actor: "bob", Keys: []string{"billing"}, Company: "Acme", Change: store.Disable, Output: "table"}))

	ios, _, errOut := streams()
	err := verifyRun(ctx, &VerifyOptions{IO: ios, Store: opens(st), Now: time.Now, EnvSecret: k.Key, Company: co.ID, Output: "table"})
	if !errors.As(err, new(silentError)) || errOut.String() != "apikey: key is not valid: inactive\n" {
		t.Errorf("verify of a disabled key: %v, stderr %q", err, errOut)
	}

	ios, out, _ = streams()
	must(listRun(ctx, &ListOptions{IO: ios, Store: opens(st), Now: time.Now, Status: "inactive", Output: "json"}))
	if ids := jsonIDs(t, out.String()); !reflect.DeepEqual(ids, []string{k.ID}) {
		t.Errorf("inactive keys: %v", ids)
	}

	ios, _, _ = streams()
	must(deleteRun(ctx, &DeleteOptions{IO: ios, Store: opens(st), Prompter: noPrompts(t), Now: time.Now, Actor: "carol", Keys: []string{k.ID}, Yes: true, Output: "table"}))

	ios, out, _ = streams()
	must(historyRun(ctx, &HistoryOptions{IO: ios, Store: opens(st), Now: time.Now, Company: "Acme", Output: "json"}))
	var events []struct{ Actor, Action string }
	must(json.Unmarshal(out.Bytes(), &events))
	want := []struct{ Actor, Action string }{{"carol", "key.delete"}, {"bob", "key.disable"}, {"alice", "key.create"}, {"alice", "company.create"}}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("history %+v, want %+v", events, want)
	}
}

// TestServeRun serves a real store on the address and with the headers that
// ServeOptions hold.
func TestServeRun(t *testing.T) {
	st := openSQLite(t)
	ctx := context.Background()
	if _, err := st.CreateCompany(ctx, "Acme", "", "test"); err != nil {
		t.Fatal(err)
	}
	secret, material, err := apikey.MintSecret("ak", uuid.NewString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := st.CreateKey(ctx, store.NewKey{ID: uuid.NewString(), Company: "Acme", Name: "billing", Status: apikey.StatusActive, Secret: material, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// An address of its own, which serve would not pick by itself.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ios, _, _, errOut := iostreams.Test()
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- serveRun(sctx, &ServeOptions{IO: ios, Store: opens(st), Now: time.Now, Addr: addr, KeyHeader: "X-Token", CompanyHeader: "X-Tenant"})
	}()
	get := func(header map[string]string) (int, error) {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/me", nil)
		for h, v := range header {
			req.Header.Set(h, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var code int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if code, err = get(map[string]string{"X-Token": secret, "X-Tenant": k.Company.ID}); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v; stderr %q", err, errOut)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
	}
	if code != http.StatusOK {
		t.Errorf("the key in the configured header: %d", code)
	}
	if code, err := get(map[string]string{"X-Token": secret, "X-Tenant": "5b8e3d7e-0000-4000-8000-000000000009"}); err != nil || code != http.StatusUnauthorized {
		t.Errorf("another company in the configured header: %d %v", code, err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(errOut.String(), "listening on http://"+addr+"\n") {
		t.Errorf("stderr %q", errOut)
	}
}

type updateStore struct {
	strictStore
	ref, company, actor string
	got                 *store.KeyUpdate
}

func (s *updateStore) UpdateKey(_ context.Context, ref, company string, u store.KeyUpdate, actor string) (apikey.Key, error) {
	s.ref, s.company, s.got, s.actor = ref, company, &u, actor
	return billing, nil
}

func TestUpdateRun(t *testing.T) {
	ctx := context.Background()
	// --scope "" clears the scopes; what is not given is left alone.
	ios, _, _, _ := iostreams.Test()
	st := &updateStore{strictStore: strictStore{t}}
	err := updateRun(ctx, &UpdateOptions{IO: ios, Store: opens(st), Now: fixedNow, Actor: "alice",
		Key: "billing", Company: "Acme", Scopes: []string{""}, Expires: "2w", Meta: []string{"old="}, Output: "json"})
	if err != nil {
		t.Fatal(err)
	}
	expires := clock.Add(14 * 24 * time.Hour)
	want := store.KeyUpdate{Scopes: []string{}, ExpiresAt: &expires, Metadata: map[string]string{"old": ""}}
	if st.ref != "billing" || st.company != "Acme" || st.actor != "alice" || !reflect.DeepEqual(st.got, &want) {
		t.Errorf("UpdateKey got %q of %q by %q: %+v", st.ref, st.company, st.actor, st.got)
	}
	// A name is checked before anything is changed.
	err = updateRun(ctx, &UpdateOptions{IO: ios, Store: opensNothing(t), Now: fixedNow, Key: "billing", Name: ptr(""), Output: "table"})
	if apikey.KindOf(err) != apikey.KindUsage {
		t.Errorf("empty name: %v", err)
	}

	// A rate limit and an allowlist, in their canonical forms; removing
	// them is an empty limit and an empty (not nil) list.
	for _, tc := range []struct {
		opts UpdateOptions
		want store.KeyUpdate
	}{
		{UpdateOptions{RateLimit: "5/h", AllowIPs: []string{"10.1.2.3/8", "::1"}}, store.KeyUpdate{RateLimit: ptr("5/h"), AllowedIPs: []string{"10.0.0.0/8", "::1/128"}}},
		{UpdateOptions{NoRateLimit: true, AnyIP: true}, store.KeyUpdate{RateLimit: ptr(""), AllowedIPs: []string{}}},
	} {
		st := &updateStore{strictStore: strictStore{t}}
		o := tc.opts
		o.IO, o.Store, o.Now, o.Key, o.Output = ios, opens(st), fixedNow, "billing", "table"
		if err := updateRun(ctx, &o); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(st.got, &tc.want) {
			t.Errorf("%+v: UpdateKey got %+v", tc.opts, st.got)
		}
	}
	for _, o := range []UpdateOptions{{RateLimit: "1/d"}, {RateLimit: "1000001/s"}, {AllowIPs: []string{"10.0.0.0/33"}}} {
		o.IO, o.Store, o.Now, o.Key, o.Output = ios, opensNothing(t), fixedNow, "billing", "table"
		if err := updateRun(ctx, &o); apikey.KindOf(err) != apikey.KindUsage {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
