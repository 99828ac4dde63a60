package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
)

// ActionImport records an import that changed the store.
const ActionImport = "store.import"

// OriginDBRole is the detail under which an imported event keeps the
// database role that made it in the store it comes from (PostgreSQL's
// db_role), since the importing store records its own role.
const OriginDBRole = "origin_db_role"

// ImportRecord is one record of an export, as import replays it: exactly
// one of Company, Key and Event is set. Line is where it is in its file,
// for messages.
type ImportRecord struct {
	Line    int
	Company *apikey.Company
	Key     *KeyRecord
	Event   *apikey.Event
}

// OnConflict says what an import does with a record that conflicts with
// the store.
type OnConflict int

const (
	// ConflictFail reports every conflict and imports nothing.
	ConflictFail OnConflict = iota
	// ConflictSkip reports every conflict and imports the rest.
	ConflictSkip
)

// ImportOptions say how to import.
type ImportOptions struct {
	OnConflict OnConflict
	// DryRun does everything but commit: the report says what would
	// happen.
	DryRun bool
	Actor  string
	// Details are recorded in the store.import event, beside the counts.
	Details map[string]any
}

// ImportCounts counts the records of one type.
type ImportCounts struct {
	New       int // added to the store
	Unchanged int // the store holds them already, as they are
	Skipped   int // in conflict, or of a company or key that is
}

// ImportConflict is a record that conflicts with the store or the file.
type ImportConflict struct {
	Line   int
	Record string // company or key
	ID     string // its id, in an export
	Name   string // its name, in a file of legacy keys
	Reason string
}

// MaxReportedConflicts bounds the conflicts a report lists; it counts them
// all.
const MaxReportedConflicts = 100

// ImportReport says what an import did, or would do (DryRun).
type ImportReport struct {
	DryRun    bool
	Companies ImportCounts
	Keys      ImportCounts
	Events    ImportCounts
	Conflicts []ImportConflict // the first MaxReportedConflicts
	// ConflictCount counts every conflict, listed or not.
	ConflictCount int
}

// Changed reports whether the import added anything.
func (r ImportReport) Changed() bool {
	return r.Companies.New+r.Keys.New+r.Events.New > 0
}

// errDryRun rolls back a dry run, which has done all an import does.
var errDryRun = errors.New("dry run")

// importBatch is how many keys or events are checked and written at once.
const importBatch = 1000

// Import replays an export (records from next until io.EOF) into the
// store, in one transaction: ids, times, secrets and the audit trail come
// as they were, so that every key verifies with its old secret. A record
// the store holds already, as it is, is left alone, so importing a file
// twice changes nothing the second time. A record that conflicts (a
// company of the same name or ref and another id, a key id or a key name
// taken by another key, a secret that is another key's) is reported; with
// ConflictFail nothing is imported when there is one (the error says how
// many, of kind conflict), with ConflictSkip the rest is. A malformed
// record ends the import with an error that names its line, and nothing
// is imported. An import that changes the store records store.import.
//
// Events are appended in the order of the file, renumbered after the
// store's own; an event with a database role keeps it in its details
// (OriginDBRole). An event is the store's already when one of the same
// time, actor, action, company and key is.
func (s *Store) Import(ctx context.Context, next func() (ImportRecord, error), o ImportOptions) (ImportReport, error) {
	var rep ImportReport
	attempts := 0
	err := s.eng.Write(ctx, func(tx engine.Tx) error {
		// The records are read as they are written: a transaction
		// that an engine runs again (PostgreSQL, after a deadlock)
		// cannot read them again.
		if attempts++; attempts > 1 {
			return apikey.Runtimef("the import was interrupted by another writer of the store; nothing was imported").WithHint("run it again")
		}
		im := &importer{tx: tx, rep: &rep, o: o, known: map[string]string{}, skippedCompanies: map[string]bool{}, skippedKeys: map[string]bool{}}
		rep = ImportReport{DryRun: o.DryRun, Conflicts: []ImportConflict{}}
		if err := im.run(ctx, next); err != nil {
			return err
		}
		return s.finishImport(ctx, tx, &rep, o, nil)
	})
	if errors.Is(err, errDryRun) {
		err = nil
		if rep.ConflictCount > 0 && o.OnConflict == ConflictFail {
			err = conflictsError(rep, true)
		}
	}
	return rep, err
}

