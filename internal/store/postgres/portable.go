package postgres

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
	"github.com/jackc/pgx/v5"
)

// LegacySecrets counts the secrets of another system's format, from the
// partial index that holds them alone (migration 3).
func (e *Engine) LegacySecrets(ctx context.Context) (int, error) {
	var n int
	err := e.pool.QueryRow(ctx, `SELECT count(*) FROM secrets WHERE legacy`).Scan(&n)
	return n, e.translate(err)
}

// inCompanies is the condition that keeps the rows of some companies when
// ids is not nil, with its argument.
func inCompanies(column string, ids []string) (where string, args []any) {
	if ids == nil {
		return "", nil
	}
	return " WHERE " + column + " = ANY($1)", []any{ids}
}

func (t *tx) EachCompany(ctx context.Context, companyIDs []string, fn func(apikey.Company) error) error {
	where, args := inCompanies("id", companyIDs)
	rows, err := t.tx.Query(ctx, `SELECT id, name, coalesce(ref, ''), created_at, updated_at FROM companies`+where+` ORDER BY created_at, id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c apikey.Company
		if err := rows.Scan(&c.ID, &c.Name, &c.Ref, &c.CreatedAt, &c.UpdatedAt); err != nil {
			return err
		}
		c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// recordColumns are the columns of a key without its company's name.
const recordColumns = `k.id, k.company_id, k.name, k.status, k.hint, k.scopes, k.metadata, k.created_at, k.created_by, k.updated_at, k.expires_at, k.last_used_at,
	k.sealed, coalesce(k.rate_limit, ''), k.allowed_ips, k.legacy`

// recordRow is what a row of recordColumns (and, when withSecret, the
// columns of a secret) is scanned into; reused from row to row.
type recordRow struct {
	k       apikey.Key
	status  string
	hash    []byte
	sealed  []byte
	created *time.Time
	expires *time.Time
	legacy  *bool
	dest    []any
}

func newRecordRow(withSecret bool) *recordRow {
	r := &recordRow{}
	k := &r.k
	r.dest = []any{&k.ID, &k.Company.ID, &k.Name, &r.status, &k.Hint, &k.Scopes, &k.Metadata, &k.CreatedAt, &k.CreatedBy, &k.UpdatedAt, &k.ExpiresAt, &k.LastUsedAt,
		&k.Sealed, &k.RateLimit, &k.AllowedIPs, &k.Legacy}
	if withSecret {
		r.dest = append(r.dest, &r.hash, &r.sealed, &r.created, &r.expires, &r.legacy)
	}
	return r
}

func (r *recordRow) scan(row pgx.Row) error {
	r.k.Scopes, r.k.Metadata, r.k.AllowedIPs = nil, nil, nil
	return row.Scan(r.dest...)
}

func (r *recordRow) key() apikey.Key {
	k := r.k
	k.Status = apikey.Status(r.status)
	k.CreatedAt, k.UpdatedAt = utc(k.CreatedAt), utc(k.UpdatedAt)
	k.ExpiresAt, k.LastUsedAt = utcPtr(k.ExpiresAt), utcPtr(k.LastUsedAt)
	if k.Scopes == nil {
		k.Scopes = []string{}
	}
	if k.Metadata == nil {
		k.Metadata = map[string]string{}
	}
	if k.AllowedIPs == nil {
		k.AllowedIPs = []string{}
	}
	return k
}

// secret makes the secret of the row read last; ok is false for none.
func (r *recordRow) secret() (engine.Secret, bool) {
	return makeSecret(r.hash, r.sealed, r.created, r.expires, r.legacy)
}

func makeSecret(hash, sealed []byte, created, expires *time.Time, legacy *bool) (engine.Secret, bool) {
	if len(hash) != len(apikey.Hash{}) || created == nil {
		return engine.Secret{}, false
	}
	s := engine.Secret{CreatedAt: created.UTC(), ExpiresAt: utcPtr(expires), Legacy: legacy != nil && *legacy}
	copy(s.Hash[:], hash)
	if sealed != nil {
		s.Sealed = slices.Clone(sealed)
	}
	return s, true
}

// sortSecrets puts a key's secrets oldest first (by hash among equals), the
// order export writes them in on every engine.
func sortSecrets(l []engine.Secret) {
	slices.SortFunc(l, func(a, b engine.Secret) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return slices.Compare(a.Hash[:], b.Hash[:])
	})
}

func (t *tx) EachKeyRecord(ctx context.Context, companyIDs []string, fn func(engine.KeyRecord) error) error {
	where, args := inCompanies("k.company_id", companyIDs)
	// The rows of one key come together (ordered by the key's seq); pgx
	// reads them off the connection as fn takes them.
	rows, err := t.tx.Query(ctx, `SELECT `+recordColumns+`, s.hash, s.sealed, s.created_at, s.expires_at, s.legacy
		FROM keys k LEFT JOIN secrets s ON s.key_id = k.id`+where+` ORDER BY k.seq`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	r := newRecordRow(true)
	var cur engine.KeyRecord
	flush := func() error {
		if cur.Key.ID == "" {
			return nil
		}
		sortSecrets(cur.Secrets)
		err := fn(cur)
		cur = engine.KeyRecord{}
		return err
	}
	for rows.Next() {
		if err := r.scan(rows); err != nil {
			return err
		}
		if r.k.ID != cur.Key.ID {
			if err := flush(); err != nil {
				return err
			}
			cur.Key = r.key()
		}
		if s, ok := r.secret(); ok {
			cur.Secrets = append(cur.Secrets, s)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return flush()
}

func (t *tx) EachEvent(ctx context.Context, companyIDs []string, fn func(apikey.Event) error) error {
	where, args := inCompanies("company_id", companyIDs)
	// details as text, read with UseNumber: numbers are moved as written.
	rows, err := t.tx.Query(ctx, `SELECT seq, at, actor, db_role, action, company_id, company_name, key_id, key_name, details::text FROM events`+where+` ORDER BY seq`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e apikey.Event
		var cid, cname, kid, kname *string
		var details string
		if err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.DBRole, &e.Action, &cid, &cname, &kid, &kname, &details); err != nil {
			return err
		}
		e.At = utc(e.At)
		if cid != nil {
			e.Company = &apikey.CompanyRef{ID: *cid, Name: deref(cname)}
		}
		if kid != nil {
			e.Key = &apikey.KeyRef{ID: *kid, Name: deref(kname)}
		}
		dec := json.NewDecoder(strings.NewReader(details))
		dec.UseNumber()
		if err := dec.Decode(&e.Details); err != nil || e.Details == nil {
			e.Details = map[string]any{}
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// bulk readies the transaction for the statements of an import, once: no
// JIT compilation, which PostgreSQL would otherwise spend a quarter of a
// second on for a statement over a batch that takes a few milliseconds.
func (t *tx) bulk(ctx context.Context) error {
	if t.bulkReady {
		return nil
	}
	t.bulkReady = true
	_, err := t.tx.Exec(ctx, `SET LOCAL jit = off`)
	return err
}

func (t *tx) KeyRecords(ctx context.Context, ids []string) ([]engine.KeyRecord, error) {
	if err := t.bulk(ctx); err != nil {
		return nil, err
	}
	// Each key of the batch is looked up by its index, in a lateral
	// subquery that OFFSET 0 keeps from being turned into a join: as a
	// join (or with ANY), PostgreSQL may read the whole table for a batch,
	// on statistics that an import leaves far behind.
	rows, err := t.tx.Query(ctx, `SELECT `+recordColumns+` FROM unnest($1::text[]) AS u(id)
		CROSS JOIN LATERAL (SELECT * FROM keys k WHERE k.id = u.id OFFSET 0) AS k`, ids)
	if err != nil {
		return nil, err
	}
	var out []engine.KeyRecord
	at := map[string]int{}
	r := newRecordRow(false)
	for rows.Next() {
		if err := r.scan(rows); err != nil {
			rows.Close()
			return nil, err
		}
		at[r.k.ID] = len(out)
		out = append(out, engine.KeyRecord{Key: r.key()})
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	found := make([]string, 0, len(out))
	for _, rec := range out {
		found = append(found, rec.Key.ID)
	}
	rows, err = t.tx.Query(ctx, `SELECT s.key_id, s.hash, s.sealed, s.created_at, s.expires_at, s.legacy FROM unnest($1::text[]) AS u(id)
		CROSS JOIN LATERAL (SELECT * FROM secrets s WHERE s.key_id = u.id OFFSET 0) AS s`, found)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var hash, sealed []byte
		var created, expires *time.Time
		var legacy bool
		if err := rows.Scan(&id, &hash, &sealed, &created, &expires, &legacy); err != nil {
			return nil, err
		}
		if s, ok := makeSecret(hash, sealed, created, expires, &legacy); ok {
			rec := &out[at[id]]
			rec.Secrets = append(rec.Secrets, s)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		sortSecrets(out[i].Secrets)
	}
	return out, nil
}

func (t *tx) KeysNamed(ctx context.Context, names []engine.KeyName) (map[engine.KeyName]string, error) {
	if err := t.bulk(ctx); err != nil {
		return nil, err
	}
	cids, ns := make([]string, len(names)), make([]string, len(names))
	for i, n := range names {
		cids[i], ns[i] = n.CompanyID, n.Name
	}
	rows, err := t.tx.Query(ctx, `SELECT k.company_id, k.name, k.id FROM unnest($1::text[], $2::text[]) AS u(cid, name)
		CROSS JOIN LATERAL (SELECT * FROM keys k WHERE k.company_id = u.cid AND k.name = u.name OFFSET 0) AS k`, cids, ns)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[engine.KeyName]string{}
	for rows.Next() {
		var n engine.KeyName
		var id string
		if err := rows.Scan(&n.CompanyID, &n.Name, &id); err != nil {
			return nil, err
		}
		out[n] = id
	}
	return out, rows.Err()
}

func (t *tx) SecretOwners(ctx context.Context, hashes []apikey.Hash) (map[apikey.Hash]string, error) {
	hs := make([][]byte, len(hashes))
	for i := range hashes {
		hs[i] = hashes[i][:]
	}
	rows, err := t.tx.Query(ctx, `SELECT s.hash, s.key_id FROM unnest($1::bytea[]) AS u(hash)
		CROSS JOIN LATERAL (SELECT * FROM secrets s WHERE s.hash = u.hash OFFSET 0) AS s`, hs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[apikey.Hash]string{}
	for rows.Next() {
		var b []byte
		var id string
		if err := rows.Scan(&b, &id); err != nil {
			return nil, err
		}
		var h apikey.Hash
		copy(h[:], b)
		out[h] = id
	}
	return out, rows.Err()
}

// InsertKeyRecords writes a batch in two statements, keys then secrets,
// each from arrays: one round trip each, however many keys. Rows are
// inserted in the order of the arrays, so that seq keeps the order given.
func (t *tx) InsertKeyRecords(ctx context.Context, recs []engine.KeyRecord) error {
	if err := t.bulk(ctx); err != nil {
		return err
	}
	n := len(recs)
	var (
		ids, cids, names, nameKeys, statuses, hints, scopes, metas, createdBy, rates, ips = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]*string, n), make([]string, n)
		created, updated                                                                  = make([]time.Time, n), make([]time.Time, n)
		expires, lastUsed                                                                 = make([]*time.Time, n), make([]*time.Time, n)
		sealed, legacy                                                                    = make([]bool, n), make([]bool, n)
	)
	var sHash, sSealed [][]byte
	var sKey []string
	var sCreated []time.Time
	var sExpires []*time.Time
	var sLegacy []bool
	for i, rec := range recs {
		k := rec.Key
		ids[i], cids[i], names[i], nameKeys[i], statuses[i], hints[i] = k.ID, k.Company.ID, k.Name, apikey.Fold(k.Name), string(k.Status), k.Hint
		scopes[i], metas[i], ips[i] = jsonText(orEmptyList(k.Scopes)), jsonText(orEmptyMap(k.Metadata)), jsonText(orEmptyList(k.AllowedIPs))
		created[i], updated[i], expires[i], lastUsed[i], createdBy[i] = k.CreatedAt, k.UpdatedAt, k.ExpiresAt, k.LastUsedAt, k.CreatedBy
		sealed[i], rates[i], legacy[i] = k.Sealed, nullText(k.RateLimit), k.Legacy
		for _, s := range rec.Secrets {
			sHash = append(sHash, s.Hash[:])
			sKey = append(sKey, k.ID)
			sSealed = append(sSealed, s.Sealed)
			sCreated = append(sCreated, s.CreatedAt)
			sExpires = append(sExpires, s.ExpiresAt)
			sLegacy = append(sLegacy, s.Legacy)
		}
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO keys (id, company_id, name, name_key, status, hint, scopes, metadata, created_at, created_by, updated_at, expires_at, last_used_at, sealed,
		rate_limit, allowed_ips, legacy)
		SELECT u.id, u.cid, u.name, u.name_key, u.status, u.hint, u.scopes::jsonb, u.metadata::jsonb, u.created_at, u.created_by, u.updated_at, u.expires_at, u.last_used_at, u.sealed,
		u.rate_limit, u.allowed_ips::jsonb, u.legacy
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::text[], $11::timestamptz[],
			$12::timestamptz[], $13::timestamptz[], $14::bool[], $15::text[], $16::text[], $17::bool[])
			WITH ORDINALITY AS u(id, cid, name, name_key, status, hint, scopes, metadata, created_at, created_by, updated_at, expires_at, last_used_at, sealed, rate_limit, allowed_ips, legacy, i)
		ORDER BY u.i`,
		ids, cids, names, nameKeys, statuses, hints, scopes, metas, created, createdBy, updated, expires, lastUsed, sealed, rates, ips, legacy)
	if err != nil || len(sHash) == 0 {
		return err
	}
	_, err = t.tx.Exec(ctx, `INSERT INTO secrets (hash, key_id, sealed, created_at, expires_at, legacy)
		SELECT * FROM unnest($1::bytea[], $2::text[], $3::bytea[], $4::timestamptz[], $5::timestamptz[], $6::bool[])`,
		sHash, sKey, sSealed, sCreated, sExpires, sLegacy)
	return err
}

