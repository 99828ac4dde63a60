package cmd

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/apikeyhq/apikey/internal/iostreams"
	"github.com/apikeyhq/apikey/internal/store"
	"github.com/spf13/cobra"
)

// Tests that each command parses its flags, and the settings it reads, into
// the Options its run function gets: runF stands in for the run function.

// testFactory returns a Factory over test streams, in an environment of
// env and a home of the test's own, with no config file unless the test
// writes one (configFile).
func testFactory(t *testing.T, env map[string]string) *Factory {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{
		"HOME":            dir,
		"XDG_CONFIG_HOME": filepath.Join(dir, "config"),
		"XDG_DATA_HOME":   filepath.Join(dir, "data"),
		// The default is the user's name, which the test cannot know.
		"APIKEY_ACTOR": "tester",
	}
	maps.Copy(all, env)
	ios, _, _, _ := iostreams.Test()
	f := NewFactory(ios, func(k string) (string, bool) { v, ok := all[k]; return v, ok })
	t.Cleanup(f.Close)
	return f
}

// configFile writes the config file that f reads.
func configFile(t *testing.T, f *Factory, yaml string) {
	t.Helper()
	home, _ := f.Env("XDG_CONFIG_HOME")
	path := filepath.Join(home, "apikey", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
}

// newCmd is the signature of a NewCmdX.
type newCmd[O any] func(*Factory, func(context.Context, *O) error) *cobra.Command

// parse runs the command that newCmd wires, as apikey does: in the place of
// its namesake in the command tree, under the root's persistent flags
// (--actor, --config, --db) and hook. It returns the Options that runF
// received: nil when the command stopped before. args follow the command's
// name, as in `apikey company show ARGS`.
func parse[O any](t *testing.T, f *Factory, newCmd newCmd[O], args ...string) (*O, error) {
	t.Helper()
	var got *O
	c := newCmd(f, func(_ context.Context, o *O) error { got = o; return nil })
	root := NewCmdRoot(f)
	old := namesake(root, c)
	if old == nil {
		t.Fatalf("no command %q in the tree", c.Name())
	}
	parent := old.Parent()
	parent.RemoveCommand(old)
	parent.AddCommand(c)
	root.SetArgs(append(strings.Fields(c.CommandPath())[1:], args...))
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	err := root.Execute()
	if err != nil && got != nil {
		t.Errorf("%q: runF was called, and then: %v", args, err)
	}
	return got, err
}

// namesake finds the command of the tree under c that has c's name and
// summary: `company list` and `list` share a name, not a summary.
func namesake(c, like *cobra.Command) *cobra.Command {
	for _, sub := range c.Commands() {
		if sub.Name() == like.Name() && sub.Short == like.Short {
			return sub
		}
		if found := namesake(sub, like); found != nil {
			return found
		}
	}
	return nil
}

func mustParse[O any](t *testing.T, f *Factory, newCmd newCmd[O], args ...string) *O {
	t.Helper()
	o, err := parse(t, f, newCmd, args...)
	if err != nil || o == nil {
		t.Fatalf("%q: error %v", args, err)
	}
	return o
}

// refused checks that args are refused with a usage error that starts with
// msg, before runF.
func refused[O any](t *testing.T, newCmd newCmd[O], msg string, args ...string) {
	t.Helper()
	o, err := parse(t, testFactory(t, nil), newCmd, args...)
	if o != nil || apikey.KindOf(err) != apikey.KindUsage || !strings.HasPrefix(err.Error(), msg) {
		t.Errorf("%q: runF got %+v, error %v; want a usage error %q", args, o, err, msg)
	}
}

// inputs is o without what the Factory fills in (streams, store opener,
// clock...): what the user gave and the effective settings, to be compared.
func inputs[O any](o *O) O {
	c := *o
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		if fv := v.Field(i); fv.Kind() == reflect.Func || fv.Type() == reflect.TypeFor[*iostreams.IOStreams]() {
			fv.SetZero()
		}
	}
	return c
}

