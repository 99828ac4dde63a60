package sqlite_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/google/uuid"
)

// FuzzResolve: no reference makes company or key resolution fail with
// anything but "not found" or a usage error, and what it finds is what the
// documented rules say the reference names: exactly one company or key, or
// an error that says it is ambiguous when they name several.
func FuzzResolve(f *testing.F) {
	st, err := store.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	var companies []apikey.Company
	var keys []apikey.Key
	for i, name := range []string{"Acme", "Müller GmbH", "100% _Co_", "O'Brien", "Straße"} {
		c, err := st.CreateCompany(ctx, name, []string{"B-1", "", "x%", "'; --", "Maß-1"}[i], "fuzz")
		if err != nil {
			f.Fatal(err)
		}
		companies = append(companies, c)
		for j, kn := range []string{"a", "b", "c", []string{"Élève", "élève", "ÉLÈVE", "A", "B-1"}[i]} {
			id := uuid.NewString()
			_, m, _ := apikey.MintSecret("ak", id, nil)
			k, err := st.CreateKey(ctx, store.NewKey{ID: id, Company: c.ID, Name: kn, Status: apikey.StatusActive, Secret: m, Actor: "fuzz"})
			if err != nil {
				f.Fatal(err)
			}
			keys = append(keys, k)
			f.Add(id[:4+j])
			f.Add(kn)
		}
		f.Add(name)
		f.Add(strings.ToUpper(name))
		f.Add(c.ID[:5])
		f.Add(c.ID)
	}
	for _, s := range []string{"", " ", "%", "_", "____", "%%%%", "' OR 1=1 --", "\x00", "~", "0000", strings.Repeat("f", 40), "STRASSE", "mass-1", "élève", "ELÈVE"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		want := companiesNamed(companies, ref)
		c, err := st.Company(ctx, ref)
		switch {
		case strings.TrimSpace(ref) == "":
			if apikey.KindOf(err) != apikey.KindUsage {
				t.Fatalf("blank company reference %q: %+v, %v", ref, c, err)
			}
		case len(want) == 1:
			if err != nil || c.ID != want[0] {
				t.Fatalf("company reference %q names %s alone, resolved to %+v, %v", ref, want[0], c, err)
			}
		case len(want) == 0:
			if apikey.KindOf(err) != apikey.KindNotFound {
				t.Fatalf("company reference %q names none, resolved to %+v, %v", ref, c, err)
			}
		default:
			if apikey.KindOf(err) != apikey.KindUsage || !strings.Contains(err.Error(), "ambiguous") {
				t.Fatalf("company reference %q names %v, resolved to %+v, %v", ref, want, c, err)
			}
		}

		want = keysNamed(keys, ref)
		k, err := st.Key(ctx, ref, "")
		p := strings.ToLower(ref)
		switch {
		case strings.TrimSpace(ref) == "":
			if apikey.KindOf(err) != apikey.KindUsage {
				t.Fatalf("blank key reference %q: %+v, %v", ref, k, err)
			}
		case len(want) == 1:
			if err != nil || k.ID != want[0] {
				t.Fatalf("key reference %q names %s alone, resolved to %+v, %v", ref, want[0], k, err)
			}
		case len(want) == 0 && len(p) < store.MinKeyPrefix && idChars(p):
			if apikey.KindOf(err) != apikey.KindUsage || !strings.Contains(err.Error(), "too short") {
				t.Fatalf("short key reference %q: %+v, %v", ref, k, err)
			}
		case len(want) == 0:
			if apikey.KindOf(err) != apikey.KindNotFound {
				t.Fatalf("key reference %q names none, resolved to %+v, %v", ref, k, err)
			}
		default:
			if apikey.KindOf(err) != apikey.KindUsage || !strings.Contains(err.Error(), "ambiguous") {
				t.Fatalf("key reference %q names %v, resolved to %+v, %v", ref, want, k, err)
			}
		}
	})
}

func idChars(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r == '-') {
			return false
		}
	}
	return true
}

// isUUID: the canonical form of an id, which names by id alone.
func isUUID(s string) bool {
	if len(s) != 36 || !idChars(s) {
		return false
	}
	for i, r := range s {
		if (i == 8 || i == 13 || i == 18 || i == 23) != (r == '-') {
			return false
		}
	}
	return true
}

func idPrefix(p string) bool {
	return len(p) >= store.MinKeyPrefix && len(p) <= 36 && idChars(p)
}

// companiesNamed is what the rules say ref names: an id alone; else every
// company whose name or ref folds as ref does, or whose id starts with it.
func companiesNamed(cs []apikey.Company, ref string) []string {
	p := strings.ToLower(ref)
	var out []string
	for _, c := range cs {
		switch {
		case isUUID(p):
			if c.ID == p {
				out = append(out, c.ID)
			}
		case apikey.Fold(c.Name) == apikey.Fold(ref),
			c.Ref != "" && apikey.Fold(c.Ref) == apikey.Fold(ref),
			idPrefix(p) && strings.HasPrefix(c.ID, p):
			out = append(out, c.ID)
		}
	}
	return out
}

// keysNamed is what the rules say ref names: an id alone; else every key
// whose id starts with it, and the keys named exactly so, or, when none is,
// in any case.
func keysNamed(ks []apikey.Key, ref string) []string {
	p := strings.ToLower(ref)
	var byID, exact, folded []string
	for _, k := range ks {
		switch {
		case isUUID(p):
			if k.ID == p {
				byID = append(byID, k.ID)
			}
			continue
		case idPrefix(p) && strings.HasPrefix(k.ID, p):
			byID = append(byID, k.ID)
		}
		if k.Name == ref {
			exact = append(exact, k.ID)
		}
		if apikey.Fold(k.Name) == apikey.Fold(ref) {
			folded = append(folded, k.ID)
		}
	}
	byName := folded
	if len(exact) > 0 {
		byName = exact
	}
	out := byID
	for _, id := range byName {
		dup := false
		for _, d := range out {
			dup = dup || d == id
		}
		if !dup {
			out = append(out, id)
		}
	}
	return out
}