// eventArrays are the columns of a batch of events, as arrays.
type eventArrays struct {
	at                  []time.Time
	actor, action       []string
	cid, cname, ckey    []*string
	kid, kname, details []*string
}

func newEventArrays(events []apikey.Event) eventArrays {
	n := len(events)
	a := eventArrays{at: make([]time.Time, n), actor: make([]string, n), action: make([]string, n),
		cid: make([]*string, n), cname: make([]*string, n), ckey: make([]*string, n), kid: make([]*string, n), kname: make([]*string, n), details: make([]*string, n)}
	for i, e := range events {
		a.at[i], a.actor[i], a.action[i] = e.At, e.Actor, e.Action
		if e.Company != nil {
			key := apikey.Fold(e.Company.Name)
			a.cid[i], a.cname[i], a.ckey[i] = &e.Company.ID, &e.Company.Name, &key
		}
		if e.Key != nil {
			a.kid[i], a.kname[i] = &e.Key.ID, &e.Key.Name
		}
		details := e.Details
		if details == nil {
			details = map[string]any{}
		}
		d := jsonText(details)
		a.details[i] = &d
	}
	return a
}

func (t *tx) DeletedKeys(ctx context.Context, ids []string) (map[string]bool, error) {
	return t.deleted(ctx, `SELECT u.id FROM unnest($1::text[]) AS u(id)
		CROSS JOIN LATERAL (SELECT 1 FROM events e WHERE e.key_id = u.id AND e.action = 'key.delete' LIMIT 1) AS d`, ids)
}

