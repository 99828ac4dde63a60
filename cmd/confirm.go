package cmd

import (
	"github.com/apikeyhq/apikey/internal/apikey"
)

// needConfirmation refuses, before anything is read or changed, to go on
// where a confirmation would be needed but cannot be asked.
func needConfirmation(f *Factory, yes bool) error {
	if yes || f.IO.CanPrompt() {
		return nil
	}
	return apikey.Usagef("--yes required when not running interactively").WithHint("nothing was deleted")
}

// confirm shows what is about to happen on standard error and asks "Are you
// sure?". A refusal is a usage error: nothing was changed.
func confirm(f *Factory, yes bool, summary string, items []string) error {
	if yes {
		return nil
	}
	f.IO.ErrPrintf("%s\n", summary)
	for _, it := range items {
		f.IO.ErrPrintf("  %s\n", it)
	}
	ok, err := f.Prompter().Confirm("Are you sure?", "This cannot be undone.")
	if err != nil {
		return err
	}
	if !ok {
		return apikey.Usagef("not confirmed").WithHint("nothing was deleted")
	}
	return nil
}
