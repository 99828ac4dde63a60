// Package engine is the seam between apikey's store and the databases behind
// it. The store (package store) holds the rules: how references resolve,
// what must be unique, what an update records, how a rotation's grace ends.
// An engine (store/sqlite, store/postgres) holds only what differs between
// databases: its queries, its migrations, its transactions, and the
// translation of its errors into apikey's typed errors.
//
// Every method takes domain values and returns them; no SQL type crosses the
// seam. Errors the engine returns from Write and Read are already
// translated; errors a Tx method returns inside fn may be the driver's, and
// the engine translates them when the transaction ends.
package engine

import (
	"context"
	"errors"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// ErrNoStore is the cause of the error an engine opened with MustExist
// returns when there is no store where it was pointed, so that a command
// for which no store means "no keys known" (scan) can tell it from a
// failure.
var ErrNoStore = errors.New("no apikey store")

// MaxCandidates bounds how many matches a reference query returns: enough
// to tell one from several and to list a few in an "ambiguous" error.
const MaxCandidates = 6

// Engine is one database behind the store.
type Engine interface {
	// Kind names the engine: "sqlite" or "postgres".
	Kind() string

	// Write runs fn in one transaction that no other writer of the store
	// overlaps, from its first read to its commit: the rules read, decide,
	// then write, and what they read must still hold when they commit.
	// When fn fails, nothing it did stays.
	Write(ctx context.Context, fn func(Tx) error) error

	// Read runs fn on one consistent snapshot, without waiting for writers
	// and without keeping them waiting.
	Read(ctx context.Context, fn func(Tx) error) error

	// EachKey calls fn for every key that q selects, in the order the keys
	// were created, streaming: memory does not grow with the store.
	EachKey(ctx context.Context, q KeyQuery, fn func(apikey.Key) error) error

	// EachSecretHash calls fn for every stored secret, in no particular
	// order, streaming: what a server loads to answer every key from
	// memory. It never writes.
	EachSecretHash(ctx context.Context, fn func(SecretHash) error) error

	// LookupSecret finds the key whose secret has hash h. found is false
	// when no key has it. It never writes.
	LookupSecret(ctx context.Context, h apikey.Hash) (p Presented, found bool, err error)

	// TouchKeys records when keys were last used, in the order given; a
	// time older than the stored one is ignored, of a key given twice the
	// latest time is kept, and a use whose key is not found by its id and
	// creation time is passed over. It writes no event and needs no
	// writer's turn.
	TouchKeys(ctx context.Context, used []KeyUse) error

	// LastChange is the sequence number of the newest event, 0 for none.
	LastChange(ctx context.Context) (int64, error)

	// LegacySecrets counts the stored secrets of another system's format
	// (SecretMaterial.Legacy), from an index of those alone: a server asks
	// after each change, so that it looks up a secret that is not of
	// apikey's format only while some key may have one, a key in the
	// grace of its first rotation among them.
	LegacySecrets(ctx context.Context) (int, error)

	// Close releases the engine's connections.
	Close() error
}

// Notifier is an Engine that can tell a running server of a change made by
// any process, at once, rather than at its next look (PostgreSQL's
// LISTEN/NOTIFY). Listen calls changed after each change another
// transaction commits, and up(false) when it lost its connection (changes
// may then go untold until up(true)); it reconnects until ctx is done.
type Notifier interface {
	Listen(ctx context.Context, changed func(), up func(bool))
}

// Checker is an Engine that can check its database for damage.
type Checker interface {
	IntegrityCheck(ctx context.Context) error
}

// Tx is one transaction. Reads of a company fill its key count.
type Tx interface {
	// CompanyByID reads one company; found is false when there is none.
	CompanyByID(ctx context.Context, id string) (c apikey.Company, found bool, err error)
	// CompaniesByKey returns the companies whose name or ref folds
	// (apikey.Fold) to key, at most MaxCandidates.
	CompaniesByKey(ctx context.Context, key string) ([]apikey.Company, error)
	// CompaniesByIDPrefix returns the companies whose id starts with
	// prefix, by id, at most MaxCandidates.
	CompaniesByIDPrefix(ctx context.Context, prefix string) ([]apikey.Company, error)
	// Companies returns every company, by folded name.
	Companies(ctx context.Context) ([]apikey.Company, error)
	// InsertCompany stores a new company (its Keys count is ignored).
	InsertCompany(ctx context.Context, c apikey.Company) error
	// UpdateCompany writes a company's name, ref and updated_at.
	UpdateCompany(ctx context.Context, c apikey.Company) error
	// DeleteCompany deletes a company that owns no keys.
	DeleteCompany(ctx context.Context, id string) error

	// KeyByID reads one key with its company.
	KeyByID(ctx context.Context, id string) (k apikey.Key, found bool, err error)
	// KeysByIDPrefix returns the keys whose id starts with prefix, by id,
	// at most MaxCandidates.
	KeysByIDPrefix(ctx context.Context, prefix string) ([]apikey.Key, error)
	// KeysByName returns the keys whose name folds to nameKey, of the
	// company companyID when it is not "", at most MaxCandidates.
	KeysByName(ctx context.Context, nameKey, companyID string) ([]apikey.Key, error)
	// KeysOfCompany returns every key of a company, in creation order.
	KeysOfCompany(ctx context.Context, companyID string) ([]apikey.Key, error)
	// KeyNamed reports the id of the company's key with exactly this name.
	KeyNamed(ctx context.Context, companyID, name string) (id string, found bool, err error)
	// InsertKey stores a new key of k.Company.ID (LastUsedAt is ignored).
	InsertKey(ctx context.Context, k apikey.Key) error
	// UpdateKey writes everything of a key but its id, company, creation
	// and last use.
	UpdateKey(ctx context.Context, k apikey.Key) error
	// DeleteKey deletes a key and its secrets.
	DeleteKey(ctx context.Context, id string) error

	// InsertSecret stores a key's new current secret.
	InsertSecret(ctx context.Context, keyID string, m apikey.SecretMaterial, at time.Time) error
	// DropSecrets deletes the key's secrets that stopped working at or
	// before endedBy, or all of them when endedBy is nil.
	DropSecrets(ctx context.Context, keyID string, endedBy *time.Time) error
	// EndSecrets makes every secret of the key that works past until stop
	// at until, and drops their sealed copies.
	EndSecrets(ctx context.Context, keyID string, until time.Time) error
	// SealedSecret returns the sealed copy of the key's current secret.
	SealedSecret(ctx context.Context, keyID string) (sealed []byte, found bool, err error)

	// InsertEvent appends an event to the audit trail; its Seq and DBRole
	// are the engine's to set.
	InsertEvent(ctx context.Context, e apikey.Event) error
	// Events returns the events q selects.
	Events(ctx context.Context, q EventQuery) ([]apikey.Event, error)
	// EventKeys returns the distinct keys named by events whose key id
	// starts with prefix, at most MaxCandidates.
	EventKeys(ctx context.Context, prefix string) ([]IDName, error)
	// EventCompanies returns the distinct companies named by events that
	// match m, at most MaxCandidates.
	EventCompanies(ctx context.Context, m EventCompanyMatch) ([]IDName, error)

	// What export and import move (export.go).
	Portable
}

// KeyQuery selects keys for EachKey. The store has resolved the company and
// folded the search text.
type KeyQuery struct {
	CompanyID string        // "" for every company
	Status    apikey.Status // "" for any; expired is measured against Now
	Search    string        // folded; matches within the folded key name, company name or ref, or the start of the key id
	Limit     int           // 0: no limit
	Now       time.Time
}

// EventQuery selects events.
type EventQuery struct {
	KeyID     string // "" for any
	CompanyID string // "" for any
	After     int64  // only events with a greater Seq
	Ascending bool   // oldest first; newest first otherwise
	Limit     int    // 0: no limit
}

// EventCompanyMatch says which events' companies EventCompanies returns:
// ID and NameKey together (the company id, or a name that folds to
// NameKey), or Ref alone, or IDPrefix alone.
type EventCompanyMatch struct {
	ID, NameKey string
	Ref         string // a ref that company.create or company.update recorded
	IDPrefix    string // the start of the company id
}

// IDName is a company or key as the audit trail names it.
type IDName struct{ ID, Name string }

// SecretHash is a stored secret as a server loads it: its hash, its key,
// and when it stops working (nil for never: a key's current secret).
type SecretHash struct {
	Hash      apikey.Hash
	KeyID     string
	ExpiresAt *time.Time
}

// KeyUse is when a key was last used, as a server records it.
type KeyUse struct {
	KeyID string
	// CreatedAt is when the key was created, as the store gave it: SQLite
	// keeps last uses in the keys' order and finds a key's row by it
	// (migration 0007). A use whose key is not found by both is passed
	// over, as one of a deleted key is.
	CreatedAt time.Time
	At        time.Time
}

// Presented is what the store knows of a presented secret: its key, and when
// the secret itself stops working (set for an old secret in its grace period
// after a rotation).
type Presented struct {
	Key             apikey.Key
	SecretExpiresAt *time.Time
}
