package store

import (
	"context"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
)

// KeyRecord is a key with every secret it has (hashes, grace ends, sealed
// copies), as export writes it and import reads it.
type KeyRecord = engine.KeyRecord

// Secret is one stored secret of a key.
type Secret = engine.Secret

// ExportSink receives an export: first the ids of the companies it holds
// (nil for the whole store), then the companies, the keys with their
// secrets, and the events, in the order import replays them. An error it
// returns ends the export and is returned as it is.
type ExportSink interface {
	Begin(companyIDs []string) error
	Company(apikey.Company) error
	Key(KeyRecord) error
	Event(apikey.Event) error
}

// Export reads the whole store, or the companies that refs name when refs
// is not nil, into sink, from one consistent snapshot, streaming: memory
// does not grow with the store. The events of the whole store include those
// of deleted companies and keys, and events that name no company (an
// import); those of some companies are the events that name them, their
// deleted keys' among them.
func (s *Store) Export(ctx context.Context, refs []string, sink ExportSink) error {
	return s.eng.Read(ctx, func(tx engine.Tx) error {
		var ids []string
		if refs != nil {
			ids = []string{}
			seen := map[string]bool{}
			for _, ref := range refs {
				c, err := resolveCompany(ctx, tx, ref)
				if err != nil {
					return err
				}
				if !seen[c.ID] {
					seen[c.ID] = true
					ids = append(ids, c.ID)
				}
			}
		}
		if err := sink.Begin(ids); err != nil {
			return err
		}
		if err := tx.EachCompany(ctx, ids, sink.Company); err != nil {
			return err
		}
		if err := tx.EachKeyRecord(ctx, ids, sink.Key); err != nil {
			return err
		}
		return tx.EachEvent(ctx, ids, sink.Event)
	})
}

// LegacySecrets counts the stored secrets of another system's format: those
// of legacy keys, and of keys rotated since, in their grace. A server asks
// after each change: while there are none, a secret that is not of
// apikey's format is refused without a look at the store.
func (s *Store) LegacySecrets(ctx context.Context) (int, error) {
	return s.eng.LegacySecrets(ctx)
}
