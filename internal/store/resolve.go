package store

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store/engine"
)

// MinKeyPrefix is the shortest id prefix accepted as a reference.
const MinKeyPrefix = 4

// looksLikeIDPrefix reports whether s can be the start of an id as they are
// stored (lower-case hex and dashes), long enough to be taken as one.
func looksLikeIDPrefix(s string) bool {
	if len(s) < MinKeyPrefix || len(s) > 36 {
		return false
	}
	return isIDChars(s)
}

func isIDChars(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r == '-') {
			return false
		}
	}
	return true
}

// isID reports whether s (lower case) has the form of an id: a UUID in its
// canonical form. Such a reference compares ids only, never names or refs:
// a company named after another's id must not be taken for it.
func isID(s string) bool {
	if len(s) != 36 || !isIDChars(s) {
		return false
	}
	for i, r := range s {
		if (i == 8 || i == 13 || i == 18 || i == 23) != (r == '-') {
			return false
		}
	}
	return true
}

// resolveCompany finds the one company that ref names: an id names it
// alone; otherwise its name (any case), its ref (any case) or a unique
// prefix of its id of at least MinKeyPrefix characters. A reference that
// names two companies (one by name, another by an id prefix, say) is
// ambiguous, never settled by an order of precedence: the command would
// act on a company the user may not have meant.
func resolveCompany(ctx context.Context, tx engine.Tx, ref string) (apikey.Company, error) {
	if strings.TrimSpace(ref) == "" {
		return apikey.Company{}, apikey.Usagef("company reference must not be empty")
	}
	if !utf8.ValidString(ref) {
		// No name or ref is stored that is not UTF-8, and a database
		// may refuse such bytes outright: it names nothing, on every
		// engine alike.
		return apikey.Company{}, apikey.NotFoundf("company %q not found", ref)
	}
	p := strings.ToLower(ref)
	if isID(p) {
		c, found, err := tx.CompanyByID(ctx, p)
		if err != nil || found {
			return c, err
		}
		return apikey.Company{}, apikey.NotFoundf("company %q not found", ref)
	}
	found, err := tx.CompaniesByKey(ctx, apikey.Fold(ref))
	if err != nil {
		return apikey.Company{}, err
	}
	if looksLikeIDPrefix(p) {
		byID, err := tx.CompaniesByIDPrefix(ctx, p)
		if err != nil {
			return apikey.Company{}, err
		}
		found = appendNewCompanies(found, byID)
	}
	switch len(found) {
	case 0:
		return apikey.Company{}, apikey.NotFoundf("company %q not found", ref)
	case 1:
		return found[0], nil
	}
	names := make([]string, 0, len(found))
	for _, c := range found {
		names = append(names, fmt.Sprintf("%s (%s)", c.ID, c.Name))
	}
	return apikey.Company{}, ambiguous("company", ref, names)
}

func appendNewCompanies(to, from []apikey.Company) []apikey.Company {
	for _, c := range from {
		dup := false
		for _, d := range to {
			dup = dup || d.ID == c.ID
		}
		if !dup {
			to = append(to, c)
		}
	}
	return to
}

func ambiguous(what, ref string, candidates []string) error {
	more := ""
	if len(candidates) > 5 {
		candidates, more = candidates[:5], ", …"
	}
	return apikey.Usagef("%s reference %q is ambiguous", what, ref).WithHint("it matches " + strings.Join(candidates, ", ") + more)
}

// resolveKey finds the one key that ref names: an id names it alone;
// otherwise a unique id prefix of at least MinKeyPrefix characters, or its
// name (exactly, else in any case), of the company companyID when it is not
// "". As for companies, a reference that names two keys is ambiguous.
func resolveKey(ctx context.Context, tx engine.Tx, ref, companyID string) (apikey.Key, error) {
	if strings.TrimSpace(ref) == "" {
		return apikey.Key{}, apikey.Usagef("key reference must not be empty")
	}
	if !utf8.ValidString(ref) {
		return apikey.Key{}, apikey.NotFoundf("key %q not found", ref)
	}
	p := strings.ToLower(ref)
	if isID(p) {
		k, found, err := tx.KeyByID(ctx, p)
		if err != nil {
			return k, err
		}
		if found && (companyID == "" || k.Company.ID == companyID) {
			return k, nil
		}
		return apikey.Key{}, apikey.NotFoundf("key %q not found", ref)
	}
	var found []apikey.Key
	if looksLikeIDPrefix(p) {
		byID, err := tx.KeysByIDPrefix(ctx, p)
		if err != nil {
			return apikey.Key{}, err
		}
		found = appendKeys(found, byID, companyID)
	}
	byName, err := tx.KeysByName(ctx, apikey.Fold(ref), companyID)
	if err != nil {
		return apikey.Key{}, err
	}
	// A name typed exactly beats the same name in another case.
	var exact []apikey.Key
	for _, k := range byName {
		if k.Name == ref {
			exact = append(exact, k)
		}
	}
	if len(exact) > 0 {
		byName = exact
	}
	found = appendKeys(found, byName, companyID)
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		if len(p) < MinKeyPrefix && isIDChars(p) {
			return apikey.Key{}, apikey.Usagef("key reference %q is too short", ref).WithHint(fmt.Sprintf("give at least %d characters of the id", MinKeyPrefix))
		}
		return apikey.Key{}, apikey.NotFoundf("key %q not found", ref).WithHint("a key is named by its id, a unique prefix of it, or its name")
	}
	names := make([]string, 0, len(found))
	for _, k := range found {
		names = append(names, fmt.Sprintf("%s (%s, %s)", k.ID, k.Name, k.Company.Name))
	}
	return apikey.Key{}, ambiguous("key", ref, names)
}

// appendKeys adds to the keys those of from that are of companyID (any when
// "") and not there yet.
func appendKeys(to, from []apikey.Key, companyID string) []apikey.Key {
	for _, k := range from {
		if companyID != "" && k.Company.ID != companyID {
			continue
		}
		dup := false
		for _, d := range to {
			dup = dup || d.ID == k.ID
		}
		if !dup {
			to = append(to, k)
		}
	}
	return to
}

// resolveKeys resolves several references, each key once, in the order
// given.
func resolveKeys(ctx context.Context, tx engine.Tx, refs []string, companyID string) ([]apikey.Key, error) {
	seen := map[string]bool{}
	var out []apikey.Key
	for _, r := range refs {
		k, err := resolveKey(ctx, tx, r, companyID)
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

// companyScope resolves the company that narrows a key reference, "" for
// none.
func companyScope(ctx context.Context, tx engine.Tx, company string) (string, error) {
	if company == "" {
		return "", nil
	}
	c, err := resolveCompany(ctx, tx, company)
	return c.ID, err
}
