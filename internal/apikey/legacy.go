package apikey

// Legacy secrets are those of a system that apikey replaces, brought in by
// `import --plaintext` so that customers keep the keys they hold. They are
// stored as apikey's own are (their SHA-256 only) and found by that hash;
// they have no checksum, so verify and serve tell them from a mistyped
// apikey secret by their shape alone.
const (
	// MinLegacySecretLen is the shortest legacy secret accepted: with 16
	// characters of a random secret's alphabet, guessing stays out of
	// reach; shorter ones are passwords, not keys.
	MinLegacySecretLen = 16
	// MaxLegacySecretLen is the longest: long enough for any API key
	// format in use, short enough to fit a header.
	MaxLegacySecretLen = 256
)

// HasSecretShape reports whether s has the form of apikey's secrets, a
// valid prefix, "_" and 46 base62 characters, whether or not its checksum
// matches. Such a secret is always judged by its checksum: one that fails
// it is a mistyped apikey secret, never a legacy one.
func HasSecretShape(s string) bool {
	if len(s) < 1+1+secretBodyLen || len(s) > MaxSecretLen {
		return false
	}
	sep := len(s) - secretBodyLen - 1
	if s[sep] != '_' || !validPrefix(s[:sep]) {
		return false
	}
	for i := sep + 1; i < len(s); i++ {
		if !isBase62[s[i]] {
			return false
		}
	}
	return true
}

// legacyChars reports whether s holds only printable ASCII without spaces,
// the characters a legacy secret may have: what fits a header unquoted and
// a CSV cell, and what every terminal shows the same.
func legacyChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// ValidateLegacySecret checks a secret to be imported from another system.
// Its messages never quote it.
func ValidateLegacySecret(s string) error {
	switch {
	case s == "":
		return Usagef("the secret is empty")
	case len(s) < MinLegacySecretLen:
		return Usagef("the secret is too short (%d characters)", len(s)).WithHint("a legacy secret has at least " + itoa(MinLegacySecretLen))
	case len(s) > MaxLegacySecretLen:
		return Usagef("the secret is too long (%d characters)", len(s)).WithHint("a legacy secret has at most " + itoa(MaxLegacySecretLen))
	case !legacyChars(s):
		return Usagef("the secret holds a space or a character that is not printable ASCII").WithHint("a legacy secret is printable ASCII without spaces")
	case HasSecretShape(s) && CheckSecret(s) != nil:
		// It would be refused as malformed without a look at the store.
		return Usagef("the secret has the form of an apikey secret but not its checksum").WithHint("it could never be verified")
	}
	return nil
}

// LegacyCandidate reports whether a presented secret that fails apikey's
// checksum may be a legacy one, worth a look at the store: not of apikey's
// shape (that is a mistyped apikey secret), and of a legacy secret's
// length and characters.
func LegacyCandidate(s string) bool {
	return len(s) >= MinLegacySecretLen && len(s) <= MaxLegacySecretLen && legacyChars(s) && !HasSecretShape(s)
}

// LegacyHint is what may be shown of a legacy secret: its first and last
// characters around "…", a quarter of it at most (four and four from 32
// characters on), since a legacy secret may be as short as 16 characters
// and has no prefix that is known to carry nothing secret.
func LegacyHint(s string) string {
	n := min(4, len(s)/8)
	return s[:n] + "…" + s[len(s)-n:]
}

// LegacyMaterial is what is stored of a legacy secret: its hash and hint,
// never the secret, and no sealed copy (rotate gives the key an apikey
// secret, which may be revealed).
func LegacyMaterial(s string) SecretMaterial {
	return SecretMaterial{Hash: HashSecret(s), Hint: LegacyHint(s), Legacy: true}
}