func wantInputs[O any](t *testing.T, o *O, want O) {
	t.Helper()
	if got := inputs(o); !reflect.DeepEqual(got, want) {
		t.Errorf("options\n got %+v\nwant %+v", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

var defaultSnippet = SnippetSettings{KeyHeader: "X-Api-Key", CompanyHeader: "X-Company"}

func TestCreateFlags(t *testing.T) {
	f := testFactory(t, map[string]string{
		"APIKEY_ACTOR": "alice", "APIKEY_KEY_PREFIX": "acme", "APIKEY_HEADERS_KEY": "X-Token",
		"APIKEY_HEADERS_COMPANY": "X-Tenant", "APIKEY_API_URL": "https://api.acme.example",
	})
	o := mustParse(t, f, NewCmdCreate, "-c", "Acme", "-n", "billing", "--inactive", "--expires", "90d", "--scope", "a:read",
		"--scope", "b:write", "--meta", "env=prod", "--create-company", "--format", "curl", "-o", "json",
		"--rate-limit", "100/m", "--allow-ip", "203.0.113.0/24", "--allow-ip", "2001:db8::7")
	wantInputs(t, o, CreateOptions{
		Actor: "alice", KeyPrefix: "acme", Snippet: SnippetSettings{KeyHeader: "X-Token", CompanyHeader: "X-Tenant", APIURL: "https://api.acme.example"},
		Company: "Acme", Name: "billing", Inactive: true, InactiveSet: true, Expires: "90d", Scopes: []string{"a:read", "b:write"},
		Meta: []string{"env=prod"}, RateLimit: "100/m", AllowIPs: []string{"203.0.113.0/24", "2001:db8::7"},
		CreateCompany: true, Format: "curl", FormatSet: true, Output: "json",
	})
	// Nothing given: at a terminal, everything is asked for, the status too.
	o = mustParse(t, testFactory(t, nil), NewCmdCreate)
	wantInputs(t, o, CreateOptions{Actor: "tester", KeyPrefix: apikey.DefaultPrefix, Snippet: defaultSnippet, Format: "headers", Output: "table"})
	// --inactive=false is a status given: it is not asked for.
	o = mustParse(t, testFactory(t, nil), NewCmdCreate, "--inactive=false")
	if o.Inactive || !o.InactiveSet {
		t.Errorf("--inactive=false: Inactive %v, InactiveSet %v", o.Inactive, o.InactiveSet)
	}
	// A setting from the config file.
	f = testFactory(t, nil)
	configFile(t, f, "key_prefix: filed\nactor: bob\n")
	o = mustParse(t, f, NewCmdCreate)
	if o.KeyPrefix != "filed" || o.Actor != "tester" {
		t.Errorf("key_prefix from the file, actor from the environment: got %q, %q", o.KeyPrefix, o.Actor)
	}
	refused(t, NewCmdCreate, `unexpected argument "extra"`, "extra")
	refused(t, NewCmdCreate, "--rate-limit must not be empty", "--rate-limit", "")
}

func TestListFlags(t *testing.T) {
	o := mustParse(t, testFactory(t, nil), NewCmdList, "-c", "Acme", "--status", "inactive", "--search", "shop", "--limit", "20", "-o", "csv")
	wantInputs(t, o, ListOptions{Company: "Acme", Status: "inactive", Search: "shop", Limit: 20, Output: "csv"})
	o = mustParse(t, testFactory(t, nil), NewCmdList)
	wantInputs(t, o, ListOptions{Output: "table"})
	refused(t, NewCmdList, "--company must not be empty", "--company", "")
	refused(t, NewCmdList, "--search must not be empty", "--search=")
	refused(t, NewCmdList, `unexpected argument "Acme"`, "Acme")
}

func TestShowFlags(t *testing.T) {
	f := testFactory(t, map[string]string{"APIKEY_HEADERS_KEY": "X-Token", "APIKEY_API_URL": "https://api.acme.example"})
	o := mustParse(t, f, NewCmdShow, "3f2a", "--company", "Acme", "--reveal", "--format", "env")
	wantInputs(t, o, ShowOptions{
		Actor: "tester", Snippet: SnippetSettings{KeyHeader: "X-Token", CompanyHeader: "X-Company", APIURL: "https://api.acme.example"},
		Key: "3f2a", Company: "Acme", Reveal: true, Format: "env", FormatSet: true, Output: "table",
	})
	o = mustParse(t, testFactory(t, nil), NewCmdShow, "3f2a", "-o", "json")
	wantInputs(t, o, ShowOptions{Actor: "tester", Snippet: defaultSnippet, Key: "3f2a", Format: "headers", Output: "json"})
	refused(t, NewCmdShow, "missing key")
	refused(t, NewCmdShow, "--company must not be empty", "3f2a", "-c", "")
}

func TestStatusFlags(t *testing.T) {
	for _, v := range []statusVerb{toggleVerb, enableVerb, disableVerb} {
		newCmd := func(f *Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
			return NewCmdStatus(f, v, runF)
		}
		o := mustParse(t, testFactory(t, map[string]string{"APIKEY_ACTOR": "oncall"}), newCmd, "3f2a", "billing", "-c", "Acme", "-o", "json")
		wantInputs(t, o, StatusOptions{Actor: "oncall", Keys: []string{"3f2a", "billing"}, Company: "Acme", Change: v.change, Output: "json"})
		refused(t, newCmd, "missing key")
		refused(t, newCmd, "key reference must not be empty", "3f2a", " ")
	}
	if toggleVerb.change != store.Toggle || enableVerb.change != store.Enable || disableVerb.change != store.Disable {
		t.Error("a verb makes the wrong change")
	}
}

func TestUpdateFlags(t *testing.T) {
	f := testFactory(t, nil)
	o := mustParse(t, f, NewCmdUpdate, "3f2a", "--name", "billing", "-c", "Acme", "--expires", "2027-01-31",
		"--scope", "a:read", "--scope", "b:write", "--meta", "env=prod", "--meta", "old=", "-o", "json")
	wantInputs(t, o, UpdateOptions{Actor: "tester", Key: "3f2a", Company: "Acme", Name: ptr("billing"), Expires: "2027-01-31",
		Scopes: []string{"a:read", "b:write"}, Meta: []string{"env=prod", "old="}, Output: "json"})
	// What is not given is left alone: no name, scopes nil.
	o = mustParse(t, testFactory(t, nil), NewCmdUpdate, "3f2a", "--no-expiry")
	wantInputs(t, o, UpdateOptions{Actor: "tester", Key: "3f2a", NoExpiry: true, Output: "table"})
	// An empty name is given, and refused further on; --scope "" clears.
	o = mustParse(t, testFactory(t, nil), NewCmdUpdate, "3f2a", "--name", "")
	if o.Name == nil || *o.Name != "" || o.Scopes != nil {
		t.Errorf(`--name "": Name %v, Scopes %#v`, o.Name, o.Scopes)
	}
	o = mustParse(t, testFactory(t, nil), NewCmdUpdate, "3f2a", "--scope", "")
	if o.Name != nil || o.Scopes == nil {
		t.Errorf(`--scope "": Name %v, Scopes %#v`, o.Name, o.Scopes)
	}
	// A rate limit or an allowlist alone is a change, and so is removing one.
	o = mustParse(t, testFactory(t, nil), NewCmdUpdate, "3f2a", "--rate-limit", "10/s", "--allow-ip", "10.0.0.0/8", "--allow-ip", "::1")
	wantInputs(t, o, UpdateOptions{Actor: "tester", Key: "3f2a", RateLimit: "10/s", AllowIPs: []string{"10.0.0.0/8", "::1"}, Output: "table"})
	o = mustParse(t, testFactory(t, nil), NewCmdUpdate, "3f2a", "--no-rate-limit")
	wantInputs(t, o, UpdateOptions{Actor: "tester", Key: "3f2a", NoRateLimit: true, Output: "table"})
	o = mustParse(t, testFactory(t, nil), NewCmdUpdate, "3f2a", "--any-ip")
	wantInputs(t, o, UpdateOptions{Actor: "tester", Key: "3f2a", AnyIP: true, Output: "table"})
	refused(t, NewCmdUpdate, "nothing to change", "3f2a")
	refused(t, NewCmdUpdate, "--expires and --no-expiry cannot be used together", "3f2a", "--expires", "1d", "--no-expiry")
	refused(t, NewCmdUpdate, "--rate-limit and --no-rate-limit cannot be used together", "3f2a", "--rate-limit", "1/s", "--no-rate-limit")
	refused(t, NewCmdUpdate, "--allow-ip and --any-ip cannot be used together", "3f2a", "--allow-ip", "::1", "--any-ip")
	refused(t, NewCmdUpdate, "--rate-limit must not be empty", "3f2a", "--rate-limit", "")
	refused(t, NewCmdUpdate, "missing key", "--name", "x")
}

func TestRotateFlags(t *testing.T) {
	f := testFactory(t, map[string]string{"APIKEY_KEY_PREFIX": "acme", "APIKEY_HEADERS_COMPANY": "X-Tenant"})
	o := mustParse(t, f, NewCmdRotate, "3f2a", "--grace", "24h", "--format", "env", "-c", "Acme")
	wantInputs(t, o, RotateOptions{Actor: "tester", KeyPrefix: "acme", Snippet: SnippetSettings{KeyHeader: "X-Api-Key", CompanyHeader: "X-Tenant"},
		Key: "3f2a", Company: "Acme", Grace: "24h", Format: "env", FormatSet: true, Output: "table"})
	o = mustParse(t, testFactory(t, nil), NewCmdRotate, "3f2a", "-o", "json")
	wantInputs(t, o, RotateOptions{Actor: "tester", KeyPrefix: apikey.DefaultPrefix, Snippet: defaultSnippet,
		Key: "3f2a", Grace: "0", Format: "headers", Output: "json"})
	refused(t, NewCmdRotate, "missing key")
}

func TestDeleteFlags(t *testing.T) {
	o := mustParse(t, testFactory(t, map[string]string{"APIKEY_ACTOR": "alice"}), NewCmdDelete, "3f2a", "9c41", "-c", "Acme", "-y")
	wantInputs(t, o, DeleteOptions{Actor: "alice", Keys: []string{"3f2a", "9c41"}, Company: "Acme", Yes: true, Output: "table"})
	o = mustParse(t, testFactory(t, nil), NewCmdDelete, "--company", "Acme", "--status", "inactive", "--all", "--dry-run", "-o", "json")
	wantInputs(t, o, DeleteOptions{Actor: "tester", Keys: []string{}, Company: "Acme", Status: "inactive", All: true, DryRun: true, Output: "json"})
	o = mustParse(t, testFactory(t, map[string]string{"APIKEY_ACTOR": "alice"}), NewCmdDelete, "3f2a", "--actor", "bob")
	wantInputs(t, o, DeleteOptions{Actor: "bob", Keys: []string{"3f2a"}, Output: "table"})
	refused(t, NewCmdDelete, "missing key")
	refused(t, NewCmdDelete, "give keys or --company with --all, not both", "3f2a", "--company", "Acme", "--all")
	refused(t, NewCmdDelete, "--company needs --all", "--company", "Acme")
	refused(t, NewCmdDelete, "--all and --status need --company", "--all")
	refused(t, NewCmdDelete, "--company must not be empty", "--company", "", "--all")
	refused(t, NewCmdDelete, "key reference must not be empty", "")
}

func TestCompanyFlags(t *testing.T) {
	env := map[string]string{"APIKEY_ACTOR": "alice"}
	c := mustParse(t, testFactory(t, env), NewCmdCompanyCreate, "Acme", "--ref", "B-1", "-o", "json")
	wantInputs(t, c, CompanyCreateOptions{Actor: "alice", Name: "Acme", Ref: "B-1", Output: "json"})
	refused(t, NewCmdCompanyCreate, "missing company name")

	l := mustParse(t, testFactory(t, nil), NewCmdCompanyList, "-o", "csv")
	wantInputs(t, l, CompanyListOptions{Output: "csv"})

	s := mustParse(t, testFactory(t, nil), NewCmdCompanyShow, "Acme")
	wantInputs(t, s, CompanyShowOptions{Company: "Acme", Output: "table"})
	refused(t, NewCmdCompanyShow, "company reference must not be empty", "")

	u := mustParse(t, testFactory(t, env), NewCmdCompanyUpdate, "Acme", "--name", "Acme Corp", "-o", "json")
	wantInputs(t, u, CompanyUpdateOptions{Actor: "alice", Company: "Acme", Name: ptr("Acme Corp"), Output: "json"})
	u = mustParse(t, testFactory(t, nil), NewCmdCompanyUpdate, "Acme", "--ref", "")
	wantInputs(t, u, CompanyUpdateOptions{Actor: "tester", Company: "Acme", Ref: ptr(""), Output: "table"})
	refused(t, NewCmdCompanyUpdate, "nothing to change", "Acme")

	d := mustParse(t, testFactory(t, env), NewCmdCompanyDelete, "Acme", "Globex", "--cascade", "-y", "--dry-run", "-o", "json")
	wantInputs(t, d, CompanyDeleteOptions{Actor: "alice", Companies: []string{"Acme", "Globex"}, Cascade: true, Yes: true, DryRun: true, Output: "json"})
	d = mustParse(t, testFactory(t, nil), NewCmdCompanyDelete, "Acme")
	wantInputs(t, d, CompanyDeleteOptions{Actor: "tester", Companies: []string{"Acme"}, Output: "table"})
	refused(t, NewCmdCompanyDelete, "missing company")
}

func TestHistoryFlags(t *testing.T) {
	o := mustParse(t, testFactory(t, nil), NewCmdHistory)
	wantInputs(t, o, HistoryOptions{Limit: 50, Output: "table"})
	o = mustParse(t, testFactory(t, nil), NewCmdHistory, "3f2a", "-c", "Acme", "--limit", "0", "-o", "json")
	wantInputs(t, o, HistoryOptions{Key: "3f2a", Company: "Acme", Limit: 0, Output: "json"})
	refused(t, NewCmdHistory, `unexpected argument "9c41"`, "3f2a", "9c41")
	refused(t, NewCmdHistory, "--company must not be empty", "--company=")
}

func TestVerifyFlags(t *testing.T) {
	o := mustParse(t, testFactory(t, map[string]string{KeyEnv: "ak_secret"}), NewCmdVerify, "-c", "Acme", "-o", "json")
	wantInputs(t, o, VerifyOptions{EnvSecret: "ak_secret", Company: "Acme", Output: "json"})
	o = mustParse(t, testFactory(t, nil), NewCmdVerify)
	wantInputs(t, o, VerifyOptions{Output: "table"})
	refused(t, NewCmdVerify, "--company must not be empty", "--company", "")
}

func TestScanFlags(t *testing.T) {
	o := mustParse(t, testFactory(t, map[string]string{"APIKEY_ACTOR": "alice"}), NewCmdScan, "src", "-", "--disable", "-y", "-o", "sarif")
	wantInputs(t, o, ScanOptions{Actor: "alice", Paths: []string{"src", "-"}, Disable: true, Yes: true, Output: "sarif"})
	o = mustParse(t, testFactory(t, nil), NewCmdScan)
	wantInputs(t, o, ScanOptions{Actor: "tester", Paths: []string{}, Output: "table"})
}

func TestServeFlags(t *testing.T) {
	// serveInputs are the inputs of serve with the defaults of the
	// settings of its metrics, outages and log.
	serveInputs := func(addr, keyHeader, companyHeader string) ServeOptions {
		return ServeOptions{Addr: addr, KeyHeader: keyHeader, CompanyHeader: companyHeader, Metrics: true, Preload: true, StaleFor: 30 * time.Second, LogFormat: "text", LogLevel: slog.LevelInfo}
	}
	env := map[string]string{"APIKEY_SERVE_ADDR": "127.0.0.1:9001", "APIKEY_HEADERS_KEY": "X-Token"}
	o := mustParse(t, testFactory(t, env), NewCmdServe, "--addr", "0.0.0.0:9000")
	wantInputs(t, o, serveInputs("0.0.0.0:9000", "X-Token", "X-Company"))
	// Without --addr, the address is the configuration's: environment,
	// else file, else default.
	o = mustParse(t, testFactory(t, env), NewCmdServe)
	wantInputs(t, o, serveInputs("127.0.0.1:9001", "X-Token", "X-Company"))
	f := testFactory(t, nil)
	configFile(t, f, "serve:\n  addr: 127.0.0.1:9002\nheaders:\n  company: X-Tenant\n")
	o = mustParse(t, f, NewCmdServe)
	wantInputs(t, o, serveInputs("127.0.0.1:9002", "X-Api-Key", "X-Tenant"))
	f = testFactory(t, nil)
	other := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(other, []byte("serve:\n  addr: '[::1]:9003'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o = mustParse(t, f, NewCmdServe, "--config", other)
	wantInputs(t, o, serveInputs("[::1]:9003", "X-Api-Key", "X-Company"))
	o = mustParse(t, testFactory(t, nil), NewCmdServe)
	wantInputs(t, o, serveInputs("127.0.0.1:8787", "X-Api-Key", "X-Company"))
	// Trusted proxies, parsed: from the environment or the file.
	o = mustParse(t, testFactory(t, map[string]string{"APIKEY_SERVE_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1,::1"}), NewCmdServe)
	want := serveInputs("127.0.0.1:8787", "X-Api-Key", "X-Company")
	want.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
	wantInputs(t, o, want)
	f = testFactory(t, nil)
	configFile(t, f, "serve:\n  trusted_proxies: [192.0.2.0/24]\n")
	o = mustParse(t, f, NewCmdServe)
	want = serveInputs("127.0.0.1:8787", "X-Api-Key", "X-Company")
	want.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	wantInputs(t, o, want)
	refused(t, NewCmdServe, "invalid serve.addr", "--addr", "nonsense")
	refused(t, NewCmdServe, `unexpected argument "extra"`, "extra")

	// Metrics, stale_for and the log: flags beat the environment, which
	// beats the file.
	f = testFactory(t, nil)
	configFile(t, f, "serve:\n  metrics: false\n  preload: false\n  stale_for: 5m\n  log_format: json\n  log_level: error\n")
	o = mustParse(t, f, NewCmdServe)
	want = serveInputs("127.0.0.1:8787", "X-Api-Key", "X-Company")
	want.Metrics, want.Preload, want.StaleFor, want.LogFormat, want.LogLevel = false, false, 5*time.Minute, "json", slog.LevelError
	wantInputs(t, o, want)
	envFactory := func() *Factory {
		f := testFactory(t, map[string]string{"APIKEY_SERVE_METRICS": "yes", "APIKEY_SERVE_STALE_FOR": "0s", "APIKEY_SERVE_LOG_FORMAT": "json", "APIKEY_SERVE_LOG_LEVEL": "warn"})
		configFile(t, f, "serve:\n  metrics: false\n  stale_for: 5m\n")
		return f
	}
	o = mustParse(t, envFactory(), NewCmdServe)
	want = serveInputs("127.0.0.1:8787", "X-Api-Key", "X-Company")
	want.StaleFor, want.LogFormat, want.LogLevel = 0, "json", slog.LevelWarn
	wantInputs(t, o, want)
	o = mustParse(t, envFactory(), NewCmdServe, "--log-format", "text", "--log-level", "debug")
	want.LogFormat, want.LogLevel = "text", slog.LevelDebug
	wantInputs(t, o, want)
	refused(t, NewCmdServe, `invalid serve.log_format "yaml" (from --log-format)`, "--log-format", "yaml")
	refused(t, NewCmdServe, `invalid serve.log_level "trace" (from --log-level)`, "--log-level", "trace")
	refused(t, NewCmdServe, `invalid serve.log_level "" (from --log-level)`, "--log-level", "")
	o, err := parse(t, testFactory(t, map[string]string{"APIKEY_SERVE_STALE_FOR": "soon"}), NewCmdServe)
	if o != nil || apikey.KindOf(err) != apikey.KindUsage || !strings.HasPrefix(err.Error(), `invalid serve.stale_for "soon" (from APIKEY_SERVE_STALE_FOR)`) {
		t.Errorf("APIKEY_SERVE_STALE_FOR=soon: %v", err)
	}
}

func TestConfigFlags(t *testing.T) {
	show := func(f *Factory, runF func(context.Context, *ConfigShowOptions) error) *cobra.Command {
		return NewCmdConfigShow(f, func(o *ConfigShowOptions) error { return runF(context.Background(), o) })
	}
	o := mustParse(t, testFactory(t, nil), show, "-o", "json")
	wantInputs(t, o, ConfigShowOptions{Output: "json"})
	path := func(f *Factory, runF func(context.Context, *ConfigPathOptions) error) *cobra.Command {
		return NewCmdConfigPath(f, func(o *ConfigPathOptions) error { return runF(context.Background(), o) })
	}
	mustParse(t, testFactory(t, nil), path)
	refused(t, path, `unexpected argument "x"`, "x")
}

// TestStoreOpeners checks what each command is given besides its inputs:
// the Factory's streams, and every function set. Commands that only read
// open the store with ExistingStore, which creates none where --db points
// at nothing; commands that write create it.
func TestStoreOpeners(t *testing.T) {
	type opener = func(context.Context) (Store, error)
	// check parses args and returns the Options' store opener.
	check := func(t *testing.T, f *Factory, o any) opener {
		v := reflect.ValueOf(o).Elem()
		if io := v.FieldByName("IO"); io.Interface() != f.IO {
			t.Error("IO is not the Factory's streams")
		}
		for i := range v.NumField() {
			if v.Field(i).Kind() == reflect.Func && v.Field(i).IsNil() {
				t.Errorf("%s is not set", v.Type().Field(i).Name)
			}
		}
		return v.FieldByName("Store").Interface().(opener)
	}
	disable := func(f *Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
		return NewCmdStatus(f, disableVerb, runF)
	}
	for _, tc := range []struct {
		name   string
		writes bool
		parse  func(t *testing.T, f *Factory) any
	}{
		{"create", true, func(t *testing.T, f *Factory) any { return mustParse(t, f, NewCmdCreate) }},
		{"update", true, func(t *testing.T, f *Factory) any { return mustParse(t, f, NewCmdUpdate, "k", "--name", "n") }},
		{"rotate", true, func(t *testing.T, f *Factory) any { return mustParse(t, f, NewCmdRotate, "k") }},
		{"disable", true, func(t *testing.T, f *Factory) any { return mustParse(t, f, disable, "k") }},
		{"delete", true, func(t *testing.T, f *Factory) any { return mustParse(t, f, NewCmdDelete, "k") }},
		{"company create", true, func(t *testing.T, f *Factory) any { return mustParse(t, f, NewCmdCompanyCreate, "c") }},
		{"company update", true, func(t *testing.T, f *Factory) any { return mustParse(t, f, NewCmdCompanyUpdate, "c", "--ref", "") }},
		{"company delete", true, func(t *testing.T, f *Factory) any { return mustParse(t, f, NewCmdCompanyDelete, "c") }},
		{"list", false, func(t *testing.T, f *Factory) any { return mustParse(t, f, NewCmdList) }},
		{"show", false, func(t *testing.T, f *Factory) any { return mustParse(t, f, NewCmdShow, "k") }},
		{"history", false, func(t *testing.T, f *Factory) any { return mustParse(t, f, NewCmdHistory) }},
		{"company list", false, func(t *testing.T, f *Factory) any { return mustParse(t, f, NewCmdCompanyList) }},
		{"company show", false, func(t *testing.T, f *Factory) any { return mustParse(t, f, NewCmdCompanyShow, "c") }},
		{"verify", false, func(t *testing.T, f *Factory) any { return mustParse(t, f, NewCmdVerify) }},
		{"serve", false, func(t *testing.T, f *Factory) any { return mustParse(t, f, NewCmdServe) }},
		{"scan", false, func(t *testing.T, f *Factory) any { return mustParse(t, f, NewCmdScan) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "apikey.db")
			f := testFactory(t, map[string]string{"APIKEY_DB": db})
			open := check(t, f, tc.parse(t, f))
			st, err := open(context.Background())
			_, statErr := os.Stat(db)
			switch {
			case tc.writes && (err != nil || st == nil || statErr != nil):
				t.Errorf("a writer could not create the store: %v", err)
			case !tc.writes && (err == nil || statErr == nil):
				t.Errorf("a reader created a store where there was none")
			}
		})
	}
}