// finishImport refuses an import with conflicts that must fail, records
// one that changed the store, and rolls a dry run back.
func (s *Store) finishImport(ctx context.Context, tx engine.Tx, rep *ImportReport, o ImportOptions, extra map[string]any) error {
	if rep.ConflictCount > 0 && o.OnConflict == ConflictFail {
		if o.DryRun {
			return errDryRun
		}
		return conflictsError(*rep, false)
	}
	if rep.Changed() {
		details := map[string]any{
			"companies": rep.Companies.New, "keys": rep.Keys.New, "events": rep.Events.New,
		}
		if rep.Companies.Skipped+rep.Keys.Skipped+rep.Events.Skipped > 0 {
			details["skipped"] = rep.Companies.Skipped + rep.Keys.Skipped + rep.Events.Skipped
		}
		maps.Copy(details, o.Details)
		maps.Copy(details, extra)
		if err := addEvent(ctx, tx, s.clock(), o.Actor, ActionImport, nil, nil, details); err != nil {
			return err
		}
	}
	if o.DryRun {
		return errDryRun
	}
	return nil
}

func conflictsError(rep ImportReport, dryRun bool) error {
	what := "nothing was imported"
	if dryRun {
		what = "nothing would be imported"
	}
	noun := "conflicts"
	if rep.ConflictCount == 1 {
		noun = "conflict"
	}
	return apikey.Conflictf("%d %s with the store: %s", rep.ConflictCount, noun, what).WithHint("--on-conflict skip imports the rest")
}

// importer replays the records of one import within its transaction.
type importer struct {
	tx  engine.Tx
	rep *ImportReport
	o   ImportOptions

	// known maps the ids of the companies that exist (in the store or
	// imported) to their names; skipped* hold what was not imported, so
	// that what belongs to it is not either.
	known            map[string]string
	skippedCompanies map[string]bool
	skippedKeys      map[string]bool

	keys   []ImportRecord
	events []ImportRecord
}

func (im *importer) run(ctx context.Context, next func() (ImportRecord, error)) error {
	for {
		rec, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch {
		case rec.Company != nil:
			if err := im.flush(ctx); err != nil {
				return err
			}
			if err := im.company(ctx, rec.Line, *rec.Company); err != nil {
				return err
			}
		case rec.Key != nil:
			if err := im.flushEvents(ctx); err != nil {
				return err
			}
			if err := checkKeyRecord(rec.Line, rec.Key); err != nil {
				return err
			}
			if im.keys = append(im.keys, rec); len(im.keys) == importBatch {
				if err := im.flushKeys(ctx); err != nil {
					return err
				}
			}
		case rec.Event != nil:
			if err := im.flushKeys(ctx); err != nil {
				return err
			}
			if err := checkEvent(rec.Line, rec.Event); err != nil {
				return err
			}
			if im.events = append(im.events, rec); len(im.events) == importBatch {
				if err := im.flushEvents(ctx); err != nil {
					return err
				}
			}
		}
	}
	return im.flush(ctx)
}

func (im *importer) flush(ctx context.Context) error {
	if err := im.flushKeys(ctx); err != nil {
		return err
	}
	return im.flushEvents(ctx)
}

// conflict reports a record that is not imported.
func (im *importer) conflict(line int, record, id, name, reason string) {
	im.rep.ConflictCount++
	if len(im.rep.Conflicts) < MaxReportedConflicts {
		im.rep.Conflicts = append(im.rep.Conflicts, ImportConflict{Line: line, Record: record, ID: id, Name: name, Reason: reason})
	}
}

