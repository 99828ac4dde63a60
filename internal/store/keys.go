package store

import (
	"context"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
)

// NewKey is what CreateKey needs. The secret itself is not part of it.
type NewKey struct {
	ID            string
	Company       string // reference
	CreateCompany bool   // create the company (by that name) when it does not exist
	Name          string
	Status        apikey.Status
	Scopes        []string
	Metadata      map[string]string
	ExpiresAt     *time.Time
	RateLimit     string   // N/s, N/m or N/h; "" for none
	AllowedIPs    []string // addresses or CIDRs; empty: any address
	Legacy        bool     // imported from another system
	Secret        apikey.SecretMaterial
	Actor         string
}

// CreateKey stores a key and its secret and records key.create (and
// company.create when it made the company).
func (s *Store) CreateKey(ctx context.Context, n NewKey) (apikey.Key, error) {
	n, err := checkNewKey(n)
	if err != nil {
		return apikey.Key{}, err
	}
	var k apikey.Key
	err = s.eng.Write(ctx, func(tx engine.Tx) error {
		var err error
		k, err = newKeyBatch(tx).add(ctx, n, s.clock())
		return err
	})
	return k, err
}

// CreateKeys stores many keys in one transaction, each exactly as CreateKey
// would (the same checks, rows and events), so that seeding a large store
// costs one commit per batch rather than one per key. When one key is
// refused, none is stored.
func (s *Store) CreateKeys(ctx context.Context, keys []NewKey) error {
	for i, n := range keys {
		var err error
		if keys[i], err = checkNewKey(n); err != nil {
			return err
		}
	}
	return s.eng.Write(ctx, func(tx engine.Tx) error {
		b := newKeyBatch(tx)
		for _, n := range keys {
			if _, err := b.add(ctx, n, s.clock()); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkNewKey validates a new key and returns it with its limits in their
// canonical form.
func checkNewKey(n NewKey) (NewKey, error) {
	if err := apikey.ValidateKeyName(n.Name); err != nil {
		return n, err
	}
	if err := apikey.ValidateScopes(n.Scopes); err != nil {
		return n, err
	}
	if len(n.Metadata) > apikey.MaxMeta {
		return n, apikey.Usagef("too many metadata entries (%d)", len(n.Metadata))
	}
	if n.Status != apikey.StatusActive && n.Status != apikey.StatusInactive {
		return n, apikey.Usagef("invalid status %q", n.Status)
	}
	rl, err := apikey.ParseRateLimit(n.RateLimit)
	if err != nil {
		return n, err
	}
	n.RateLimit = rl.String()
	if n.AllowedIPs, err = apikey.ParseAllowedIPs(n.AllowedIPs); err != nil {
		return n, err
	}
	return n, nil
}

// keyBatch adds keys within one transaction, remembering the companies it
// has resolved, so that a batch of many keys of few companies resolves each
// company once.
type keyBatch struct {
	tx        engine.Tx
	companies map[string]apikey.Company // by reference as given
}

func newKeyBatch(tx engine.Tx) *keyBatch {
	return &keyBatch{tx: tx, companies: map[string]apikey.Company{}}
}

// add stores one key that checkNewKey has passed.
func (b *keyBatch) add(ctx context.Context, n NewKey, now time.Time) (apikey.Key, error) {
	tx := b.tx
	c, ok := b.companies[n.Company]
	if !ok {
		var err error
		c, err = resolveCompany(ctx, tx, n.Company)
		if apikey.KindOf(err) == apikey.KindNotFound && n.CreateCompany {
			c, err = createCompany(ctx, tx, n.Company, "", n.Actor, now)
		}
		if err != nil {
			return apikey.Key{}, err
		}
		b.companies[n.Company] = c
	}
	if _, taken, err := tx.KeyNamed(ctx, c.ID, n.Name); err != nil {
		return apikey.Key{}, err
	} else if taken {
		return apikey.Key{}, keyNameConflict(c.Name, n.Name)
	}
	scopes, meta := n.Scopes, n.Metadata
	if scopes == nil {
		scopes = []string{}
	}
	if meta == nil {
		meta = map[string]string{}
	}
	var expires *time.Time
	if n.ExpiresAt != nil {
		t := n.ExpiresAt.UTC().Truncate(time.Microsecond)
		expires = &t
	}
	k := apikey.Key{
		ID: n.ID, Company: apikey.CompanyRef{ID: c.ID, Name: c.Name, Ref: c.Ref}, Name: n.Name, Status: n.Status,
		Hint: n.Secret.Hint, Scopes: scopes, Metadata: meta, CreatedAt: now, CreatedBy: n.Actor, UpdatedAt: now,
		ExpiresAt: expires, Sealed: n.Secret.Sealed != nil,
		RateLimit: n.RateLimit, AllowedIPs: n.AllowedIPs, Legacy: n.Legacy,
	}
	if err := tx.InsertKey(ctx, k); err != nil {
		return k, err
	}
	if err := tx.InsertSecret(ctx, k.ID, n.Secret, now); err != nil {
		return k, err
	}
	details := map[string]any{"status": string(n.Status)}
	if expires != nil {
		details["expires_at"] = expires.Format(time.RFC3339)
	}
	if len(n.Scopes) > 0 {
		details["scopes"] = n.Scopes
	}
	if n.RateLimit != "" {
		details["rate_limit"] = n.RateLimit
	}
	if len(n.AllowedIPs) > 0 {
		details["allowed_ips"] = n.AllowedIPs
	}
	if n.Legacy {
		details["legacy"] = true
	}
	return k, addEvent(ctx, tx, now, n.Actor, apikey.ActionKeyCreate, &k.Company, &apikey.KeyRef{ID: k.ID, Name: k.Name}, details)
}

func keyNameConflict(company, name string) error {
	return apikey.Conflictf("company %q already has a key named %q", company, name)
}

// KeyFilter selects keys for list and batch delete.
type KeyFilter struct {
	Company string        // reference; "" for all companies
	Status  apikey.Status // "" for any
	Search  string        // within the key name, company name or ref (any case), or the start of the key id
	Limit   int           // 0: no limit
	Now     time.Time     // what "expired" is measured against
}

// EachKey calls fn for every key that f selects, oldest first, streaming rows
// so that memory does not grow with the number of keys.
func (s *Store) EachKey(ctx context.Context, f KeyFilter, fn func(apikey.Key) error) error {
	switch f.Status {
	case "", apikey.StatusActive, apikey.StatusInactive, apikey.StatusExpired:
	default:
		return apikey.Usagef("invalid status %q", f.Status)
	}
	if f.Limit < 0 {
		return apikey.Usagef("invalid limit %d", f.Limit)
	}
	q := engine.KeyQuery{Status: f.Status, Limit: f.Limit, Now: f.Now.UTC()}
	if f.Search != "" {
		if !utf8.ValidString(f.Search) {
			return apikey.Usagef("search text is not valid UTF-8")
		}
		q.Search = apikey.Fold(f.Search)
	}
	if f.Company != "" {
		c, err := s.Company(ctx, f.Company)
		if err != nil {
			return err
		}
		q.CompanyID = c.ID
	}
	return s.eng.EachKey(ctx, q, fn)
}

// Key resolves a key reference: an id, a unique id prefix or a unique
// name, of the company that company names when it is not "".
func (s *Store) Key(ctx context.Context, ref, company string) (apikey.Key, error) {
	var k apikey.Key
	err := s.eng.Read(ctx, func(tx engine.Tx) error {
		cid, err := companyScope(ctx, tx, company)
		if err != nil {
			return err
		}
		k, err = resolveKey(ctx, tx, ref, cid)
		return err
	})
	return k, err
}

// Keys resolves several key references, each key once, in the order given.
func (s *Store) Keys(ctx context.Context, refs []string, company string) ([]apikey.Key, error) {
	var ks []apikey.Key
	err := s.eng.Read(ctx, func(tx engine.Tx) error {
		cid, err := companyScope(ctx, tx, company)
		if err != nil {
			return err
		}
		ks, err = resolveKeys(ctx, tx, refs, cid)
		return err
	})
	return ks, err
}

// StatusChange says what to do with a key's status.
type StatusChange int

const (
	Toggle StatusChange = iota
	Enable
	Disable
)

// StatusResult is one key after a status change, and whether it changed.
type StatusResult struct {
	Key     apikey.Key
	Changed bool
}

// StatusOption changes what SetStatus records.
type StatusOption func(*statusOptions)

type statusOptions struct {
	details func(apikey.Key) map[string]any
}

// WithDetails has SetStatus record details(k) in the event of each key k
// that it changes (scan records where it found the key's secret). A nil
// map records no details, as without the option.
func WithDetails(details func(apikey.Key) map[string]any) StatusOption {
	return func(o *statusOptions) { o.details = details }
}

// SetStatus enables, disables or toggles the referenced keys in one
// transaction: when one reference is unknown, none changes. Two admins
// toggling one key at once toggle it twice, one after the other: each
// reads the status the other wrote.
func (s *Store) SetStatus(ctx context.Context, refs []string, company string, change StatusChange, actor string, opts ...StatusOption) ([]StatusResult, error) {
	var o statusOptions
	for _, opt := range opts {
		opt(&o)
	}
	var out []StatusResult
	err := s.eng.Write(ctx, func(tx engine.Tx) error {
		out = nil
		cid, err := companyScope(ctx, tx, company)
		if err != nil {
			return err
		}
		keys, err := resolveKeys(ctx, tx, refs, cid)
		if err != nil {
			return err
		}
		now := s.clock()
		for _, k := range keys {
			want := apikey.StatusActive
			switch change {
			case Disable:
				want = apikey.StatusInactive
			case Toggle:
				if k.Status == apikey.StatusActive {
					want = apikey.StatusInactive
				}
			}
			if want == k.Status {
				out = append(out, StatusResult{Key: k})
				continue
			}
			k.Status, k.UpdatedAt = want, now
			if err := tx.UpdateKey(ctx, k); err != nil {
				return err
			}
			action := apikey.ActionKeyEnable
			if want == apikey.StatusInactive {
				action = apikey.ActionKeyDisable
			}
			var details map[string]any
			if o.details != nil {
				details = o.details(k)
			}
			if err := addEvent(ctx, tx, now, actor, action, &k.Company, &apikey.KeyRef{ID: k.ID, Name: k.Name}, details); err != nil {
				return err
			}
			out = append(out, StatusResult{Key: k, Changed: true})
		}
		return nil
	})
	return out, err
}

// KeyUpdate says what to change in a key; nil or false fields stay.
type KeyUpdate struct {
	Name        *string
	ExpiresAt   *time.Time
	ClearExpiry bool
	Scopes      []string          // replaces the scopes when not nil
	Metadata    map[string]string // merged; an empty value removes the entry
	RateLimit   *string           // N/s, N/m or N/h; "" removes the limit
	AllowedIPs  []string          // replaces the allowlist when not nil; empty: any address
}

// UpdateKey changes a key and records key.update with what changed, from
// and to. Nothing to change records nothing.
func (s *Store) UpdateKey(ctx context.Context, ref, company string, u KeyUpdate, actor string) (apikey.Key, error) {
	var k apikey.Key
	err := s.eng.Write(ctx, func(tx engine.Tx) error {
		cid, err := companyScope(ctx, tx, company)
		if err != nil {
			return err
		}
		if k, err = resolveKey(ctx, tx, ref, cid); err != nil {
			return err
		}
		details := map[string]any{}
		if u.Name != nil && *u.Name != k.Name {
			if err := apikey.ValidateKeyName(*u.Name); err != nil {
				return err
			}
			if id, taken, err := tx.KeyNamed(ctx, k.Company.ID, *u.Name); err != nil {
				return err
			} else if taken && id != k.ID {
				return keyNameConflict(k.Company.Name, *u.Name)
			}
			details["name"] = map[string]any{"from": k.Name, "to": *u.Name}
			k.Name = *u.Name
		}
		if u.ClearExpiry && k.ExpiresAt != nil {
			details["expires_at"] = map[string]any{"from": k.ExpiresAt.Format(time.RFC3339), "to": nil}
			k.ExpiresAt = nil
		}
		if u.ExpiresAt != nil && (k.ExpiresAt == nil || !k.ExpiresAt.Equal(*u.ExpiresAt)) {
			var from any
			if k.ExpiresAt != nil {
				from = k.ExpiresAt.Format(time.RFC3339)
			}
			t := u.ExpiresAt.UTC().Truncate(time.Microsecond)
			details["expires_at"] = map[string]any{"from": from, "to": t.Format(time.RFC3339)}
			k.ExpiresAt = &t
		}
		if u.Scopes != nil && !slices.Equal(u.Scopes, k.Scopes) {
			if err := apikey.ValidateScopes(u.Scopes); err != nil {
				return err
			}
			details["scopes"] = map[string]any{"from": k.Scopes, "to": u.Scopes}
			k.Scopes = u.Scopes
		}
		if len(u.Metadata) > 0 {
			merged := make(map[string]string, len(k.Metadata)+len(u.Metadata))
			for key, v := range k.Metadata {
				merged[key] = v
			}
			for key, v := range u.Metadata {
				if v == "" {
					delete(merged, key)
				} else {
					merged[key] = v
				}
			}
			if len(merged) > apikey.MaxMeta {
				return apikey.Usagef("too many metadata entries (%d)", len(merged))
			}
			if !sameMap(merged, k.Metadata) {
				details["metadata"] = map[string]any{"from": k.Metadata, "to": merged}
				k.Metadata = merged
			}
		}
		if u.RateLimit != nil {
			rl, err := apikey.ParseRateLimit(*u.RateLimit)
			if err != nil {
				return err
			}
			if to := rl.String(); to != k.RateLimit {
				details["rate_limit"] = map[string]any{"from": nullIfEmpty(k.RateLimit), "to": nullIfEmpty(to)}
				k.RateLimit = to
			}
		}
		if u.AllowedIPs != nil {
			ips, err := apikey.ParseAllowedIPs(u.AllowedIPs)
			if err != nil {
				return err
			}
			if !slices.Equal(ips, k.AllowedIPs) {
				details["allowed_ips"] = map[string]any{"from": k.AllowedIPs, "to": ips}
				k.AllowedIPs = ips
			}
		}
		if len(details) == 0 {
			return nil
		}
		now := s.clock()
		k.UpdatedAt = now
		if err := tx.UpdateKey(ctx, k); err != nil {
			return err
		}
		return addEvent(ctx, tx, now, actor, apikey.ActionKeyUpdate, &k.Company, &apikey.KeyRef{ID: k.ID, Name: k.Name}, details)
	})
	return k, err
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// RotateKey gives the key keyID a new secret. The old secret keeps working
// for grace (0: it stops at once); secrets whose grace has ended are removed.
func (s *Store) RotateKey(ctx context.Context, keyID string, m apikey.SecretMaterial, grace time.Duration, actor string) (apikey.Key, error) {
	var k apikey.Key
	err := s.eng.Write(ctx, func(tx engine.Tx) error {
		var found bool
		var err error
		k, found, err = tx.KeyByID(ctx, keyID)
		if err != nil {
			return err
		}
		if !found {
			return apikey.NotFoundf("key %q not found", keyID).WithHint("was it deleted meanwhile?")
		}
		now := s.clock()
		if err := tx.DropSecrets(ctx, k.ID, &now); err != nil {
			return err
		}
		// Every earlier secret stops when the grace ends at the latest,
		// including one still in the grace of an earlier rotation: a
		// rotation without grace, as after a leak, leaves no old secret
		// working. Only the current secret can be revealed, so the old
		// ones lose their sealed copies.
		if grace <= 0 {
			err = tx.DropSecrets(ctx, k.ID, nil)
		} else {
			err = tx.EndSecrets(ctx, k.ID, now.Add(grace))
		}
		if err != nil {
			return err
		}
		if err := tx.InsertSecret(ctx, k.ID, m, now); err != nil {
			return err
		}
		details := map[string]any{"hint": m.Hint, "previous_hint": k.Hint}
		if grace > 0 {
			details["grace_until"] = now.Add(grace).Format(time.RFC3339)
		}
		// A legacy key gets a secret of apikey's format, and is legacy no
		// more; its old secret, in its grace, is still found by its hash.
		if k.Legacy != m.Legacy {
			details["legacy"] = map[string]any{"from": k.Legacy, "to": m.Legacy}
			k.Legacy = m.Legacy
		}
		k.Hint, k.UpdatedAt, k.Sealed = m.Hint, now, m.Sealed != nil
		if err := tx.UpdateKey(ctx, k); err != nil {
			return err
		}
		return addEvent(ctx, tx, now, actor, apikey.ActionKeyRotate, &k.Company, &apikey.KeyRef{ID: k.ID, Name: k.Name}, details)
	})
	return k, err
}

// DeleteKeys deletes the keys with the given ids, each recorded as key.delete.
// When one of them is gone already, none is deleted.
func (s *Store) DeleteKeys(ctx context.Context, ids []string, actor string) error {
	return s.eng.Write(ctx, func(tx engine.Tx) error {
		keys := make([]apikey.Key, 0, len(ids))
		for _, id := range ids {
			k, found, err := tx.KeyByID(ctx, id)
			if err != nil {
				return err
			}
			if !found {
				return apikey.NotFoundf("key %q not found", id).WithHint("was it deleted meanwhile?")
			}
			keys = append(keys, k)
		}
		return deleteKeys(ctx, tx, keys, actor, s.clock())
	})
}

func deleteKeys(ctx context.Context, tx engine.Tx, keys []apikey.Key, actor string, now time.Time) error {
	for _, k := range keys {
		if err := tx.DeleteKey(ctx, k.ID); err != nil {
			return err
		}
		if err := addEvent(ctx, tx, now, actor, apikey.ActionKeyDelete, &k.Company, &apikey.KeyRef{ID: k.ID, Name: k.Name}, map[string]any{"hint": k.Hint}); err != nil {
			return err
		}
	}
	return nil
}

// SealedSecret opens the sealed copy of the key's current secret with open
// and records key.reveal, since printing a secret again is worth an audit
// line. The copy is opened inside the transaction, so that a reveal that
// fails (a wrong master key) leaves no trace.
func (s *Store) SealedSecret(ctx context.Context, keyID, actor string, open func(sealed []byte) (string, error)) (string, error) {
	var secret string
	err := s.eng.Write(ctx, func(tx engine.Tx) error {
		k, found, err := tx.KeyByID(ctx, keyID)
		if err != nil {
			return err
		}
		if !found {
			return apikey.NotFoundf("key %q not found", keyID)
		}
		sealed, found, err := tx.SealedSecret(ctx, keyID)
		if err != nil {
			return err
		}
		if !found {
			return apikey.Usagef("the secret of key %s cannot be revealed", k.ID).WithHint("it was created without a master key; rotate it to get a new secret")
		}
		if secret, err = open(sealed); err != nil {
			return err
		}
		return addEvent(ctx, tx, s.clock(), actor, apikey.ActionKeyReveal, &k.Company, &apikey.KeyRef{ID: k.ID, Name: k.Name}, nil)
	})
	return secret, err
}

// LookupSecret finds the key whose secret has the given hash. found is false
// when no key has it. It never writes.
func (s *Store) LookupSecret(ctx context.Context, h apikey.Hash) (Presented, bool, error) {
	return s.eng.LookupSecret(ctx, h)
}

// SecretHash is a stored secret as a server loads it.
type SecretHash = engine.SecretHash

// EachSecretHash calls fn for every stored secret, in no particular order,
// streaming. A server loads every key into memory with it and EachKey,
// two passes over the store rather than a look per key (internal/server).
func (s *Store) EachSecretHash(ctx context.Context, fn func(SecretHash) error) error {
	return s.eng.EachSecretHash(ctx, fn)
}

// KeyUse is when a key was last used, as a server records it.
type KeyUse = engine.KeyUse

// TouchKeys records when keys were last used. A server batches these, so
// that a verification never costs a write. A time older than the stored one
// is ignored, and of a key given twice the latest time is kept; a use whose
// key is not found by its id and creation time is passed over. The uses are
// written in the order given: a server gives them in the order EachKey
// lists the keys, their creation order, which is that of SQLite's table of
// last uses, so that a batch writes neighbouring rows (docs/performance.md).
func (s *Store) TouchKeys(ctx context.Context, used []KeyUse) error {
	if len(used) == 0 {
		return nil
	}
	return s.eng.TouchKeys(ctx, used)
}
