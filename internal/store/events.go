package store

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
)

func addEvent(ctx context.Context, tx engine.Tx, at time.Time, actor, action string, c *apikey.CompanyRef, k *apikey.KeyRef, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	return tx.InsertEvent(ctx, apikey.Event{At: at, Actor: actor, Action: action, Company: c, Key: k, Details: details})
}

// EventFilter selects events. Key and Company are references; they may name
// keys and companies that no longer exist, as the trail outlives them.
type EventFilter struct {
	Key     string
	Company string
	Limit   int // 0: all
}

// Events returns the audit trail, newest first.
func (s *Store) Events(ctx context.Context, f EventFilter) ([]apikey.Event, error) {
	if f.Limit < 0 {
		return nil, apikey.Usagef("invalid limit %d", f.Limit)
	}
	var out []apikey.Event
	err := s.eng.Read(ctx, func(tx engine.Tx) error {
		q := engine.EventQuery{Limit: f.Limit}
		var err error
		if f.Company != "" {
			if q.CompanyID, err = eventCompanyID(ctx, tx, f.Company); err != nil {
				return err
			}
		}
		if f.Key != "" {
			if q.KeyID, err = eventKeyID(ctx, tx, f.Key, q.CompanyID); err != nil {
				return err
			}
		}
		out, err = tx.Events(ctx, q)
		return err
	})
	if out == nil {
		out = []apikey.Event{}
	}
	return out, err
}

// EventsAfter returns at most limit events with a sequence number above
// after, oldest first: what a running server reads to learn what changed.
// An event whose number a reader has passed is never committed later, so
// reading on from the last number seen misses nothing.
func (s *Store) EventsAfter(ctx context.Context, after int64, limit int) ([]apikey.Event, error) {
	var out []apikey.Event
	err := s.eng.Read(ctx, func(tx engine.Tx) error {
		var err error
		out, err = tx.Events(ctx, engine.EventQuery{After: after, Ascending: true, Limit: limit})
		return err
	})
	return out, err
}

// LastChange returns the sequence number of the newest event. Every change to
// a company or a key writes an event in the same transaction, so a running
// server that sees this number move knows its cache may be stale.
func (s *Store) LastChange(ctx context.Context) (int64, error) {
	return s.eng.LastChange(ctx)
}

// eventKeyID resolves a key reference for history: a live key first, else a
// deleted one by the id (or unique prefix) it had in the trail.
func eventKeyID(ctx context.Context, tx engine.Tx, ref, companyID string) (string, error) {
	k, err := resolveKey(ctx, tx, ref, companyID)
	if err == nil {
		return k.ID, nil
	}
	p := strings.ToLower(ref)
	if apikey.KindOf(err) != apikey.KindNotFound || !looksLikeIDPrefix(p) {
		return "", err
	}
	ids, qerr := tx.EventKeys(ctx, p)
	if qerr != nil {
		return "", qerr
	}
	return pickOne("key", ref, ids, err)
}

// eventCompanyID does for companies what eventKeyID does for keys, matching a
// deleted company by id, the name or ref it had, or id prefix.
func eventCompanyID(ctx context.Context, tx engine.Tx, ref string) (string, error) {
	c, err := resolveCompany(ctx, tx, ref)
	if err == nil {
		return c.ID, nil
	}
	if apikey.KindOf(err) != apikey.KindNotFound || !utf8.ValidString(ref) {
		return "", err
	}
	p := strings.ToLower(ref)
	for _, m := range []engine.EventCompanyMatch{
		{ID: p, NameKey: apikey.Fold(ref)},
		// The ref it had, as its company.create and company.update
		// events recorded it.
		{Ref: ref},
		{IDPrefix: p},
	} {
		if m.IDPrefix != "" && (isID(p) || !looksLikeIDPrefix(p)) {
			continue
		}
		ids, qerr := tx.EventCompanies(ctx, m)
		if qerr != nil {
			return "", qerr
		}
		if len(ids) > 0 {
			return pickOne("company", ref, ids, err)
		}
	}
	return "", err
}

func pickOne(what, ref string, ids []engine.IDName, notFound error) (string, error) {
	switch len(ids) {
	case 0:
		return "", notFound
	case 1:
		return ids[0].ID, nil
	}
	names := make([]string, 0, len(ids))
	for _, x := range ids {
		names = append(names, x.ID+" ("+x.Name+")")
	}
	return "", ambiguous(what, ref, names)
}
