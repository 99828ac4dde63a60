package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
	"github.com/google/uuid"
)

// LegacyKey is a key of another system, as import --plaintext reads it: what
// is stored of its secret (hash and hint), never the secret.
type LegacyKey struct {
	Line      int
	Company   string // reference; a company of this name is made when it names none
	Ref       string // the ref of a company this import makes
	Name      string
	Status    apikey.Status
	ExpiresAt *time.Time // may have passed: the key is then imported expired
	Scopes    []string
	Secret    apikey.SecretMaterial
}

// ImportLegacy brings keys of another system into the store, in one
// transaction, each as CreateKey would make it (a new id, now as its
// creation, key.create recorded) and marked Legacy, and each company that
// no reference names made as CreateCompany would. A key whose company
// already has a key of that name with that secret is the store's already:
// importing a file twice changes nothing the second time. A name taken by
// a key with another secret, a secret that is another key's, a ref that
// differs from the existing company's, or a company that cannot be made
// (its name is another's ref, say) are conflicts, handled as Import does.
func (s *Store) ImportLegacy(ctx context.Context, next func() (LegacyKey, error), o ImportOptions) (ImportReport, error) {
	var rep ImportReport
	attempts := 0
	err := s.eng.Write(ctx, func(tx engine.Tx) error {
		if attempts++; attempts > 1 {
			return apikey.Runtimef("the import was interrupted by another writer of the store; nothing was imported").WithHint("run it again")
		}
		rep = ImportReport{DryRun: o.DryRun, Conflicts: []ImportConflict{}}
		li := &legacyImporter{tx: tx, rep: &rep, o: o, now: s.clock(), batch: newKeyBatch(tx), failed: map[string]string{}}
		for {
			k, err := next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if err := li.add(ctx, k); err != nil {
				return err
			}
		}
		return s.finishImport(ctx, tx, &rep, o, map[string]any{"legacy": true})
	})
	if errors.Is(err, errDryRun) {
		err = nil
		if rep.ConflictCount > 0 && o.OnConflict == ConflictFail {
			err = conflictsError(rep, true)
		}
	}
	return rep, err
}

type legacyImporter struct {
	tx    engine.Tx
	rep   *ImportReport
	o     ImportOptions
	now   time.Time
	batch *keyBatch
	// failed holds the company references that could not be resolved or
	// made, with why, so that each of their keys says so without
	// trying again.
	failed map[string]string
}

func (li *legacyImporter) add(ctx context.Context, l LegacyKey) error {
	n, err := checkNewKey(NewKey{Name: l.Name, Status: l.Status, Scopes: l.Scopes})
	if err != nil {
		return lineError(l.Line, err)
	}
	if err := apikey.ValidateCompanyName(l.Company); err != nil {
		return lineError(l.Line, err)
	}
	if l.Ref != "" {
		if err := apikey.ValidateRef(l.Ref); err != nil {
			return lineError(l.Line, err)
		}
	}
	if why, ok := li.failed[l.Company]; ok {
		li.skip(l, why)
		return nil
	}
	c, made, err := li.company(ctx, l)
	if err != nil {
		if k := apikey.KindOf(err); k != apikey.KindConflict && k != apikey.KindUsage {
			return err
		}
		why := err.Error()
		li.failed[l.Company] = why
		li.skip(l, why)
		return nil
	}
	if made {
		li.rep.Companies.New++
	} else if l.Ref != "" && c.Ref != l.Ref {
		li.skip(l, fmt.Sprintf("company %q has the ref %q, not %q", c.Name, c.Ref, l.Ref))
		return nil
	}
	id, taken, err := li.tx.KeyNamed(ctx, c.ID, l.Name)
	if err != nil {
		return err
	}
	owners, err := li.tx.SecretOwners(ctx, []apikey.Hash{l.Secret.Hash})
	if err != nil {
		return err
	}
	owner, owned := owners[l.Secret.Hash]
	switch {
	case taken && owned && owner == id:
		li.rep.Keys.Unchanged++
		return nil
	case taken:
		li.skip(l, keyNameConflict(c.Name, l.Name).Error()+", with another secret")
		return nil
	case owned:
		li.skip(l, "its secret is the secret of key "+owner)
		return nil
	}
	n.ID, n.Company, n.Secret, n.Actor, n.Legacy = uuid.NewString(), c.ID, apikey.SecretMaterial{Hash: l.Secret.Hash, Hint: l.Secret.Hint, Legacy: true}, li.o.Actor, true
	n.ExpiresAt = l.ExpiresAt
	if _, err := li.batch.add(ctx, n, li.now); err != nil {
		return err
	}
	li.rep.Keys.New++
	return nil
}

// company resolves the row's company, or makes it (made is then true).
func (li *legacyImporter) company(ctx context.Context, l LegacyKey) (c apikey.Company, made bool, err error) {
	if c, ok := li.batch.companies[l.Company]; ok {
		return c, false, nil
	}
	c, err = resolveCompany(ctx, li.tx, l.Company)
	if apikey.KindOf(err) == apikey.KindNotFound {
		if c, err = createCompany(ctx, li.tx, l.Company, l.Ref, li.o.Actor, li.now); err == nil {
			made = true
		}
	}
	if err == nil {
		li.batch.companies[l.Company] = c
	}
	return c, made, err
}

func (li *legacyImporter) skip(l LegacyKey, why string) {
	li.rep.Keys.Skipped++
	li.conflict(l.Line, l.Name, why)
}

func (li *legacyImporter) conflict(line int, name, why string) {
	li.rep.ConflictCount++
	if len(li.rep.Conflicts) < MaxReportedConflicts {
		li.rep.Conflicts = append(li.rep.Conflicts, ImportConflict{Line: line, Record: "key", Name: name, Reason: why})
	}
}
