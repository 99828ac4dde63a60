package cmd

import (
	"context"

	"github.com/apikeyhq/apikey/internal/server"
	"github.com/spf13/cobra"
)

// ServeOptions are the inputs of `serve`.
type ServeOptions struct {
	F    *Factory
	Addr string // --addr; the effective address also comes from APIKEY_SERVE_ADDR or the config file
}

// NewCmdServe wires `serve`.
func NewCmdServe(f *Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{F: f}
	c := &cobra.Command{
		Use:   "serve [--addr A]",
		Short: "Answer key checks over HTTP",
		Long: `Serve the verification endpoint, for an API that asks whose key it was given
or for a gateway that authenticates requests before passing them on:

  GET /v1/me       200 with the key and its company as JSON, 401 with the reason
  ANY /v1/auth     forward-auth (nginx auth_request, Traefik ForwardAuth, Envoy
                   ext_authz): 200 with X-Apikey-Id, X-Apikey-Name and
                   X-Company-Id headers, 401 with the reason
  GET /healthz     200 while the database can be read

The key is read from the key header (config headers.key, default X-Api-Key) or
from "Authorization: Bearer <key>". When the company header (config
headers.company, default X-Company) is sent, it must be the key's company id;
a key of another company is refused exactly as an unknown one.

Checking a key never writes to the database. A key disabled, deleted or
rotated by any apikey process is refused within a second; last-used times are
written every 30 seconds and on shutdown. One line per request is logged to
standard error, without secrets. SIGINT or SIGTERM stops the server after the
requests under way have finished.`,
		Example: `  apikey serve
  apikey serve --addr 0.0.0.0:8787 --db /var/lib/apikey/apikey.db
  curl -s -H "X-Api-Key: $KEY" http://127.0.0.1:8787/v1/me | jq .company.name`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Addr, "addr", "", "host:port to listen on (default 127.0.0.1:8787, config serve.addr)")
	return c
}

func serveRun(ctx context.Context, opts *ServeOptions) error {
	f := opts.F
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	st, err := f.ExistingStore(ctx)
	if err != nil {
		return err
	}
	srv := server.New(server.Options{
		Store:         st,
		Addr:          cfg.Get("serve.addr"),
		KeyHeader:     cfg.Get("headers.key"),
		CompanyHeader: cfg.Get("headers.company"),
		Log:           f.IO.ErrOut,
		Now:           f.Now,
	})
	if err := srv.Listen(); err != nil {
		return err
	}
	f.IO.ErrPrintf("listening on http://%s\n", srv.Addr())
	return srv.Run(ctx)
}
