// Command gendocs writes apikey's command reference and man pages from its
// cobra commands. Run it through `go generate ./...` at the repository root.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/apikeyhq/apikey/internal/docgen"
)

func main() {
	dir := flag.String("dir", "docs", "docs directory to write reference/ and man/ into")
	flag.Parse()
	if err := docgen.Generate(docgen.Root(), *dir); err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
}
