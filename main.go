// Command apikey issues and controls the API keys of a multi-tenant service.
package main

import (
	"os"

	"github.com/apikeyhq/apikey/cmd"
)

func main() { os.Exit(cmd.Main()) }