// lineError is a malformed record: the file, not the store, is at fault.
func lineError(line int, err error) error {
	var ae *apikey.Error
	if errors.As(err, &ae) {
		e := *ae
		e.Kind = apikey.KindUsage
		e.Msg = fmt.Sprintf("line %d: %s", line, ae.Msg)
		return &e
	}
	return apikey.Usagef("line %d: %v", line, err)
}

func (im *importer) company(ctx context.Context, line int, c apikey.Company) error {
	if !isID(c.ID) {
		return apikey.Usagef("line %d: company id %q is not a UUID", line, c.ID)
	}
	if err := apikey.ValidateCompanyName(c.Name); err != nil {
		return lineError(line, err)
	}
	if c.Ref != "" {
		if err := apikey.ValidateRef(c.Ref); err != nil {
			return lineError(line, err)
		}
	}
	if c.CreatedAt.IsZero() || c.UpdatedAt.IsZero() {
		return apikey.Usagef("line %d: company %s has no created_at or updated_at", line, c.ID)
	}
	c.CreatedAt, c.UpdatedAt, c.Keys = micro(c.CreatedAt), micro(c.UpdatedAt), 0
	old, found, err := im.tx.CompanyByID(ctx, c.ID)
	if err != nil {
		return err
	}
	if found {
		if old.Name == c.Name && old.Ref == c.Ref && old.CreatedAt.Equal(c.CreatedAt) && old.UpdatedAt.Equal(c.UpdatedAt) {
			im.rep.Companies.Unchanged++
			im.known[c.ID] = old.Name
			return nil
		}
		im.rep.Companies.Skipped++
		im.skippedCompanies[c.ID] = true
		im.conflict(line, "company", c.ID, c.Name, fmt.Sprintf("company %s is %q in the store, with other values than the file's %q", c.ID, old.Name, c.Name))
		return nil
	}
	// A company deleted from this store stays deleted: an old backup
	// must not bring back what an administrator removed, keys and all.
	if gone, err := im.tx.DeletedCompanies(ctx, []string{c.ID}); err != nil {
		return err
	} else if gone[c.ID] {
		im.rep.Companies.Skipped++
		im.skippedCompanies[c.ID] = true
		im.conflict(line, "company", c.ID, c.Name, fmt.Sprintf("company %q was deleted from this store, and stays deleted", c.Name))
		return nil
	}
	if err := checkCompanyUnique(ctx, im.tx, c.ID, c.Name, c.Ref); err != nil {
		// A name or ref that another company of the store has, or one of
		// the form of an id, which a store made before that rule may hold
		// (decisions.md): the company cannot be named, so it is not
		// imported, but the rest of the file may be.
		reason := err.Error()
		switch apikey.KindOf(err) {
		case apikey.KindConflict:
			reason += " (with another id)"
		case apikey.KindUsage:
			reason = fmt.Sprintf("company %q: %s", c.Name, reason)
		default:
			return err
		}
		im.rep.Companies.Skipped++
		im.skippedCompanies[c.ID] = true
		im.conflict(line, "company", c.ID, c.Name, reason)
		return nil
	}
	if err := im.tx.InsertCompany(ctx, c); err != nil {
		return err
	}
	im.rep.Companies.New++
	im.known[c.ID] = c.Name
	return nil
}

func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func microPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := micro(*t)
	return &u
}

