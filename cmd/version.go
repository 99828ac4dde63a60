package cmd

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Stamped by the release build (-ldflags "-X ...cmd.version=1.2.3 ...").
var (
	version = ""
	commit  = ""
	date    = ""
)

// Version returns the version of this build: the stamped one, else the module
// version `go install` records, else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// NewCmdVersion wires `version`. It reads no config and opens no database.
func NewCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version of apikey",
		Example: "  apikey version\n  apikey version | awk '{print $2}'",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(f.IO.Out, versionLine())
			return nil
		},
	}
}

// versionLine is what `apikey version` and `apikey --version` print: the
// version, the commit and its date when known, the platform.
func versionLine() string {
	c, d := commit, date
	if c == "" || d == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				switch {
				case s.Key == "vcs.revision" && c == "":
					c = s.Value
				case s.Key == "vcs.time" && d == "":
					d = s.Value
				}
			}
		}
	}
	line := "apikey " + Version()
	if c != "" {
		if len(c) > 12 {
			c = c[:12]
		}
		line += " (" + c
		if d != "" {
			line += ", " + d
		}
		line += ")"
	}
	return line + " " + runtime.GOOS + "/" + runtime.GOARCH
}
