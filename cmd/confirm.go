package cmd

import (
	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/prompt"
)

// needConfirmation refuses, before anything is read or changed, to go on
// where a confirmation would be needed but cannot be asked.
func needConfirmation(ios *iostreams.IOStreams, yes bool) error {
	if yes || ios.CanPrompt() {
		return nil
	}
	return apikey.Usagef("--yes required when not running interactively").WithHint("nothing was deleted")
}

// confirm shows what is about to happen on standard error and asks "Are you
// sure?". A refusal is a usage error: nothing was changed.
func confirm(ios *iostreams.IOStreams, prompter func() prompt.Prompter, yes bool, summary string, items []string) error {
	if yes {
		return nil
	}
	ios.ErrPrintf("%s\n", summary)
	for _, it := range items {
		ios.ErrPrintf("  %s\n", it)
	}
	ok, err := prompter().Confirm("Are you sure?", "This cannot be undone.")
	if err != nil {
		return err
	}
	if !ok {
		return apikey.Usagef("not confirmed").WithHint("nothing was deleted")
	}
	return nil
}