// checkKeyRecord validates a key of a file as CreateKey validates a new
// one, and puts its values in the form the store keeps.
func checkKeyRecord(line int, r *KeyRecord) error {
	k := &r.Key
	if !isID(k.ID) {
		return apikey.Usagef("line %d: key id %q is not a UUID", line, k.ID)
	}
	if !isID(k.Company.ID) {
		return apikey.Usagef("line %d: company id %q of key %s is not a UUID", line, k.Company.ID, k.ID)
	}
	n, err := checkNewKey(NewKey{Name: k.Name, Status: k.Status, Scopes: k.Scopes, Metadata: k.Metadata, RateLimit: k.RateLimit, AllowedIPs: k.AllowedIPs})
	if err != nil {
		return lineError(line, err)
	}
	if err := apikey.ValidateMetadata(k.Metadata); err != nil {
		return lineError(line, err)
	}
	if err := apikey.ValidateHint(k.Hint); err != nil {
		return lineError(line, err)
	}
	if err := apikey.ValidateActor(k.CreatedBy); err != nil {
		return lineError(line, fmt.Errorf("created_by: %w", err))
	}
	if k.CreatedAt.IsZero() || k.UpdatedAt.IsZero() {
		return apikey.Usagef("line %d: key %s has no created_at or updated_at", line, k.ID)
	}
	k.RateLimit, k.AllowedIPs = n.RateLimit, n.AllowedIPs
	if k.Scopes == nil {
		k.Scopes = []string{}
	}
	if k.Metadata == nil {
		k.Metadata = map[string]string{}
	}
	k.CreatedAt, k.UpdatedAt = micro(k.CreatedAt), micro(k.UpdatedAt)
	k.ExpiresAt, k.LastUsedAt = microPtr(k.ExpiresAt), microPtr(k.LastUsedAt)
	// A key has one current secret, which verifies until the key is
	// rotated; earlier ones end with their grace, and only the current
	// one may be revealed.
	current := 0
	seen := map[apikey.Hash]bool{}
	for i := range r.Secrets {
		s := &r.Secrets[i]
		if s.CreatedAt.IsZero() {
			return apikey.Usagef("line %d: a secret of key %s has no created_at", line, k.ID)
		}
		s.CreatedAt, s.ExpiresAt = micro(s.CreatedAt), microPtr(s.ExpiresAt)
		if seen[s.Hash] {
			return apikey.Usagef("line %d: key %s has one secret twice", line, k.ID)
		}
		seen[s.Hash] = true
		if s.ExpiresAt == nil {
			current++
			k.Sealed = s.Sealed != nil
		}
	}
	if current != 1 {
		return apikey.Usagef("line %d: key %s has %d current secrets (without expires_at), not one", line, k.ID, current)
	}
	return nil
}

