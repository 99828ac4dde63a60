package cmd

import (
	"context"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/server"
	"github.com/apikeyhq/apikey/internal/store"
)

// Store is what the commands use of the store, whichever engine is behind
// it. It is declared here, where it is used, so that a run function can be
// tested against a fake that has only what the test expects to be called.
type Store interface {
	CreateCompany(ctx context.Context, name, ref, actor string) (apikey.Company, error)
	ListCompanies(ctx context.Context) ([]apikey.Company, error)
	Company(ctx context.Context, ref string) (apikey.Company, error)
	UpdateCompany(ctx context.Context, ref string, u store.CompanyUpdate, actor string) (apikey.Company, error)
	DeleteCompanies(ctx context.Context, ids []string, cascade bool, actor string) error

	CreateKey(ctx context.Context, n store.NewKey) (apikey.Key, error)
	EachKey(ctx context.Context, f store.KeyFilter, fn func(apikey.Key) error) error
	Key(ctx context.Context, ref, company string) (apikey.Key, error)
	Keys(ctx context.Context, refs []string, company string) ([]apikey.Key, error)
	SetStatus(ctx context.Context, refs []string, company string, change store.StatusChange, actor string, opts ...store.StatusOption) ([]store.StatusResult, error)
	UpdateKey(ctx context.Context, ref, company string, u store.KeyUpdate, actor string) (apikey.Key, error)
	RotateKey(ctx context.Context, keyID string, m apikey.SecretMaterial, grace time.Duration, actor string) (apikey.Key, error)
	DeleteKeys(ctx context.Context, ids []string, actor string) error
	SealedSecret(ctx context.Context, keyID, actor string, open func(sealed []byte) (string, error)) (string, error)

	Events(ctx context.Context, f store.EventFilter) ([]apikey.Event, error)

	// export and import move whole stores; verify looks a secret that is
	// not of apikey's format up only while the store has legacy secrets.
	Kind() string
	Export(ctx context.Context, companies []string, sink store.ExportSink) error
	Import(ctx context.Context, next func() (store.ImportRecord, error), o store.ImportOptions) (store.ImportReport, error)
	ImportLegacy(ctx context.Context, next func() (store.LegacyKey, error), o store.ImportOptions) (store.ImportReport, error)
	LegacySecrets(ctx context.Context) (int, error)

	// serve hands the store to the server, which declares what it needs;
	// verify looks secrets up as the server does.
	server.Store
}

var _ Store = (*store.Store)(nil)
