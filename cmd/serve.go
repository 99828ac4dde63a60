package cmd

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/server"
	"github.com/spf13/cobra"
)

// ServeOptions are the inputs of `serve`.
type ServeOptions struct {
	IO    *iostreams.IOStreams
	Store func(context.Context) (Store, error)
	Now   func() time.Time

	// Addr is the effective address: --addr, else serve.addr from the
	// environment, the config file or its default.
	Addr          string
	KeyHeader     string // headers.key
	CompanyHeader string // headers.company

	Metrics   bool          // serve.metrics: answer GET /metrics
	Preload   bool          // serve.preload: load every key before answering
	StaleFor  time.Duration // serve.stale_for
	LogFormat string        // --log-format, else serve.log_format: text or json
	LogLevel  slog.Level    // --log-level, else serve.log_level
	// TrustedProxies is serve.trusted_proxies: the peers whose
	// X-Forwarded-For or X-Real-IP names the client.
	TrustedProxies []netip.Prefix
}

// NewCmdServe wires `serve`.
func NewCmdServe(f *Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{IO: f.IO, Store: f.ExistingStore, Now: f.Now}
	c := &cobra.Command{
		Use:   "serve [--addr A]",
		Short: "Answer key checks over HTTP",
		Long: `Serve the verification endpoint, for an API that asks whose key it was given
or for a gateway that authenticates requests before passing them on:

  GET /v1/me       200 with the key and its company as JSON, 401 with the reason
  ANY /v1/auth     forward-auth (nginx auth_request, Traefik ForwardAuth, Envoy
                   ext_authz): 200 with X-Apikey-Id, X-Apikey-Name and
                   X-Company-Id headers, 401 with the reason
  GET /healthz     200 {"status":"ok"} while the database can be read;
                   200 {"status":"degraded"} while it cannot and answers
                   come from memory (config serve.stale_for); 503 after
  GET /metrics     Prometheus metrics, prefixed apikey_ (config serve.metrics)

A key used from an address outside its allowlist (create --allow-ip) is
answered 403 ip_not_allowed, and one over its rate limit (create --rate-limit)
429 rate_limited with Retry-After, on both endpoints. The limit is counted by
each server on its own. The client's address is the connection's peer; only
when the peer is in serve.trusted_proxies (APIKEY_SERVE_TRUSTED_PROXIES,
comma-separated CIDRs) is it taken from X-Forwarded-For (the rightmost
address that is not a trusted proxy) or X-Real-IP.

The key is read from the key header (config headers.key, default X-Api-Key) or
from "Authorization: Bearer <key>". When the company header (config
headers.company, default X-Company) is sent, it must be the key's company id;
a key of another company is refused exactly as an unknown one.

Before it answers, the server loads every key into memory (about a second per
100,000 keys, 140 bytes a key; config serve.preload false keeps only a bounded
cache of the keys checked, and asks the database for the others). Checking a
key never writes to the database. A key disabled, deleted or rotated by any
apikey process is refused within a second; last-used times are written to
within a minute, and on shutdown. While the database cannot be read, keys in
memory are answered from it for serve.stale_for (default 30s) after the last
successful read; a key that needs the database is answered 503, never
refused.

The first line on standard error is "listening on http://ADDR"; then one line
per request (at info; at warn for a 503), without secrets, and the server's
own messages, as logfmt (--log-format text) or JSON lines (json).
SIGINT or SIGTERM stops the server after the requests under way have
finished.`,
		Example: `  apikey serve
  apikey serve --addr 0.0.0.0:8787 --db /var/lib/apikey/apikey.db
  curl -s -H "X-Api-Key: $KEY" http://127.0.0.1:8787/v1/me | jq .company.name`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// --addr is read, as --db and --actor are, through the
			// configuration, which knows where each value came from.
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			opts.Addr, opts.KeyHeader, opts.CompanyHeader = cfg.Get("serve.addr"), cfg.Get("headers.key"), cfg.Get("headers.company")
			opts.Metrics, opts.StaleFor = cfg.Bool("serve.metrics"), cfg.Duration("serve.stale_for")
			opts.Preload = cfg.Bool("serve.preload")
			opts.LogFormat = cfg.Get("serve.log_format")
			// Checked by the configuration: one of slog's four names.
			_ = opts.LogLevel.UnmarshalText([]byte(cfg.Get("serve.log_level")))
			opts.TrustedProxies = cfg.Prefixes("serve.trusted_proxies")
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	c.Flags().String("addr", "", "host:port to listen on (default 127.0.0.1:8787, config serve.addr)")
	c.Flags().String("log-format", "", "log as text (logfmt) or json (default text, config serve.log_format)")
	c.Flags().String("log-level", "", "least level logged: debug, info, warn or error (default info, config serve.log_level)")
	return c
}

func serveRun(ctx context.Context, opts *ServeOptions) error {
	st, err := opts.Store(ctx)
	if err != nil {
		return err
	}
	srv := server.New(server.Options{
		Store:         st,
		Addr:          opts.Addr,
		KeyHeader:     opts.KeyHeader,
		CompanyHeader: opts.CompanyHeader,
		Log:           opts.IO.ErrOut,
		Now:           opts.Now,

		LogFormat:      opts.LogFormat,
		LogLevel:       opts.LogLevel,
		DisableMetrics: !opts.Metrics,
		NoPreload:      !opts.Preload,
		StaleFor:       opts.StaleFor,
		TrustedProxies: opts.TrustedProxies,
	})
	if err := srv.Listen(); err != nil {
		return err
	}
	opts.IO.ErrPrintf("listening on http://%s\n", srv.Addr())
	return srv.Run(ctx)
}
