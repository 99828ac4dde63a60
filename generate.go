package main

// The command reference and man pages in docs/ are generated from the cobra
// commands; a test in internal/docgen fails when they are out of date.
//go:generate go run ./internal/cmd/gendocs -dir docs
