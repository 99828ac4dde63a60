package server

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/pgtest"
	"github.com/apikeyhq/apikey/internal/store"
)

// awkwardKeys makes keys whose answers test every part of the directory's
// cutting: names that JSON escapes or that the name header encodes,
// separators inside values, scopes, metadata, expiry, limits, a rotated key
// with its old secret in grace, an inactive key, and companies with refs.
// It returns every secret that works or worked.
func awkwardKeys(t *testing.T, f *fixture) []string {
	t.Helper()
	var secrets []string
	add := func(company, name string, edit func(*store.NewKey)) apikey.Key {
		k, secret := f.key(company, name, edit)
		secrets = append(secrets, secret)
		return k
	}
	in := f.clock.Now().Add(48 * time.Hour)
	add("Acme", "plain", nil)
	add("Acme", `quote " and \ backslash`, nil)
	add("Acme", `a,"company":{"id":"x"},"scopes":[],"expires_at":null}`, func(n *store.NewKey) {
		n.Metadata = map[string]string{`,"expires_at":`: `,"scopes":`}
	})
	add("Acme", "Straße 100% <&>", func(n *store.NewKey) { n.Scopes = []string{"invoices:read", "<&>"} })
	add("Zoë & Co", "ünïcödé", func(n *store.NewKey) {
		n.Metadata = map[string]string{"env": "production", "team": "ü"}
		n.ExpiresAt = &in
	})
	add("Zoë & Co", "limited", func(n *store.NewKey) {
		n.RateLimit, n.AllowedIPs = "10/m", []string{"192.0.2.0/24", "2001:db8::/32"}
	})
	add("Acme", "off", func(n *store.NewKey) { n.Status = apikey.StatusInactive })
	if _, err := f.admin.UpdateCompany(context.Background(), "Acme", store.CompanyUpdate{Ref: ptr("FR-123")}, "test"); err != nil {
		t.Fatal(err)
	}
	rotated := add("Acme", "rotated", nil)
	secret, m, err := apikey.MintSecret("ak", rotated.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin.RotateKey(context.Background(), rotated.ID, m, time.Hour, "test"); err != nil {
		t.Fatal(err)
	}
	return append(secrets, secret)
}

// The directory answers every secret exactly as an entry made from the
// store's answer would, on both engines.
func TestDirectoryAnswersAsTheStore(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			var f *fixture
			if engine == "sqlite" {
				f = newFixture(t)
			} else {
				f = newFixtureOn(t, pgtest.New(t))
			}
			secrets := awkwardKeys(t, f)
			ctx := context.Background()
			d, err := loadDirectory(ctx, f.st, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.keys) != len(secrets)-1 || len(d.slots) != len(secrets) {
				t.Fatalf("%d keys and %d secrets loaded, want %d and %d", len(d.keys), len(d.slots), len(secrets)-1, len(secrets))
			}
			for _, secret := range secrets {
				h := apikey.HashSecret(secret)
				p, found, err := f.st.LookupSecret(ctx, h)
				if err != nil || !found {
					t.Fatalf("lookup: %v %v", found, err)
				}
				want, got := newEntry(p), d.find(h)
				if got == nil {
					t.Fatalf("%s: not in the directory", p.Key.Name)
				}
				if got.data != want.data || got.bodyLen != want.bodyLen || got.active != want.active ||
					got.expires != want.expires || got.graceEnd != want.graceEnd ||
					got.keyIDString() != want.keyIDString() || got.companyIDString() != want.companyIDString() ||
					got.nameHeader() != want.nameHeader() || got.part(got.limits) != want.part(want.limits) {
					t.Errorf("%s:\n got %q %+v\nwant %q %+v", p.Key.Name, got.data, *got, want.data, *want)
				}
			}
			unknown, _ := apikey.NewSecret("ak")
			if d.find(apikey.HashSecret(unknown)) != nil {
				t.Error("an unknown secret was found")
			}
			// The keys keep the store's order, the flusher's (cache.uses),
			// and each is found by its id.
			i := 0
			if err := f.st.EachKey(ctx, store.KeyFilter{}, func(k apikey.Key) error {
				if got := d.keys[i].id.String(); got != k.ID {
					t.Errorf("key %d is %s, the store read %s", i, got, k.ID)
				}
				if j, ok := d.keyIndex(k.ID); !ok || j != uint32(i) {
					t.Errorf("key %s found at %d, %v; want %d", k.ID, j, ok, i)
				}
				i++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if _, ok := d.keyIndex(apikey.Key{}.ID); ok {
				t.Error("an empty id was found")
			}
		})
	}
}

