// Package reliability holds the tests that prove apikey keeps its promises
// under stress: real processes killed mid-write, many writers at once,
// hostile input. It has no code of its own; see the _test.go files.
//
// The long runs are off by default; set APIKEY_LONG=1 to run them:
//
//	APIKEY_LONG=1 go test -run Crash -v ./internal/reliability/
package reliability
