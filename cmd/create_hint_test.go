package cmd

import (
	"errors"
	"testing"

	"github.com/apikeyhq/apikey/internal/apikey"
)

// TestCreateCompanyHint checks that only a company not found points to
// --create-company, and only when it was not given.
func TestCreateCompanyHint(t *testing.T) {
	const hint = "add --create-company to create it"
	for _, tc := range []struct {
		err    error
		create bool
		want   string
	}{
		{apikey.NotFoundf(`company "Acme" not found`), false, `company "Acme" not found: ` + hint},
		{apikey.NotFoundf(`company "Acme" not found`).WithHint("check the spelling"), false, `company "Acme" not found: check the spelling; or ` + hint},
		{apikey.NotFoundf(`company "Acme" not found`), true, `company "Acme" not found`},
		{apikey.NotFoundf(`key "3f2a" not found`), false, `key "3f2a" not found`},
		{apikey.NotFoundf(`key "3f2a" not found`).WithHint("was it deleted meanwhile?"), false, `key "3f2a" not found: was it deleted meanwhile?`},
		{apikey.Usagef(`company reference "ab" is ambiguous`), false, `company reference "ab" is ambiguous`},
		{apikey.Conflictf(`company "Acme" already has a key named "x"`), false, `company "Acme" already has a key named "x"`},
		{errors.New("disk full"), false, "disk full"},
	} {
		got := withCreateCompanyHint(tc.err, tc.create)
		if got.Error() != tc.want || apikey.KindOf(got) != apikey.KindOf(tc.err) {
			t.Errorf("%v (create %v): got %q (kind %v), want %q", tc.err, tc.create, got, apikey.KindOf(got), tc.want)
		}
	}
}
