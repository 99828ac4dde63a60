package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
)

func envOf(m map[string]string) Env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func flagsOf(m map[string]string) Flags {
	return func(name string) (string, bool) { v, ok := m[name]; return v, ok }
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HOME": dir, "XDG_DATA_HOME": filepath.Join(dir, "data"), "XDG_CONFIG_HOME": filepath.Join(dir, "cfg")}
	c, err := Load("", envOf(env), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"db":               filepath.Join(dir, "data", "apikey", "apikey.db"),
		"key_prefix":       "ak",
		"headers.key":      "X-Api-Key",
		"headers.company":  "X-Company",
		"api_url":          "",
		"serve.addr":       "127.0.0.1:8787",
		"serve.metrics":    "true",
		"serve.preload":    "true",
		"serve.stale_for":  "30s",
		"serve.log_format": "text",
		"serve.log_level":  "info",
		"no_input":         "false",
	}
	for k, v := range want {
		if got := c.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if c.Get("actor") == "" {
		t.Error("no default actor")
	}
	if c.File != filepath.Join(dir, "cfg", "apikey", "config.yaml") || c.FileUsed {
		t.Errorf("File %q used=%v", c.File, c.FileUsed)
	}
	vals := c.Values()
	if len(vals) != len(Settings) || vals[0].Key != "db" {
		t.Fatalf("Values: %+v", vals)
	}
	for _, v := range vals {
		if v.Source != SourceDefault && v.Key != "actor" {
			t.Errorf("%s: source %q", v.Key, v.Source)
		}
	}

	// Without XDG variables (or with relative ones, which the spec ignores):
	// under HOME.
	for _, xdg := range []map[string]string{{}, {"XDG_DATA_HOME": "rel", "XDG_CONFIG_HOME": "rel"}} {
		xdg["HOME"] = dir
		c, err = Load("", envOf(xdg), nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Get("db") != filepath.Join(dir, ".local", "share", "apikey", "apikey.db") || c.File != filepath.Join(dir, ".config", "apikey", "config.yaml") {
			t.Errorf("%v: db %q, file %q", xdg, c.Get("db"), c.File)
		}
	}
}

// TestPrecedence: flag > environment > file > default, each value saying
// where it came from.
func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "cfg/apikey/config.yaml", `
db: /from/file.db
key_prefix: filepfx
actor: fileactor
api_url: https://api.example.test
headers:
  key: X-File-Key
  company: X-File-Company
serve:
  addr: 0.0.0.0:9000
`)
	base := map[string]string{"HOME": dir, "XDG_CONFIG_HOME": filepath.Join(dir, "cfg")}
	c, err := Load("", envOf(base), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.FileUsed || c.File != file {
		t.Fatalf("file %q used=%v", c.File, c.FileUsed)
	}
	for k, v := range map[string]string{"db": "/from/file.db", "key_prefix": "filepfx", "actor": "fileactor", "headers.key": "X-File-Key", "headers.company": "X-File-Company", "serve.addr": "0.0.0.0:9000", "api_url": "https://api.example.test"} {
		if c.Get(k) != v {
			t.Errorf("%s = %q, want %q from the file", k, c.Get(k), v)
		}
		if val := c.values[k]; val.Source != SourceFile || val.Origin != file {
			t.Errorf("%s: source %q origin %q", k, val.Source, val.Origin)
		}
	}

	env := map[string]string{"APIKEY_DB": "/from/env.db", "APIKEY_ACTOR": "envactor", "APIKEY_HEADERS_KEY": "X-Env-Key", "APIKEY_SERVE_ADDR": "127.0.0.1:1"}
	for k, v := range base {
		env[k] = v
	}
	c, err = Load("", envOf(env), flagsOf(map[string]string{"db": "/from/flag.db", "addr": ":2"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []Value{
		{Key: "db", Value: "/from/flag.db", Source: SourceFlag, Origin: "--db"},
		{Key: "serve.addr", Value: ":2", Source: SourceFlag, Origin: "--addr"},
		{Key: "actor", Value: "envactor", Source: SourceEnv, Origin: "APIKEY_ACTOR"},
		{Key: "headers.key", Value: "X-Env-Key", Source: SourceEnv, Origin: "APIKEY_HEADERS_KEY"},
		{Key: "key_prefix", Value: "filepfx", Source: SourceFile, Origin: file},
		{Key: "no_input", Value: "false", Source: SourceDefault},
	} {
		if got := c.values[w.Key]; got != w {
			t.Errorf("%s = %+v, want %+v", w.Key, got, w)
		}
	}

	// An empty variable counts as unset.
	env["APIKEY_DB"] = ""
	c, err = Load("", envOf(env), nil)
	if err != nil || c.Get("db") != "/from/file.db" {
		t.Errorf("empty APIKEY_DB: %q, %v", c.Get("db"), err)
	}
}

func TestConfigFileChoice(t *testing.T) {
	dir := t.TempDir()
	flagFile := writeFile(t, dir, "flag.yaml", "key_prefix: flagfile\n")
	envFile := writeFile(t, dir, "env.yaml", "key_prefix: envfile\n")
	env := map[string]string{"HOME": dir, "APIKEY_CONFIG": envFile}
	c, err := Load(flagFile, envOf(env), nil)
	if err != nil || c.Get("key_prefix") != "flagfile" || c.File != flagFile {
		t.Errorf("--config: %q from %q, %v", c.Get("key_prefix"), c.File, err)
	}
	c, err = Load("", envOf(env), nil)
	if err != nil || c.Get("key_prefix") != "envfile" {
		t.Errorf("APIKEY_CONFIG: %q, %v", c.Get("key_prefix"), err)
	}
	// A missing default file is fine; a missing file asked for is not.
	if _, err := Load("", envOf(map[string]string{"HOME": dir}), nil); err != nil {
		t.Errorf("missing default file: %v", err)
	}
	for _, missing := range []func() (*Config, error){
		func() (*Config, error) { return Load(filepath.Join(dir, "nope.yaml"), envOf(env), nil) },
		func() (*Config, error) {
			return Load("", envOf(map[string]string{"HOME": dir, "APIKEY_CONFIG": filepath.Join(dir, "nope.yaml")}), nil)
		},
	} {
		_, err := missing()
		if err == nil || apikey.KindOf(err) != apikey.KindUsage || !strings.Contains(err.Error(), "nope.yaml does not exist") {
			t.Errorf("missing explicit file: %v", err)
		}
	}
}

// TestFileErrors: a file that cannot be used is one line naming it.
func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unclosed.yaml": "key_prefix: [unclosed\n",
		"tabs.yaml":     "headers:\n\tkey: X\n",
		"scalar.yaml":   "just a string\n",
		"binary.yaml":   "\x00\x01\x02\xff",
		"dup.yaml":      "actor: a\nactor: b\n",
	} {
		p := writeFile(t, dir, name, body)
		_, err := Load(p, envOf(map[string]string{"HOME": dir}), nil)
		if err == nil {
			t.Errorf("%s: loaded", name)
			continue
		}
		msg := err.Error()
		if apikey.KindOf(err) != apikey.KindUsage || !strings.HasPrefix(msg, "config file "+p+" does not parse: ") || strings.ContainsAny(msg, "\n\r") {
			t.Errorf("%s: %q (kind %v)", name, msg, apikey.KindOf(err))
		}
	}
	if _, err := Load(dir, envOf(map[string]string{"HOME": dir}), nil); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("a directory as config file: %v", err)
	}
}

func TestUnknownSettingsWarn(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "c.yaml", "colour: true\nheaders:\n  key: X-K\n  extra: 1\n")
	c, err := Load(p, envOf(map[string]string{"HOME": dir}), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`unknown setting "colour" in ` + p, `unknown setting "headers.extra" in ` + p}
	if strings.Join(c.Warnings, "|") != strings.Join(want, "|") && strings.Join(c.Warnings, "|") != want[1]+"|"+want[0] {
		t.Errorf("warnings %q, want %q", c.Warnings, want)
	}
	if c.Get("headers.key") != "X-K" {
		t.Errorf("known setting beside unknown ones: %q", c.Get("headers.key"))
	}
}

func TestInvalidValues(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		env  map[string]string
		text string
	}{
		{map[string]string{"APIKEY_KEY_PREFIX": "Acme"}, `invalid key_prefix "Acme" (from APIKEY_KEY_PREFIX): it must match [a-z][a-z0-9_]{0,15}`},
		{map[string]string{"APIKEY_KEY_PREFIX": "a-b"}, "invalid key_prefix"},
		{map[string]string{"APIKEY_KEY_PREFIX": "abcdefghijklmnopq"}, "invalid key_prefix"},
		{map[string]string{"APIKEY_HEADERS_KEY": "X Api Key"}, `invalid headers.key "X Api Key" (from APIKEY_HEADERS_KEY): it must be an HTTP header name`},
		{map[string]string{"APIKEY_HEADERS_KEY": "X-Key:"}, "invalid headers.key"},
		{map[string]string{"APIKEY_HEADERS_COMPANY": "x-api-key"}, "invalid headers.company"},
		{map[string]string{"APIKEY_HEADERS_COMPANY": "X-Ünïcode"}, "invalid headers.company"},
		{map[string]string{"APIKEY_HEADERS_COMPANY": "host"}, `invalid headers.company "host" (from APIKEY_HEADERS_COMPANY): HTTP itself manages Host`},
		{map[string]string{"APIKEY_HEADERS_COMPANY": "Content-Length"}, "invalid headers.company"},
		{map[string]string{"APIKEY_HEADERS_KEY": "te"}, `invalid headers.key "te" (from APIKEY_HEADERS_KEY): TE is a hop-by-hop header`},
		{map[string]string{"APIKEY_HEADERS_KEY": "Upgrade"}, "hop-by-hop"},
		{map[string]string{"APIKEY_HEADERS_KEY": "X-Company"}, "it must differ from headers.key"},
		{map[string]string{"APIKEY_API_URL": "ftp://x"}, "invalid api_url"},
		{map[string]string{"APIKEY_API_URL": "https://x/'; rm -rf ~"}, "invalid api_url"},
		{map[string]string{"APIKEY_API_URL": "api.example.com"}, "invalid api_url"},
		{map[string]string{"APIKEY_SERVE_ADDR": "8787"}, "invalid serve.addr"},
		{map[string]string{"APIKEY_NO_INPUT": "maybe"}, `invalid no_input "maybe"`},
		{map[string]string{"APIKEY_SERVE_METRICS": "sometimes"}, `invalid serve.metrics "sometimes" (from APIKEY_SERVE_METRICS): use true or false`},
		{map[string]string{"APIKEY_SERVE_STALE_FOR": "30"}, `invalid serve.stale_for "30" (from APIKEY_SERVE_STALE_FOR): use a duration such as 30s`},
		{map[string]string{"APIKEY_SERVE_STALE_FOR": "-1s"}, "invalid serve.stale_for"},
		{map[string]string{"APIKEY_SERVE_LOG_FORMAT": "logfmt"}, `invalid serve.log_format "logfmt" (from APIKEY_SERVE_LOG_FORMAT): use text or json`},
		{map[string]string{"APIKEY_SERVE_LOG_LEVEL": "verbose"}, `invalid serve.log_level "verbose" (from APIKEY_SERVE_LOG_LEVEL): use debug, info, warn or error`},
		{map[string]string{"APIKEY_ACTOR": "a\nb"}, "invalid actor"},
		{map[string]string{"APIKEY_ACTOR": " "}, "invalid actor"},
	} {
		c.env["HOME"] = dir
		_, err := Load("", envOf(c.env), nil)
		if err == nil || apikey.KindOf(err) != apikey.KindUsage || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%v: %v, want %q", c.env, err, c.text)
		}
	}
	_, err := Load("", envOf(map[string]string{"HOME": dir}), flagsOf(map[string]string{"db": ""}))
	if err == nil || !strings.Contains(err.Error(), `invalid db "" (from --db)`) {
		t.Errorf("--db '': %v", err)
	}
	p := writeFile(t, dir, "bad.yaml", "key_prefix: Nope\n")
	_, err = Load(p, envOf(map[string]string{"HOME": dir}), nil)
	if err == nil || !strings.Contains(err.Error(), "(from "+p+")") {
		t.Errorf("bad value in a file should name the file: %v", err)
	}
}