// Keys that change after the load are evicted from the directory and
// answered from the store: disabled, deleted, renamed with their company;
// keys made after it are found in the store. Their uses are written.
func TestDirectoryFollowsChanges(t *testing.T) {
	f := newFixture(t)
	k1, s1 := f.key("Acme", "one", nil)
	k2, s2 := f.key("Acme", "two", nil)
	_, s3 := f.key("Globex", "three", nil)
	s := f.server(Options{PollInterval: 20 * time.Millisecond})
	base, stop := f.run(s)
	ask := func(secret string) reply {
		return request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": secret})
	}
	for _, secret := range []string{s1, s2, s3} {
		if r := ask(secret); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	if s.cached(s1) || s.cache.directory().size() != 3 {
		t.Fatal("the keys loaded at start are answered from the directory, not cached")
	}
	ctx := context.Background()
	if _, err := f.admin.SetStatus(ctx, []string{k1.ID}, "", store.Disable, "test"); err != nil {
		t.Fatal(err)
	}
	if err := f.admin.DeleteKeys(ctx, []string{k2.ID}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin.UpdateCompany(ctx, "Globex", store.CompanyUpdate{Name: ptr("Initech")}, "test"); err != nil {
		t.Fatal(err)
	}
	_, s4 := f.key("Acme", "four", nil)
	f.settle(s)
	if r := ask(s1); r.status != 401 || r.body != refusal(apikey.ReasonInactive) {
		t.Errorf("disabled: %d %s", r.status, r.body)
	}
	if r := ask(s2); r.status != 401 || r.body != refusal(apikey.ReasonInvalid) {
		t.Errorf("deleted: %d %s", r.status, r.body)
	}
	if r := ask(s3); r.status != 200 || !strings.Contains(r.body, `"name":"Initech"`) {
		t.Errorf("renamed company: %d %s", r.status, r.body)
	}
	if r := ask(s4); r.status != 200 || !s.cached(s4) {
		t.Errorf("made after the load: %d %s, cached %v", r.status, r.body, s.cached(s4))
	}
	if n := s.cache.directory().size(); n != 0 {
		t.Errorf("%d keys still in service in the directory, want 0", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	k3, err := f.admin.Key(ctx, "three", "Initech")
	if err != nil {
		t.Fatal(err)
	}
	if k3.LastUsedAt == nil {
		t.Error("the use of a key answered from the directory was not written")
	}
}

// A server whose directory lost a quarter of its keys to changes loads a
// new one, in the background, and answers from it.
func TestDirectoryIsReloaded(t *testing.T) {
	f := newFixture(t)
	var secrets []string
	for i := range 20 {
		_, secret := f.key("Acme", "k"+string(rune('a'+i)), nil)
		secrets = append(secrets, secret)
	}
	s := f.server(Options{PollInterval: 20 * time.Millisecond})
	base, _ := f.run(s)
	first := s.cache.directory()
	// A key made after the load, which the server has seen. (Made while
	// the next load runs, it could be evicted from what that load read,
	// rightly, since the load may predate it.)
	_, fresh := f.key("Acme", "fresh", nil)
	f.settle(s)
	// Enough new keys that the directory would be reloaded: past the
	// threshold of a quarter of its keys plus 1024 would take too long to
	// make here, so the threshold is met by counting.
	s.cache.found.Add(int64(len(first.keys)/4) + 1025)
	eventually(t, func() string {
		if d := s.cache.directory(); d == first || d == nil {
			return "no new directory"
		}
		return ""
	})
	d := s.cache.directory()
	if d.find(apikey.HashSecret(fresh)) == nil || d.find(apikey.HashSecret(secrets[0])) == nil {
		t.Error("the new directory lacks keys")
	}
	if first.find(apikey.HashSecret(secrets[0])) != nil {
		t.Error("the old directory still answers")
	}
	if r := request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": fresh}); r.status != 200 {
		t.Errorf("%d %s", r.status, r.body)
	}
}

// With NoPreload (serve.preload false), a server loads nothing and answers
// from its cache and the store.
func TestNoPreload(t *testing.T) {
	f := newFixture(t)
	_, secret := f.key("Acme", "k", nil)
	s := f.server(Options{NoPreload: true})
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	base := "http://" + s.Addr()
	eventually(t, func() string {
		if r := request(t, "GET", base+"/v1/me", map[string]string{"X-Api-Key": secret}); r.status != 200 {
			return r.body
		}
		if !s.cached(secret) {
			return "not cached"
		}
		return ""
	})
	if s.cache.directory() != nil || strings.Contains(f.log.String(), "keys loaded") {
		t.Error("a server without preloading loaded the keys")
	}
}

// TestSlotOf finds every secret of a directory, and none that it does not
// hold, whether its bucket holds one slot, none, or thousands (hashes that
// share their first bytes, as no SHA-256 would, to test the search within
// a bucket), next to hashes one bit off on either side.
func TestSlotOf(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var held []apikey.Hash
	for i := range 30000 {
		var h apikey.Hash
		for j := range h {
			h[j] = byte(rng.Uint32())
		}
		switch i % 3 {
		case 0: // crowded buckets: 0x0000 to 0x0003
			h[0], h[1] = 0, byte(i%4)
		case 1: // crowded and uneven within the bucket
			h[0], h[1], h[2] = 0x7f, 0x7f, byte(i%5)
		}
		held = append(held, h)
	}
	d := &directory{}
	for i, h := range held {
		d.slots = append(d.slots, slot{hash: h, key: uint32(i)})
	}
	d.sortSlots()
	for i, h := range held {
		s := d.slotOf(&h)
		if s == nil || s.key != uint32(i) {
			t.Fatalf("hash %d (%x) not found", i, h[:4])
		}
		for _, off := range []apikey.Hash{hashPlus(h, 1), hashPlus(h, -1)} {
			if s := d.slotOf(&off); s != nil && s.hash != off {
				t.Fatalf("hash %x found as %x", off[:4], s.hash[:4])
			}
		}
	}
	var absent apikey.Hash
	absent[0], absent[1] = 0xff, 0xff
	if d.slotOf(&absent) != nil {
		t.Fatal("a hash of an empty bucket was found")
	}
	empty := &directory{}
	empty.sortSlots()
	if empty.slotOf(&held[0]) != nil {
		t.Fatal("an empty directory found a hash")
	}
}

// hashPlus is h plus d as a 256-bit number, wrapping around.
func hashPlus(h apikey.Hash, d int) apikey.Hash {
	for i := len(h) - 1; i >= 0; i-- {
		old := h[i]
		h[i] = byte(int(old) + d)
		if (d > 0 && h[i] > old) || (d < 0 && h[i] < old) {
			break
		}
	}
	return h
}
