package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/google/uuid"
)

// FuzzResolve: no reference makes company or key resolution fail with
// anything but "not found" or a usage error, and what it finds is what the
// reference names by one of the documented rules.
func FuzzResolve(f *testing.F) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	for i, name := range []string{"Acme", "Müller GmbH", "100% _Co_", "O'Brien"} {
		c, err := st.CreateCompany(ctx, name, []string{"B-1", "", "x%", "'; --"}[i], "fuzz")
		if err != nil {
			f.Fatal(err)
		}
		for j := 0; j < 3; j++ {
			id := uuid.NewString()
			_, m, _ := apikey.MintSecret("ak", id, nil)
			if _, err := st.CreateKey(ctx, NewKey{ID: id, Company: c.ID, Name: string(rune('a' + j)), Status: apikey.StatusActive, Secret: m, Actor: "fuzz"}); err != nil {
				f.Fatal(err)
			}
			f.Add(id[:4+j])
		}
		f.Add(name)
		f.Add(strings.ToUpper(name))
		f.Add(c.ID[:5])
	}
	for _, s := range []string{"", " ", "%", "_", "____", "%%%%", "' OR 1=1 --", "\x00", "~", "0000", strings.Repeat("f", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		c, err := st.Company(ctx, ref)
		switch {
		case err == nil:
			ok := c.ID == strings.ToLower(ref) || apikey.NameKey(c.Name) == apikey.NameKey(ref) || c.Ref == ref || strings.HasPrefix(c.ID, strings.ToLower(ref))
			if !ok {
				t.Fatalf("company reference %q resolved to %+v", ref, c)
			}
		case apikey.KindOf(err) != apikey.KindNotFound && apikey.KindOf(err) != apikey.KindUsage:
			t.Fatalf("company reference %q: %v", ref, err)
		}
		k, err := st.Key(ctx, ref)
		switch {
		case err == nil:
			if len(ref) < MinKeyPrefix || !strings.HasPrefix(k.ID, strings.ToLower(ref)) {
				t.Fatalf("key reference %q resolved to %s", ref, k.ID)
			}
		case apikey.KindOf(err) != apikey.KindNotFound && apikey.KindOf(err) != apikey.KindUsage:
			t.Fatalf("key reference %q: %v", ref, err)
		}
	})
}
