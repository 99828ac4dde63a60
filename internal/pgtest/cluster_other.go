//go:build !linux

package pgtest

import "errors"

// The throwaway cluster relies on Linux's parent-death signal to never
// outlive a killed test run; elsewhere, APIKEY_TEST_POSTGRES is the way.
var errNoBinaries = errors.New("a throwaway PostgreSQL cluster is only started on Linux")

type cluster struct{ url string }

func startCluster() (*cluster, error) { return nil, errNoBinaries }

func (c *cluster) stop() {}
