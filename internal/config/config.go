// Package config finds apikey's files and works out the effective value of
// every setting, and where it came from: flag > APIKEY_* environment > config
// file > default.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/textproto"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/apikeyhq/apikey/internal/apikey"
	"github.com/spf13/viper"
)

// EnvPrefix starts the name of every environment variable apikey reads.
const EnvPrefix = "APIKEY"

// Where a value came from.
const (
	SourceFlag    = "flag"
	SourceEnv     = "env"
	SourceFile    = "file"
	SourceDefault = "default"
)

// Setting describes one configuration key.
type Setting struct {
	Key  string
	Flag string // the flag that sets it, "" when none
	Help string
}

// Settings are the configuration keys, in the order `config show` prints them.
var Settings = []Setting{
	{Key: "db", Flag: "db", Help: "the store: a SQLite file's path, or a postgres:// URL"},
	{Key: "key_prefix", Help: "prefix of new secrets"},
	{Key: "headers.key", Help: "header that carries the key"},
	{Key: "headers.company", Help: "header that carries the company id"},
	{Key: "actor", Flag: "actor", Help: "who is recorded in the audit trail"},
	{Key: "api_url", Help: "base URL of your API, used by the curl snippet"},
	{Key: "serve.addr", Flag: "addr", Help: "address that serve listens on"},
	{Key: "serve.trusted_proxies", Help: "addresses or CIDRs of the proxies whose X-Forwarded-For and X-Real-IP serve believes"},
	{Key: "serve.metrics", Help: "whether serve answers GET /metrics"},
	{Key: "serve.preload", Help: "whether serve loads every key into memory before it answers"},
	{Key: "serve.stale_for", Help: "how long serve answers from memory while the store cannot be read"},
	{Key: "serve.log_format", Flag: "log-format", Help: "format of serve's log: text or json"},
	{Key: "serve.log_level", Flag: "log-level", Help: "least level serve logs: debug, info, warn or error"},
	{Key: "no_input", Flag: "no-input", Help: "never prompt"},
	{Key: "accessible", Help: "prompts for screen readers"},
}

// Value is the effective value of one setting.
type Value struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"`
	Origin string `json:"origin"` // the flag, variable or file it came from
}

// Config is the effective configuration.
type Config struct {
	File     string // the config file read, or that would be read
	FileUsed bool   // whether it exists and was read
	Warnings []string
	values   map[string]Value
}

// Get returns the effective value of key.
func (c *Config) Get(key string) string { return c.values[key].Value }

// Bool returns the effective value of key as a boolean.
func (c *Config) Bool(key string) bool { return truthy(c.values[key].Value) }

// Duration returns the effective value of key as a duration; validation
// refused one that does not parse.
func (c *Config) Duration(key string) time.Duration {
	d, _ := time.ParseDuration(c.values[key].Value)
	return d
}

// DefaultStaleFor is how long serve answers from memory, by default, while
// the store cannot be read: long enough to ride out a PostgreSQL failover or
// restart, short enough that a key revoked where this server cannot see it
// works for at most half a minute more. docs/decisions.md says why.
const DefaultStaleFor = 30 * time.Second

// Values returns every setting's effective value in the order of Settings,
// to be shown: a password in the store's URL is masked.
func (c *Config) Values() []Value {
	out := make([]Value, 0, len(Settings))
	for _, s := range Settings {
		v := c.values[s.Key]
		if s.Key == "db" {
			v.Value = RedactURL(v.Value)
		}
		out = append(out, v)
	}
	return out
}

