package engine

import (
	"context"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// Secret is one stored secret of a key as export and import move it: its
// hash, when it was made, when it stops working (nil for the current one),
// its sealed copy (nil without one), and whether it is of another system's
// format.
type Secret struct {
	Hash      apikey.Hash
	Sealed    []byte
	CreatedAt time.Time
	ExpiresAt *time.Time
	Legacy    bool
}

// KeyRecord is a key with every secret it has.
type KeyRecord struct {
	Key     apikey.Key
	Secrets []Secret
}

// KeyName is a key's name within its company, exactly as typed.
type KeyName struct{ CompanyID, Name string }

// Portable is what a transaction offers export and import: reading the
// whole store (or some companies) in an order that can be replayed,
// streaming, and writing rows with the ids, times and trail they had in
// another store. The batch methods take a slice, so that an engine that
// pays a round trip per statement (PostgreSQL) pays one per batch.
type Portable interface {
	// EachCompany calls fn for every company, or those of companyIDs
	// when it is not nil, in the order they were made. Key counts are
	// not filled.
	EachCompany(ctx context.Context, companyIDs []string, fn func(apikey.Company) error) error
	// EachKeyRecord calls fn for every key (of companyIDs when not nil),
	// in the order the keys were created, with its secrets, oldest first,
	// streaming: memory does not grow with the store. Only the company
	// id of the key is filled.
	EachKeyRecord(ctx context.Context, companyIDs []string, fn func(KeyRecord) error) error
	// EachEvent calls fn for every event (naming a company of companyIDs
	// when not nil), in the order of their sequence numbers, streaming.
	EachEvent(ctx context.Context, companyIDs []string, fn func(apikey.Event) error) error

	// KeyRecords returns the keys among ids that exist, with their
	// secrets, in no particular order. Only the company id is filled.
	KeyRecords(ctx context.Context, ids []string) ([]KeyRecord, error)
	// KeysNamed returns the id of each key of names that exists.
	KeysNamed(ctx context.Context, names []KeyName) (map[KeyName]string, error)
	// SecretOwners returns the key id of each hash of hashes that a
	// stored secret has.
	SecretOwners(ctx context.Context, hashes []apikey.Hash) (map[apikey.Hash]string, error)
	// InsertKeyRecords stores keys of companies that exist, as they are
	// (ids, times, last use), with their secrets. They are created in
	// the order given.
	InsertKeyRecords(ctx context.Context, recs []KeyRecord) error
	// DeletedKeys returns those of ids that the trail records as deleted
	// (key.delete); DeletedCompanies does so for companies
	// (company.delete).
	DeletedKeys(ctx context.Context, ids []string) (map[string]bool, error)
	DeletedCompanies(ctx context.Context, ids []string) (map[string]bool, error)
	// EventsPresent reports, for each event, whether the trail already
	// holds one of the same time, actor, action, company id and key id.
	EventsPresent(ctx context.Context, events []apikey.Event) ([]bool, error)
	// InsertEvents appends events to the trail, in the order given, with
	// their time, actor, action, company, key and details as they are;
	// their Seq and DBRole are the engine's to set, as for InsertEvent.
	InsertEvents(ctx context.Context, events []apikey.Event) error
}
