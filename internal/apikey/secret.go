package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"hash/crc32"
	"strings"
)

// The secret format, after GitHub's tokens: <prefix>_<40 random base62><6
// base62 CRC32 of everything before it>. The checksum lets verify reject a
// mistyped or truncated key without a store lookup, and lets secret scanners
// tell real keys from look-alikes.
const (
	DefaultPrefix  = "ak"
	randomLen      = 40
	checksumLen    = 6
	secretBodyLen  = randomLen + checksumLen
	maxPrefixLen   = 16
	MaxSecretLen   = maxPrefixLen + 1 + secretBodyLen
	base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// validPrefix reports whether p matches [a-z][a-z0-9_]{0,15}. It is written
// out rather than a regexp: verify checks it on every presented secret, and
// a regexp compiled at start-up costs every command, even `version`.
func validPrefix(p string) bool {
	if len(p) == 0 || len(p) > maxPrefixLen || p[0] < 'a' || p[0] > 'z' {
		return false
	}
	for i := 1; i < len(p); i++ {
		if c := p[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// ValidatePrefix checks a configured key prefix.
func ValidatePrefix(p string) error {
	if !validPrefix(p) {
		return Usagef("invalid key prefix %q", p).WithHint("it must match [a-z][a-z0-9_]{0,15}")
	}
	return nil
}

// Hash is the SHA-256 of a secret: the only form in which a secret is looked up
// or stored.
type Hash [sha256.Size]byte

// HashSecret returns the hash under which secret is stored.
func HashSecret(secret string) Hash {
	// A secret that fits is copied to the stack, which spares the server an
	// allocation per request.
	var buf [MaxSecretLen]byte
	if len(secret) <= len(buf) {
		return sha256.Sum256(buf[:copy(buf[:], secret)])
	}
	return sha256.Sum256([]byte(secret))
}

// NewSecret returns a fresh secret with the given prefix.
func NewSecret(prefix string) (string, error) {
	if err := ValidatePrefix(prefix); err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(prefix) + 1 + secretBodyLen)
	b.WriteString(prefix)
	b.WriteByte('_')
	// Rejection sampling keeps every character uniformly likely: bytes of 248
	// and above would favour the first characters of the alphabet.
	buf := make([]byte, 64)
	n := 0
	for n < randomLen {
		if _, err := rand.Read(buf); err != nil {
			return "", Runtimef("cannot read random bytes: %v", err)
		}
		for _, c := range buf {
			if c >= 248 || n == randomLen {
				continue
			}
			b.WriteByte(base62Alphabet[c%62])
			n++
		}
	}
	b.WriteString(checksum(b.String()))
	return b.String(), nil
}

func checksum(s string) string {
	c := checksumOf(s)
	return string(c[:])
}

func checksumOf(s string) [checksumLen]byte {
	// Byte by byte over the string: a secret is short, and this costs no
	// allocation, which crc32.ChecksumIEEE([]byte(s)) does.
	v := ^uint32(0)
	for i := 0; i < len(s); i++ {
		v = crc32.IEEETable[byte(v)^s[i]] ^ v>>8
	}
	v = ^v
	var out [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = base62Alphabet[v%62]
		v /= 62
	}
	return out
}

// isBase62 tells the characters of the alphabet by table: CheckSecret runs
// on every request a server answers.
var isBase62 = func() (t [256]bool) {
	for i := range len(base62Alphabet) {
		t[base62Alphabet[i]] = true
	}
	return t
}()

// ErrMalformed is the reason given for a presented secret that is not of the
// format, or whose checksum does not match.
var ErrMalformed = &Error{Kind: KindInvalid, Msg: "malformed key"}

// CheckSecret reports whether s has the form of a secret with a valid
// checksum. It never touches a store.
func CheckSecret(s string) error {
	if len(s) < 1+1+secretBodyLen || len(s) > MaxSecretLen {
		return ErrMalformed
	}
	sep := len(s) - secretBodyLen - 1
	if s[sep] != '_' || !validPrefix(s[:sep]) {
		return ErrMalformed
	}
	for i := sep + 1; i < len(s); i++ {
		if !isBase62[s[i]] {
			return ErrMalformed
		}
	}
	if c := checksumOf(s[:len(s)-checksumLen]); string(c[:]) != s[len(s)-checksumLen:] {
		return ErrMalformed
	}
	return nil
}

// HintOf returns what may be shown of a secret: its prefix, the first four and
// the last four characters of its random part, e.g. ak_3f9Q…d9x2.
func HintOf(secret string) string {
	sep := strings.LastIndexByte(secret, '_')
	if sep < 0 || len(secret)-sep-1 < 8 {
		return "…"
	}
	return secret[:sep+1+4] + "…" + secret[len(secret)-4:]
}

// SecretMaterial is what is stored of a new secret: its hash, its hint and,
// with a master key, its sealed copy. The secret itself is not part of it.
type SecretMaterial struct {
	Hash   Hash
	Hint   string
	Sealed []byte // nil without a master key
	// Legacy marks a secret of another system's format (LegacyMaterial):
	// verification looks such secrets up only while the store has some.
	Legacy bool
}

// MintSecret makes a new secret for the key keyID and what is stored of it.
func MintSecret(prefix, keyID string, sealer *Sealer) (string, SecretMaterial, error) {
	secret, err := NewSecret(prefix)
	if err != nil {
		return "", SecretMaterial{}, err
	}
	m := SecretMaterial{Hash: HashSecret(secret), Hint: HintOf(secret)}
	if sealer != nil {
		if m.Sealed, err = sealer.Seal(keyID, secret); err != nil {
			return "", SecretMaterial{}, err
		}
	}
	return secret, m, nil
}