func TestBoolAndEnvName(t *testing.T) {
	for _, v := range []string{"1", "true", "YES", "on", " True "} {
		c, err := Load("", envOf(map[string]string{"HOME": t.TempDir(), "APIKEY_NO_INPUT": v}), nil)
		if err != nil || !c.Bool("no_input") {
			t.Errorf("APIKEY_NO_INPUT=%q: %v %v", v, c.Bool("no_input"), err)
		}
	}
	for key, want := range map[string]string{"db": "APIKEY_DB", "headers.key": "APIKEY_HEADERS_KEY", "serve.addr": "APIKEY_SERVE_ADDR", "key_prefix": "APIKEY_KEY_PREFIX"} {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestServeSettings: the settings of serve's metrics, outage and log, from a
// file, the environment and flags, typed as serve reads them.
func TestServeSettings(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "c.yaml", "serve:\n  metrics: false\n  stale_for: 2m\n  log_format: json\n  log_level: warn\n")
	c, err := Load(p, envOf(map[string]string{"HOME": dir}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Bool("serve.metrics") || c.Duration("serve.stale_for") != 2*time.Minute || c.Get("serve.log_format") != "json" || c.Get("serve.log_level") != "warn" {
		t.Errorf("from the file: metrics %v, stale_for %v, format %q, level %q", c.Bool("serve.metrics"), c.Duration("serve.stale_for"), c.Get("serve.log_format"), c.Get("serve.log_level"))
	}
	env := map[string]string{"HOME": dir, "APIKEY_SERVE_METRICS": "on", "APIKEY_SERVE_STALE_FOR": "0s", "APIKEY_SERVE_LOG_LEVEL": "debug"}
	c, err = Load(p, envOf(env), flagsOf(map[string]string{"log-format": "text", "log-level": "error"}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Bool("serve.metrics") || c.Duration("serve.stale_for") != 0 || c.Get("serve.log_format") != "text" || c.Get("serve.log_level") != "error" {
		t.Errorf("from env and flags: metrics %v, stale_for %v, format %q, level %q", c.Bool("serve.metrics"), c.Duration("serve.stale_for"), c.Get("serve.log_format"), c.Get("serve.log_level"))
	}
	if v := c.values["serve.log_level"]; v.Source != SourceFlag || v.Origin != "--log-level" {
		t.Errorf("serve.log_level from %s %s", v.Source, v.Origin)
	}
	if v := c.values["serve.stale_for"]; v.Source != SourceEnv || v.Origin != "APIKEY_SERVE_STALE_FOR" {
		t.Errorf("serve.stale_for from %s %s", v.Source, v.Origin)
	}
	c, err = Load("", envOf(map[string]string{"HOME": dir}), nil)
	if err != nil || !c.Bool("serve.metrics") || c.Duration("serve.stale_for") != DefaultStaleFor {
		t.Errorf("defaults: metrics %v, stale_for %v, %v", c.Bool("serve.metrics"), c.Duration("serve.stale_for"), err)
	}
}

func TestDatabaseTildeIsHome(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "c.yaml", "db: ~/keys/apikey.db\n")
	c, err := Load(p, envOf(map[string]string{"HOME": dir}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "keys", "apikey.db"); c.Get("db") != want {
		t.Errorf("db = %q, want %q", c.Get("db"), want)
	}
	c, err = Load("", envOf(map[string]string{"HOME": dir, "APIKEY_DB": "~user/x.db"}), nil)
	if err != nil || c.Get("db") != "~user/x.db" {
		t.Errorf("~user is left alone: %q, %v", c.Get("db"), err)
	}
}

// TestOnlyTheInjectedEnvironmentCounts: a variable in the process's own
// environment that the injected Env does not have changes nothing, so the
// value and the source that `config show` reports always agree. (viper's
// AutomaticEnv once let a real APIKEY_KEY_PREFIX win over the file while the
// source said "file".)
func TestOnlyTheInjectedEnvironmentCounts(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "c.yaml", "key_prefix: filepfx\nactor: fileactor\nheaders:\n  key: X-File-Key\nserve:\n  addr: 127.0.0.1:9000\n")
	for k, v := range map[string]string{
		"APIKEY_KEY_PREFIX": "procpfx", "APIKEY_ACTOR": "procactor", "APIKEY_HEADERS_KEY": "X-Proc-Key",
		"APIKEY_SERVE_ADDR": "127.0.0.1:1", "APIKEY_API_URL": "https://proc.example", "APIKEY_DB": "/proc.db",
		"APIKEY_NO_INPUT": "true", "APIKEY_ACCESSIBLE": "true",
	} {
		t.Setenv(k, v)
	}
	c, err := Load(file, envOf(map[string]string{"HOME": dir}), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range c.Values() {
		switch v.Source {
		case SourceFile:
			if v.Origin != file {
				t.Errorf("%s: origin %q", v.Key, v.Origin)
			}
		case SourceDefault:
		default:
			t.Errorf("%s: source %q, want file or default", v.Key, v.Source)
		}
	}
	for k, want := range map[string]string{
		"key_prefix": "filepfx", "actor": "fileactor", "headers.key": "X-File-Key", "serve.addr": "127.0.0.1:9000",
		"api_url": "", "db": DefaultDatabase(envOf(map[string]string{"HOME": dir})), "no_input": "false", "accessible": "false",
	} {
		if got := c.Get(k); got != want {
			t.Errorf("%s = %q (source %s), want %q: the process environment leaked in", k, got, c.values[k].Source, want)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	dir := t.TempDir()
	load := func(env map[string]string, file string) (*Config, error) {
		t.Helper()
		env["HOME"] = dir
		path := ""
		if file != "" {
			path = writeFile(t, t.TempDir(), "c.yaml", file)
		}
		return Load(path, envOf(env), nil)
	}
	prefixes := func(c *Config) string {
		var s []string
		for _, p := range c.Prefixes("serve.trusted_proxies") {
			s = append(s, p.String())
		}
		return strings.Join(s, " ")
	}
	// None by default: no proxy is believed.
	c, err := load(map[string]string{}, "")
	if err != nil || c.Get("serve.trusted_proxies") != "" || len(c.Prefixes("serve.trusted_proxies")) != 0 {
		t.Fatalf("default: %q, %v", c.Get("serve.trusted_proxies"), err)
	}
	// From the environment: comma-separated, spaces and empty items ignored;
	// bare addresses are /32 and /128, IPv4-mapped ones IPv4.
	c, err = load(map[string]string{"APIKEY_SERVE_TRUSTED_PROXIES": " 10.0.0.0/8, 127.0.0.1,,::1 ,::ffff:192.0.2.1"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := prefixes(c); got != "10.0.0.0/8 127.0.0.1/32 ::1/128 192.0.2.1/32" {
		t.Errorf("from the environment: %s", got)
	}
	if v := c.values["serve.trusted_proxies"]; v.Source != SourceEnv || v.Origin != "APIKEY_SERVE_TRUSTED_PROXIES" {
		t.Errorf("source %+v", v)
	}
	// From the file: a YAML list or a string.
	for _, file := range []string{"serve:\n  trusted_proxies: [10.1.0.0/16, 2001:db8::/32]\n", "serve:\n  trusted_proxies: 10.1.0.0/16,2001:db8::/32\n"} {
		c, err = load(map[string]string{}, file)
		if err != nil {
			t.Fatal(err)
		}
		if got := prefixes(c); got != "10.1.0.0/16 2001:db8::/32" || c.Get("serve.trusted_proxies") != "10.1.0.0/16,2001:db8::/32" {
			t.Errorf("%q: %s (%q)", file, got, c.Get("serve.trusted_proxies"))
		}
	}
	// Invalid: a usage error naming the setting, the item and the source.
	_, err = load(map[string]string{"APIKEY_SERVE_TRUSTED_PROXIES": "10.0.0.0/8,10.0.0.300"}, "")
	want := `invalid serve.trusted_proxies "10.0.0.0/8,10.0.0.300" (from APIKEY_SERVE_TRUSTED_PROXIES): "10.0.0.300" is neither an address nor a CIDR`
	if apikey.KindOf(err) != apikey.KindUsage || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want %s", err, want)
	}
	for _, file := range []string{"serve:\n  trusted_proxies: [10.0.0.0/33]\n", "serve:\n  trusted_proxies: proxy.internal\n"} {
		_, err = load(map[string]string{}, file)
		if apikey.KindOf(err) != apikey.KindUsage || !strings.Contains(err.Error(), "invalid serve.trusted_proxies") || !strings.Contains(err.Error(), "c.yaml)") {
			t.Errorf("%q: %v", file, err)
		}
	}
}