func (t *tx) DeletedCompanies(ctx context.Context, ids []string) (map[string]bool, error) {
	return t.deleted(ctx, `SELECT u.id FROM unnest($1::text[]) AS u(id)
		CROSS JOIN LATERAL (SELECT 1 FROM events e WHERE e.company_id = u.id AND e.action = 'company.delete' LIMIT 1) AS d`, ids)
}

func (t *tx) deleted(ctx context.Context, query string, ids []string) (map[string]bool, error) {
	if err := t.bulk(ctx); err != nil {
		return nil, err
	}
	rows, err := t.tx.Query(ctx, query, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

func (t *tx) EventsPresent(ctx context.Context, events []apikey.Event) ([]bool, error) {
	a := newEventArrays(events)
	if err := t.bulk(ctx); err != nil {
		return nil, err
	}
	// The index on at and key_id (migration 3) finds the event, if any.
	// A lateral subquery with a LIMIT is looked up event by event: as an
	// EXISTS, PostgreSQL hashed the whole trail for every batch.
	rows, err := t.tx.Query(ctx, `SELECT u.i FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(at, action, actor, cid, kid, i)
		CROSS JOIN LATERAL (SELECT 1 FROM events e WHERE e.at = u.at AND coalesce(e.key_id, '') = coalesce(u.kid, '')
			AND e.action = u.action AND e.actor = u.actor AND e.company_id IS NOT DISTINCT FROM u.cid LIMIT 1) AS present`,
		a.at, a.action, a.actor, a.cid, a.kid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]bool, len(events))
	for rows.Next() {
		var i int64
		if err := rows.Scan(&i); err != nil {
			return nil, err
		}
		out[i-1] = true
	}
	return out, rows.Err()
}

func (t *tx) InsertEvents(ctx context.Context, events []apikey.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := t.bulk(ctx); err != nil {
		return err
	}
	a := newEventArrays(events)
	// seq and db_role are the trigger's (migrations/0001_init.sql), which
	// numbers the rows in the order they are inserted.
	_, err := t.tx.Exec(ctx, `INSERT INTO events (seq, at, actor, db_role, action, company_id, company_name, company_name_key, key_id, key_name, details)
		SELECT 0, u.at, u.actor, '', u.action, u.cid, u.cname, u.ckey, u.kid, u.kname, u.details::jsonb
		FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
			WITH ORDINALITY AS u(at, actor, action, cid, cname, ckey, kid, kname, details, i)
		ORDER BY u.i`,
		a.at, a.actor, a.action, a.cid, a.cname, a.ckey, a.kid, a.kname, a.details)
	return err
}
