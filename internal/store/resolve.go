package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// MinKeyPrefix is the shortest id prefix accepted as a key reference.
const MinKeyPrefix = 4

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// looksLikeIDPrefix reports whether s can be the start of a UUID as we store
// them (lower-case hex and dashes).
func looksLikeIDPrefix(s string) bool {
	if len(s) < MinKeyPrefix || len(s) > 36 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r == '-') {
			return false
		}
	}
	return true
}

// idRange returns bounds such that id >= lo AND id < hi selects the ids that
// start with prefix, using the primary-key index. '~' sorts after every
// character an id holds.
func idRange(prefix string) (lo, hi string) { return prefix, prefix + "~" }

const companyColumns = `c.id, c.name, c.ref, c.created_at, c.updated_at, (SELECT count(*) FROM keys k WHERE k.company_id = c.id)`

func scanCompany(sc interface{ Scan(...any) error }) (apikey.Company, error) {
	var c apikey.Company
	var ref sql.NullString
	var created, updated string
	if err := sc.Scan(&c.ID, &c.Name, &ref, &created, &updated, &c.Keys); err != nil {
		return c, err
	}
	c.Ref = ref.String
	c.CreatedAt, c.UpdatedAt = parseTime(created), parseTime(updated)
	return c, nil
}

// resolveCompany finds a company by id, name (case-insensitive), ref, or
// unique id prefix, in that order.
func resolveCompany(ctx context.Context, q querier, ref string) (apikey.Company, error) {
	if strings.TrimSpace(ref) == "" {
		return apikey.Company{}, apikey.Usagef("company reference must not be empty")
	}
	for _, where := range []struct {
		cond string
		arg  string
	}{
		{"c.id = ?", strings.ToLower(ref)},
		{"c.name_key = ?", apikey.NameKey(ref)},
		{"c.ref = ?", ref},
	} {
		c, err := scanCompany(q.QueryRowContext(ctx, `SELECT `+companyColumns+` FROM companies c WHERE `+where.cond, where.arg))
		if err == nil {
			return c, nil
		}
		if err != sql.ErrNoRows {
			return c, err
		}
	}
	p := strings.ToLower(ref)
	if looksLikeIDPrefix(p) {
		lo, hi := idRange(p)
		rows, err := q.QueryContext(ctx, `SELECT `+companyColumns+` FROM companies c WHERE c.id >= ? AND c.id < ? ORDER BY c.id LIMIT 6`, lo, hi)
		if err != nil {
			return apikey.Company{}, err
		}
		defer rows.Close()
		var found []apikey.Company
		for rows.Next() {
			c, err := scanCompany(rows)
			if err != nil {
				return c, err
			}
			found = append(found, c)
		}
		if err := rows.Err(); err != nil {
			return apikey.Company{}, err
		}
		switch len(found) {
		case 1:
			return found[0], nil
		case 0:
		default:
			names := make([]string, 0, len(found))
			for _, c := range found {
				names = append(names, fmt.Sprintf("%s (%s)", c.ID, c.Name))
			}
			return apikey.Company{}, ambiguous("company", ref, names)
		}
	}
	return apikey.Company{}, apikey.NotFoundf("company %q not found", ref)
}

func ambiguous(what, ref string, candidates []string) error {
	more := ""
	if len(candidates) > 5 {
		candidates, more = candidates[:5], ", …"
	}
	return apikey.Usagef("%s reference %q is ambiguous", what, ref).WithHint("it matches " + strings.Join(candidates, ", ") + more)
}

// resolveKey finds a key by id or unique id prefix of at least MinKeyPrefix
// characters.
func resolveKey(ctx context.Context, q querier, ref string) (apikey.Key, error) {
	if strings.TrimSpace(ref) == "" {
		return apikey.Key{}, apikey.Usagef("key reference must not be empty")
	}
	p := strings.ToLower(ref)
	if !looksLikeIDPrefix(p) {
		if len(p) < MinKeyPrefix && looksLikeIDPrefix(p+"0000") {
			return apikey.Key{}, apikey.Usagef("key reference %q is too short", ref).WithHint(fmt.Sprintf("give at least %d characters of the id", MinKeyPrefix))
		}
		return apikey.Key{}, apikey.NotFoundf("key %q not found", ref).WithHint("a key is named by its id or a unique prefix of it")
	}
	lo, hi := idRange(p)
	found, err := queryKeys(ctx, q, `WHERE k.id >= ? AND k.id < ? ORDER BY k.id LIMIT 6`, lo, hi)
	if err != nil {
		return apikey.Key{}, err
	}
	switch len(found) {
	case 0:
		return apikey.Key{}, apikey.NotFoundf("key %q not found", ref)
	case 1:
		return found[0], nil
	}
	for _, k := range found {
		if k.ID == p {
			return k, nil
		}
	}
	names := make([]string, 0, len(found))
	for _, k := range found {
		names = append(names, fmt.Sprintf("%s (%s, %s)", k.ID, k.Name, k.Company.Name))
	}
	return apikey.Key{}, ambiguous("key", ref, names)
}

// resolveKeys resolves several references, each once, in the order given.
func resolveKeys(ctx context.Context, q querier, refs []string) ([]apikey.Key, error) {
	seen := map[string]bool{}
	var out []apikey.Key
	for _, r := range refs {
		k, err := resolveKey(ctx, q, r)
		if err != nil {
			return nil, err
		}
		if !seen[k.ID] {
			seen[k.ID] = true
			out = append(out, k)
		}
	}
	return out, nil
}