// RedactURL masks the password of a URL (in its user part or a password
// parameter) as xxxxx; anything else is returned as it is.
func RedactURL(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		// Unreadable: keep only the scheme, as what follows it may
		// hold the password.
		scheme, _, _ := strings.Cut(s, "://")
		return scheme + "://…"
	}
	if _, set := u.User.Password(); set {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Env looks an environment variable up; os.LookupEnv in production.
type Env func(string) (string, bool)

// Flags reports the value of a flag the user set on the command line.
type Flags func(name string) (value string, set bool)

// EnvName is the environment variable of a key: APIKEY_ + upper case, . as _.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Load works out the effective configuration. configFlag is the --config
// value ("" when not given).
func Load(configFlag string, env Env, flags Flags) (*Config, error) {
	c := &Config{values: map[string]Value{}}
	explicit := configFlag != ""
	c.File = configFlag
	if !explicit {
		if v, ok := env(EnvName("config")); ok && v != "" {
			c.File, explicit = v, true
		} else {
			c.File = DefaultConfigFile(env)
		}
	}
	// viper reads the file only. Its AutomaticEnv would read the process's
	// environment behind env's back, and a variable it found would then be
	// reported as coming from the file: the environment is env, read below.
	v := viper.New()
	v.SetConfigType("yaml")
	if c.File != "" {
		err := readFile(v, c.File)
		switch {
		case err == nil:
			c.FileUsed = true
		case errors.Is(err, fs.ErrNotExist) && !explicit:
		case errors.Is(err, fs.ErrNotExist):
			return nil, apikey.Usagef("config file %s does not exist", c.File)
		default:
			return nil, err
		}
	}
	defaults := map[string]string{
		"db":               DefaultDatabase(env),
		"key_prefix":       apikey.DefaultPrefix,
		"headers.key":      "X-Api-Key",
		"headers.company":  "X-Company",
		"actor":            osUser(env),
		"api_url":          "",
		"serve.addr":       "127.0.0.1:8787",
		"serve.metrics":    "true",
		"serve.preload":    "true",
		"serve.stale_for":  DefaultStaleFor.String(),
		"serve.log_format": "text",
		"serve.log_level":  "info",
		"no_input":         "false",
		"accessible":       "false",
	}
	known := map[string]bool{}
	for _, s := range Settings {
		known[s.Key] = true
		val := Value{Key: s.Key}
		if fv, ok := flagValue(flags, s.Flag); ok {
			val.Value, val.Source, val.Origin = fv, SourceFlag, "--"+s.Flag
		} else if ev, ok := env(EnvName(s.Key)); ok && ev != "" {
			// An empty variable counts as unset, as for APIKEY_CONFIG:
			// `APIKEY_DB= apikey list` means the default, not an error.
			val.Value, val.Source, val.Origin = ev, SourceEnv, EnvName(s.Key)
		} else if c.FileUsed && v.InConfig(s.Key) {
			val.Value, val.Source, val.Origin = fileString(v, s.Key), SourceFile, c.File
		} else {
			val.Value, val.Source = defaults[s.Key], SourceDefault
		}
		c.values[s.Key] = val
	}
	// A config file is not expanded by a shell: `db: ~/apikey.db` would
	// otherwise create a directory named "~" wherever apikey runs.
	if db := c.values["db"]; db.Value == "~" || strings.HasPrefix(db.Value, "~/") {
		db.Value = filepath.Join(home(env), db.Value[1:])
		c.values["db"] = db
	}
	if c.FileUsed {
		for _, k := range v.AllKeys() {
			if v.InConfig(k) && !known[k] {
				c.Warnings = append(c.Warnings, fmt.Sprintf("unknown setting %q in %s", k, c.File))
			}
		}
	}
	return c, c.validate()
}

// fileString is the value of key in the config file as a string; a YAML
// list (serve.trusted_proxies) is its items joined by commas, as a list is
// written in an environment variable.
func fileString(v *viper.Viper, key string) string {
	switch val := v.Get(key).(type) {
	case []any:
		items := make([]string, len(val))
		for i, item := range val {
			items[i] = fmt.Sprint(item)
		}
		return strings.Join(items, ",")
	}
	return v.GetString(key)
}

// List is the effective value of key as a list: its comma-separated items,
// trimmed, without empty ones.
func (c *Config) List(key string) []string {
	var out []string
	for item := range strings.SplitSeq(c.Get(key), ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Prefixes is the effective value of key, a list of addresses and CIDRs that
// Load has checked, as network prefixes (a bare address is a /32 or /128).
func (c *Config) Prefixes(key string) []netip.Prefix {
	var out []netip.Prefix
	for _, item := range c.List(key) {
		if p, err := apikey.ParseAllowedIPs([]string{item}); err == nil {
			out = append(out, netip.MustParsePrefix(p[0]))
		}
	}
	return out
}

func flagValue(flags Flags, name string) (string, bool) {
	if name == "" || flags == nil {
		return "", false
	}
	return flags(name)
}

func readFile(v *viper.Viper, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return apikey.Usagef("cannot read config file %s: %v", path, unwrapPath(err))
	}
	if fi.IsDir() {
		return apikey.Usagef("config file %s is a directory", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return apikey.Usagef("cannot read config file %s: %v", path, unwrapPath(err))
	}
	defer f.Close()
	if err := v.ReadConfig(f); err != nil {
		return apikey.Usagef("config file %s does not parse: %s", path, oneLine(err.Error()))
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func oneLine(s string) string {
	s = strings.TrimPrefix(s, "While parsing config: ")
	return strings.Join(strings.Fields(s), " ")
}

// headerName reports whether s is an RFC 9110 field name (a token) of at
// most 64 characters. Written out rather than a regexp, which every command
// would compile at start-up.
func headerName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// reservedHeader says why a header cannot carry the key or the company, or
// returns "". Go's HTTP server never shows Host, Transfer-Encoding or Trailer
// to a handler (and checks Content-Length itself), proxies drop hop-by-hop
// headers before they reach serve, Authorization already carries a Bearer key,
// and /v1/auth answers with its own three headers, which a gateway copies onto
// the request it passes on. With any of these, serve would never see the value
// the client sent (the company would go unchecked without a word) or would see
// one the gateway wrote.
func reservedHeader(name string) string {
	canonical := textproto.CanonicalMIMEHeaderKey(name)
	switch canonical {
	case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
		return "HTTP itself manages " + canonical + ", and serve would never see the value a client sent"
	case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Upgrade", "Proxy-Authorization", "Proxy-Authenticate":
		if canonical == "Te" {
			canonical = "TE"
		}
		return canonical + " is a hop-by-hop header that proxies remove"
	case "Authorization":
		return "serve reads Authorization: Bearer as the key already"
	case "X-Apikey-Id", "X-Apikey-Name", "X-Company-Id":
		return "it is a header that serve's /v1/auth answers with"
	}
	return ""
}

func (c *Config) validate() error {
	bad := func(key, why string) error {
		val := c.values[key]
		from := val.Origin
		if from == "" {
			from = val.Source
		}
		return apikey.Usagef("invalid %s %q (from %s)", key, val.Value, from).WithHint(why)
	}
	if c.Get("db") == "" {
		return bad("db", "give a file path")
	}
	if apikey.ValidatePrefix(c.Get("key_prefix")) != nil {
		return bad("key_prefix", "it must match [a-z][a-z0-9_]{0,15}")
	}
	for _, k := range []string{"headers.key", "headers.company"} {
		if !headerName(c.Get(k)) {
			return bad(k, "it must be an HTTP header name such as X-Api-Key")
		}
		if why := reservedHeader(c.Get(k)); why != "" {
			return bad(k, why+"; use a header of your own such as "+map[string]string{"headers.key": "X-Api-Key", "headers.company": "X-Company"}[k])
		}
	}
	if strings.EqualFold(c.Get("headers.key"), c.Get("headers.company")) {
		return bad("headers.company", "it must differ from headers.key")
	}
	if u := c.Get("api_url"); u != "" {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || strings.ContainsAny(u, " \t\r\n'\"\\") {
			return bad("api_url", "it must be an http or https URL")
		}
	}
	if _, _, err := net.SplitHostPort(c.Get("serve.addr")); err != nil {
		return bad("serve.addr", "use host:port, e.g. 127.0.0.1:8787")
	}
	for _, item := range c.List("serve.trusted_proxies") {
		if _, err := apikey.ParseAllowedIPs([]string{item}); err != nil {
			return bad("serve.trusted_proxies", fmt.Sprintf("%q is neither an address nor a CIDR; give addresses or CIDRs separated by commas, such as 10.0.0.0/8,127.0.0.1", item))
		}
	}
	for _, k := range []string{"no_input", "accessible", "serve.metrics", "serve.preload"} {
		if _, ok := parseBool(c.Get(k)); !ok {
			return bad(k, "use true or false")
		}
	}
	if d, err := time.ParseDuration(c.Get("serve.stale_for")); err != nil || d < 0 {
		return bad("serve.stale_for", "use a duration such as 30s, 5m or 0s")
	}
	if f := c.Get("serve.log_format"); f != "text" && f != "json" {
		return bad("serve.log_format", "use text or json")
	}
	switch c.Get("serve.log_level") {
	case "debug", "info", "warn", "error":
	default:
		return bad("serve.log_level", "use debug, info, warn or error")
	}
	if err := apikey.ValidateActor(c.Get("actor")); err != nil {
		return bad("actor", err.Error())
	}
	return nil
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true, true
	case "", "0", "false", "no", "off":
		return false, true
	}
	return false, false
}

func truthy(s string) bool { b, _ := parseBool(s); return b }

// DefaultDatabase is $XDG_DATA_HOME/apikey/apikey.db, else
// ~/.local/share/apikey/apikey.db.
func DefaultDatabase(env Env) string {
	if d, ok := env("XDG_DATA_HOME"); ok && filepath.IsAbs(d) {
		return filepath.Join(d, "apikey", "apikey.db")
	}
	return filepath.Join(home(env), ".local", "share", "apikey", "apikey.db")
}

// DefaultConfigFile is $XDG_CONFIG_HOME/apikey/config.yaml, else
// ~/.config/apikey/config.yaml.
func DefaultConfigFile(env Env) string {
	if d, ok := env("XDG_CONFIG_HOME"); ok && filepath.IsAbs(d) {
		return filepath.Join(d, "apikey", "config.yaml")
	}
	return filepath.Join(home(env), ".config", "apikey", "config.yaml")
}

func home(env Env) string {
	if h, ok := env("HOME"); ok && h != "" {
		return h
	}
	// The account's home from the user database, not os.UserHomeDir, which
	// would read $HOME from the process's environment rather than from env.
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		return u.HomeDir
	}
	return "."
}

func osUser(env Env) string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, k := range []string{"USER", "USERNAME", "LOGNAME"} {
		if v, ok := env(k); ok && v != "" {
			return v
		}
	}
	return "unknown"
}
