// Command floor initializes every package apikey links and does nothing
// else. bench/cli.sh times it beside `apikey version` and a bare Go binary:
// the gap between floor and the bare binary is what the dependencies cost
// at start-up (their init functions, a larger binary to map), which no
// change to apikey's own code can remove.
package main

import (
	"os"

	_ "github.com/apikeyhq/apikey/cmd"
)

func main() { os.Stdout.WriteString("floor\n") }