func (im *importer) flushKeys(ctx context.Context) error {
	batch := im.keys
	if len(batch) == 0 {
		return nil
	}
	im.keys = im.keys[:0]
	tx := im.tx
	ids := make([]string, 0, len(batch))
	for _, r := range batch {
		ids = append(ids, r.Key.Key.ID)
		if cid := r.Key.Key.Company.ID; !im.skippedCompanies[cid] {
			if _, ok := im.known[cid]; !ok {
				c, found, err := tx.CompanyByID(ctx, cid)
				if err != nil {
					return err
				}
				if !found {
					return apikey.Usagef("line %d: the company %s of key %s is neither in the file nor in the store", r.Line, cid, r.Key.Key.ID)
				}
				im.known[cid] = c.Name
			}
		}
	}
	stored, err := tx.KeyRecords(ctx, ids)
	if err != nil {
		return err
	}
	existing := make(map[string]KeyRecord, len(stored))
	for _, r := range stored {
		existing[r.Key.ID] = r
	}
	var names []engine.KeyName
	var hashes []apikey.Hash
	var fresh []string
	for _, r := range batch {
		if _, ok := existing[r.Key.Key.ID]; ok {
			continue
		}
		fresh = append(fresh, r.Key.Key.ID)
		names = append(names, engine.KeyName{CompanyID: r.Key.Key.Company.ID, Name: r.Key.Key.Name})
		for _, s := range r.Key.Secrets {
			hashes = append(hashes, s.Hash)
		}
	}
	var taken map[engine.KeyName]string
	var owners map[apikey.Hash]string
	var deleted map[string]bool
	if len(names) > 0 {
		if deleted, err = tx.DeletedKeys(ctx, fresh); err != nil {
			return err
		}
		if taken, err = tx.KeysNamed(ctx, names); err != nil {
			return err
		}
		if owners, err = tx.SecretOwners(ctx, hashes); err != nil {
			return err
		}
	}
	// What this batch takes, so that two records of it do not both.
	batchIDs, batchNames, batchHashes := map[string]int{}, map[engine.KeyName]bool{}, map[apikey.Hash]bool{}
	insert := make([]KeyRecord, 0, len(batch))
	for _, r := range batch {
		k := r.Key.Key
		if im.skippedCompanies[k.Company.ID] {
			im.rep.Keys.Skipped++
			im.skippedKeys[k.ID] = true
			continue
		}
		if line, ok := batchIDs[k.ID]; ok {
			return apikey.Usagef("line %d: key %s is in the file twice (line %d)", r.Line, k.ID, line)
		}
		batchIDs[k.ID] = r.Line
		if old, ok := existing[k.ID]; ok {
			if sameKeyRecord(old, *r.Key) {
				im.rep.Keys.Unchanged++
			} else {
				im.skipKey(r.Line, k, fmt.Sprintf("key %s is %q in the store, with other values than the file's %q", k.ID, old.Key.Name, k.Name))
			}
			continue
		}
		if deleted[k.ID] {
			// Deleted keys cannot be recovered, not even from a backup:
			// a key deleted after a leak must not work again.
			im.skipKey(r.Line, k, fmt.Sprintf("key %q was deleted from this store, and stays deleted", k.Name))
			continue
		}
		name := engine.KeyName{CompanyID: k.Company.ID, Name: k.Name}
		if _, ok := taken[name]; ok || batchNames[name] {
			im.skipKey(r.Line, k, keyNameConflict(im.known[k.Company.ID], k.Name).Error()+" (with another id)")
			continue
		}
		owner := ""
		for _, s := range r.Key.Secrets {
			if id, ok := owners[s.Hash]; ok {
				owner = id
			} else if batchHashes[s.Hash] {
				owner = "another key of the file"
			}
		}
		if owner != "" {
			if isID(owner) {
				owner = "key " + owner
			}
			im.skipKey(r.Line, k, fmt.Sprintf("a secret of key %s is the secret of %s", k.ID, owner))
			continue
		}
		batchNames[name] = true
		for _, s := range r.Key.Secrets {
			batchHashes[s.Hash] = true
		}
		insert = append(insert, *r.Key)
	}
	if len(insert) == 0 {
		return nil
	}
	im.rep.Keys.New += len(insert)
	return tx.InsertKeyRecords(ctx, insert)
}

func (im *importer) skipKey(line int, k apikey.Key, reason string) {
	im.rep.Keys.Skipped++
	im.skippedKeys[k.ID] = true
	im.conflict(line, "key", k.ID, k.Name, reason)
}

// sameKeyRecord reports whether a stored key is the file's, in everything
// an administrator sets and in its secrets. Its last use is not compared:
// it moves with use, not with changes.
func sameKeyRecord(a, b KeyRecord) bool {
	x, y := a.Key, b.Key
	if x.ID != y.ID || x.Company.ID != y.Company.ID || x.Name != y.Name || x.Status != y.Status || x.Hint != y.Hint ||
		!slices.Equal(x.Scopes, y.Scopes) || !maps.Equal(x.Metadata, y.Metadata) ||
		!x.CreatedAt.Equal(y.CreatedAt) || x.CreatedBy != y.CreatedBy || !x.UpdatedAt.Equal(y.UpdatedAt) || !sameTime(x.ExpiresAt, y.ExpiresAt) ||
		x.RateLimit != y.RateLimit || !slices.Equal(x.AllowedIPs, y.AllowedIPs) || x.Legacy != y.Legacy || len(a.Secrets) != len(b.Secrets) {
		return false
	}
	byHash := make(map[apikey.Hash]Secret, len(a.Secrets))
	for _, s := range a.Secrets {
		byHash[s.Hash] = s
	}
	for _, s := range b.Secrets {
		t, ok := byHash[s.Hash]
		if !ok || !t.CreatedAt.Equal(s.CreatedAt) || !sameTime(t.ExpiresAt, s.ExpiresAt) || !slices.Equal(t.Sealed, s.Sealed) {
			return false
		}
	}
	return true
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// checkEvent validates an event of a file: what the trail shows must be
// as printable as what the store records itself.
func checkEvent(line int, e *apikey.Event) error {
	if e.At.IsZero() {
		return apikey.Usagef("line %d: event has no at", line)
	}
	e.At = micro(e.At)
	if err := apikey.ValidateActor(e.Actor); err != nil {
		return lineError(line, err)
	}
	if err := apikey.ValidateAction(e.Action); err != nil {
		return lineError(line, err)
	}
	for _, ref := range []struct {
		what     string
		id, name *string
	}{{"company", refID(e.Company), refName(e.Company)}, {"key", keyID(e.Key), keyName(e.Key)}} {
		if ref.id == nil {
			continue
		}
		if *ref.id == "" || len(*ref.id) > 36 || !isIDChars(*ref.id) {
			return apikey.Usagef("line %d: event %s id %q is not an id", line, ref.what, *ref.id)
		}
		if err := apikey.ValidateKeyName(*ref.name); err != nil && *ref.name != "" {
			return lineError(line, fmt.Errorf("event %s name: %w", ref.what, err))
		}
	}
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	return nil
}

func refID(c *apikey.CompanyRef) *string {
	if c == nil {
		return nil
	}
	return &c.ID
}

func refName(c *apikey.CompanyRef) *string {
	if c == nil {
		return nil
	}
	return &c.Name
}

func keyID(k *apikey.KeyRef) *string {
	if k == nil {
		return nil
	}
	return &k.ID
}

func keyName(k *apikey.KeyRef) *string {
	if k == nil {
		return nil
	}
	return &k.Name
}

// eventIdentity is what makes an event the same as a stored one.
type eventIdentity struct {
	at                      int64
	actor, action, cid, kid string
}

func identityOf(e *apikey.Event) eventIdentity {
	id := eventIdentity{at: e.At.UnixMicro(), actor: e.Actor, action: e.Action, cid: "\x00", kid: "\x00"}
	if e.Company != nil {
		id.cid = e.Company.ID
	}
	if e.Key != nil {
		id.kid = e.Key.ID
	}
	return id
}

func (im *importer) flushEvents(ctx context.Context) error {
	batch := im.events
	if len(batch) == 0 {
		return nil
	}
	im.events = im.events[:0]
	events := make([]apikey.Event, 0, len(batch))
	for _, r := range batch {
		events = append(events, *r.Event)
	}
	present, err := im.tx.EventsPresent(ctx, events)
	if err != nil {
		return err
	}
	seen := map[eventIdentity]bool{}
	insert := events[:0]
	for i, e := range events {
		switch {
		case e.Key != nil && im.skippedKeys[e.Key.ID], e.Company != nil && im.skippedCompanies[e.Company.ID]:
			im.rep.Events.Skipped++
			continue
		case present[i] || seen[identityOf(&e)]:
			im.rep.Events.Unchanged++
			continue
		}
		seen[identityOf(&e)] = true
		if _, kept := e.Details[OriginDBRole]; e.DBRole != "" && !kept {
			e.Details = maps.Clone(e.Details)
			e.Details[OriginDBRole] = e.DBRole
		}
		insert = append(insert, e)
	}
	im.rep.Events.New += len(insert)
	if len(insert) == 0 {
		return nil
	}
	return im.tx.InsertEvents(ctx, insert)
}
